/**
 * @module The commands that rebuild a slot's keys on another shard (a slot move's `import` entries:
 * node/slot-mover.ts): each key as the Redis commands that recreate it — a string by `SET … PXAT`, a hash by `DEL`,
 * `HSET`s of a bounded size and `PEXPIREAT` — read from the source's own replica, whose copy of the slot is final
 * while the slot is frozen. Batched into entries of at most IMPORT_ENTRY_BYTES, so no entry nears the proposal
 * limit and each apply stays short. Reads only; no I/O.
 */
import { Keyspace } from "../commands/keyspace/keyspace.js";
import type { StateMachineStore } from "../store/state-machine-store.js";
import { liveReader } from "./redis-operations.js";

/** Bytes of keys and values per import entry. */
export const IMPORT_ENTRY_BYTES = 512 * 1024;
/** Commands per import entry (well under COMMAND_LIMITS.redisCommandsCountMax). */
const IMPORT_ENTRY_COMMANDS = 2000;
/** Fields per HSET of a big hash's copy. */
const HASH_FIELDS_PER_COMMAND = 1000;
/** Keys read from the slot index per page. */
export const EXPORT_PAGE_KEYS = 256;

const encoder = new TextEncoder();
const arg = (text: string): Uint8Array => encoder.encode(text);

/** The commands that recreate `key` as the store holds it at `nowMs` (none when it is absent or expired). */
export function recreateCommands(store: StateMachineStore, key: Uint8Array, nowMs: number): Uint8Array[][] {
  const keyspace = new Keyspace(liveReader(store, nowMs), undefined, nowMs, store.revision());
  const record = keyspace.lookup(key);
  if (record === undefined) return [];
  const expiry = record.expiresAtMs;
  if (record.type === "string") {
    return [
      expiry === 0
        ? [arg("SET"), key, record.value]
        : [arg("SET"), key, record.value, arg("PXAT"), arg(String(expiry))],
    ];
  }
  const commands: Uint8Array[][] = [[arg("DEL"), key]];
  const hash = keyspace.hash(key);
  let cursor = 0n;
  do {
    const page = hash.scan(cursor, HASH_FIELDS_PER_COMMAND);
    // At most IMPORT_ENTRY_BYTES of fields and values per HSET (one field at least): 1000 fields of a megabyte
    // each in one HSET would be an entry over the proposal limit, refused on every attempt.
    let fields: Uint8Array[] = [];
    let bytes = 0;
    for (const { field, value } of page.entries) {
      if (fields.length > 0 && bytes + field.byteLength + value.byteLength > IMPORT_ENTRY_BYTES) {
        commands.push([arg("HSET"), key, ...fields]);
        fields = [];
        bytes = 0;
      }
      fields.push(field, value);
      bytes += field.byteLength + value.byteLength;
    }
    if (fields.length > 0) commands.push([arg("HSET"), key, ...fields]);
    cursor = page.cursor;
  } while (cursor !== 0n);
  if (expiry !== 0) commands.push([arg("PEXPIREAT"), key, arg(String(expiry))]);
  return commands;
}

/** Packs commands into import entries of at most IMPORT_ENTRY_BYTES (a command bigger than that alone). */
export function importEntries(commands: Iterable<Uint8Array[]>): Uint8Array[][][] {
  const entries: Uint8Array[][][] = [];
  let current: Uint8Array[][] = [];
  let bytes = 0;
  for (const command of commands) {
    const size = command.reduce((sum, part) => sum + part.byteLength + 8, 0);
    if (current.length > 0 && (bytes + size > IMPORT_ENTRY_BYTES || current.length >= IMPORT_ENTRY_COMMANDS)) {
      entries.push(current);
      current = [];
      bytes = 0;
    }
    current.push(command);
    bytes += size;
  }
  if (current.length > 0) entries.push(current);
  return entries;
}

/**
 * Packs the commands of whole keys (`groups`: each key's recreateCommands) into units that may be applied in any
 * order, so a mover can have several in flight: an entry holding whole keys only, or — for a key whose commands
 * exceed one entry (a big hash) — that key's entries, which must apply in order (its DEL before its HSETs).
 */
export function importUnits(groups: Iterable<Uint8Array[][]>): Uint8Array[][][][] {
  const units: Uint8Array[][][][] = [];
  let current: Uint8Array[][] = [];
  let bytes = 0;
  const close = (): void => {
    if (current.length > 0) units.push([current]);
    current = [];
    bytes = 0;
  };
  for (const group of groups) {
    const size = group.reduce((sum, command) => sum + command.reduce((n, part) => n + part.byteLength + 8, 0), 0);
    if (size > IMPORT_ENTRY_BYTES || group.length > IMPORT_ENTRY_COMMANDS) {
      units.push(importEntries(group)); // alone, in order
      continue;
    }
    if (bytes + size > IMPORT_ENTRY_BYTES || current.length + group.length > IMPORT_ENTRY_COMMANDS) close();
    current.push(...group);
    bytes += size;
  }
  close();
  return units;
}
