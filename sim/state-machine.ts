/**
 * @module SimStateMachine: the replicated state machine the simulator drives. It holds a few registers (key →
 * last written value and the log index of that write) and a hash chain over every applied entry, so two nodes
 * that applied the same prefix of the log have the same hash (State Machine Safety, paper section 5.4.3) and a
 * read can prove which writes it reflects. Its snapshot is a ~150-byte image with a checksum: small enough to
 * ship in a handful of 16–64-byte chunks, checked so that a badly reassembled snapshot cannot go unnoticed.
 */
import { applyEntryData } from "../src/commands/apply-command.js";
import { assert } from "../src/lib/assert.js";
import type { Entry } from "../src/raft/types.js";
import { EMPTY_KEYSPACE } from "../src/store/write-set.js";
import { HASH_SEED, hashBytes, hashUint32 } from "./random.js";

export const REGISTER_COUNT = 16;

const WRITE_TAG = 0x57; // "W"
const WRITE_BYTES = 8;
const SNAPSHOT_MAGIC = 0x53494d31; // "SIM1"
const SNAPSHOT_HEADER_WORDS = 5; // magic, appliedIndex, appliedTerm, hash, writes
const SNAPSHOT_BYTES = 4 * (SNAPSHOT_HEADER_WORDS + 2 * REGISTER_COUNT + 1);

/** A client write: set register `key` to the globally unique `valueId`. */
export interface WriteCommand {
  readonly valueId: number;
  readonly key: number;
}

export interface RegisterValue {
  /** 0 when the register was never written. */
  readonly valueId: number;
  /** The log index of the write that set it (0 when never written). */
  readonly writeIndex: number;
}

export function encodeWrite(write: WriteCommand): Uint8Array {
  assert(write.key >= 0 && write.key < REGISTER_COUNT, "Register key out of range");
  assert(write.valueId > 0, "Value ids start at 1");
  const bytes = new Uint8Array(WRITE_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, WRITE_TAG);
  view.setUint8(1, write.key);
  view.setUint32(4, write.valueId, true);
  return bytes;
}

/** True for the data of a register write (the workload's entries; any other data is a hostile client's). */
export function isWriteData(data: Uint8Array): boolean {
  return data.length === WRITE_BYTES && data[0] === WRITE_TAG;
}

/** The write an entry carries, or undefined for a leader's no-op, a membership change and a command entry. */
export function decodeWrite(entry: Entry): WriteCommand | undefined {
  if (entry.type !== "normal" || !isWriteData(entry.data)) return undefined;
  const view = new DataView(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
  return { key: view.getUint8(1), valueId: view.getUint32(4, true) };
}

/** A string that is equal for two entries exactly when their type and payload are equal (small payloads are
 * spelled out; larger ones, membership changes, are long enough that a length plus hash is unambiguous here). */
export function payloadKey(entry: Entry): string {
  const prefix = entry.type === "normal" ? "n" : "c";
  if (entry.data.length <= 16) return prefix + String.fromCharCode(...entry.data);
  return `${prefix}#${entry.data.length}:${hashBytes(HASH_SEED, entry.data)}`;
}

/**
 * Any other entry is the hostile client's (hostile-client.ts): a command over a bound, or bytes that are no
 * command at all. It goes through Shoal's real command semantics (src/commands/apply-command.ts), here against an
 * empty keyspace, which must answer it without throwing and without writing anything: "no client input can stop
 * a node", on every replica and at every point of the log.
 */
function applyRefusedCommand(data: Uint8Array): void {
  const outcome = applyEntryData(EMPTY_KEYSPACE, data, { revision: 0, clockMs: 0, nextCollectionId: 1 });
  assert(outcome.mutations.length === 0, "a command entry over a bound or malformed writes nothing");
  assert(outcome.state.revision === 0, "a command entry over a bound or malformed changes nothing");
}

export class SnapshotDecodeError extends Error {
  override readonly name = "SnapshotDecodeError";
}

export class SimStateMachine {
  // Invariant: appliedIndex only grows, one entry at a time (or by restoring a later snapshot).
  appliedIndex = 0;
  appliedTerm = 0;
  /** Hash chain over (index, term, type, payload) of every applied entry. */
  hash = HASH_SEED;
  writes = 0;
  readonly #values = new Uint32Array(REGISTER_COUNT);
  readonly #writeIndexes = new Uint32Array(REGISTER_COUNT);

  /** Applies the next entry; the caller (the host) checks ordering through the checkers before calling. */
  apply(entry: Entry): WriteCommand | undefined {
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
    let h = hashUint32(this.hash, entry.index);
    h = hashUint32(h, entry.term);
    h = hashUint32(h, entry.type === "normal" ? 1 : 2);
    this.hash = hashBytes(h, entry.data);
    const write = decodeWrite(entry);
    if (write !== undefined) {
      this.#values[write.key] = write.valueId;
      this.#writeIndexes[write.key] = entry.index;
      this.writes++;
    } else if (entry.type === "normal" && entry.data.length > 0) {
      applyRefusedCommand(entry.data);
    }
    return write;
  }

  read(key: number): RegisterValue {
    return { valueId: this.#values[key] as number, writeIndex: this.#writeIndexes[key] as number };
  }

  toBytes(): Uint8Array {
    const bytes = new Uint8Array(SNAPSHOT_BYTES);
    const view = new DataView(bytes.buffer);
    const words = [SNAPSHOT_MAGIC, this.appliedIndex, this.appliedTerm, this.hash, this.writes];
    for (let i = 0; i < REGISTER_COUNT; i++) words.push(this.#values[i] as number);
    for (let i = 0; i < REGISTER_COUNT; i++) words.push(this.#writeIndexes[i] as number);
    words.forEach((word, i) => {
      view.setUint32(4 * i, word, true);
    });
    view.setUint32(SNAPSHOT_BYTES - 4, hashBytes(HASH_SEED, bytes.subarray(0, SNAPSHOT_BYTES - 4)), true);
    return bytes;
  }

  static fromBytes(bytes: Uint8Array): SimStateMachine {
    if (bytes.length !== SNAPSHOT_BYTES) {
      throw new SnapshotDecodeError(`Snapshot has ${bytes.length} bytes, expected ${SNAPSHOT_BYTES}`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const checksum = hashBytes(HASH_SEED, bytes.subarray(0, SNAPSHOT_BYTES - 4));
    if (view.getUint32(SNAPSHOT_BYTES - 4, true) !== checksum)
      throw new SnapshotDecodeError("Snapshot checksum mismatch");
    if (view.getUint32(0, true) !== SNAPSHOT_MAGIC) throw new SnapshotDecodeError("Snapshot magic mismatch");
    const machine = new SimStateMachine();
    machine.appliedIndex = view.getUint32(4, true);
    machine.appliedTerm = view.getUint32(8, true);
    machine.hash = view.getUint32(12, true);
    machine.writes = view.getUint32(16, true);
    const base = 4 * SNAPSHOT_HEADER_WORDS;
    for (let i = 0; i < REGISTER_COUNT; i++) {
      machine.#values[i] = view.getUint32(base + 4 * i, true);
      machine.#writeIndexes[i] = view.getUint32(base + 4 * (REGISTER_COUNT + i), true);
    }
    return machine;
  }
}
