/**
 * @module Keyless reads (KEYS, SCAN, RANDOMKEY, DBSIZE) on a cluster whose nodes hold only some shards
 * (placement with R < N): each shard answers for its own keys wherever it lives (shard-access.ts), and the asking
 * node combines the answers. (A node that holds every shard merges the shards' keyspaces in one pass instead:
 * store/merged-keyspace-reader.ts.)
 *
 * - KEYS: every shard's matches, shard after shard (bytewise within a shard, as SCAN walks them), each shard
 *   listed page by page — a SCAN of KEYS_PAGE_KEYS keys per call — so no call holds a holder's event loop for
 *   longer than one page (a KEYS over a million keys in one call would stall its heartbeats: issue 10). Not
 *   merged into one bytewise order: sorting a million keys here held this node's loop ~200 ms.
 * - DBSIZE: the sum.
 * - RANDOMKEY: a shard drawn by its key count, then the first key after random bytes in it (wrapping to its
 *   first key): two bounded reads, not a pass over every key. Not uniform over keys (keys after a wide gap are
 *   drawn more often); Redis's RANDOMKEY is not uniform either.
 * - SCAN: shard after shard. The cursor's position (in this node's cursor table, valid on every node:
 *   scan-cursor-table.ts) is the shard's index and the key to resume after in it; a call examines COUNT keys of
 *   one shard (at most KEYS_PAGE_KEYS: COUNT is a hint, and a bigger one would hold the holder's loop for the
 *   whole shard), so it may answer none with a non-zero cursor, which SCAN allows. Every key present for the whole
 *   iteration is returned exactly once, as Redis guarantees.
 */
import { commandName } from "../commands/redis/command-name.js";
import { parseScanCursor } from "../commands/redis/families/scan-args.js";
import { array, bulk, integer, NULL, type Reply } from "../commands/redis/reply.js";
import type { ScanCursorTable } from "../commands/redis/scan-cursor-table.js";
import { ShoalError } from "../lib/errors.js";
import type { ShardAccess } from "./shard-access.js";

const decoder = new TextDecoder();

export async function keylessReadOverShards(
  argv: readonly Uint8Array[],
  shards: readonly ShardAccess[],
  stale: boolean,
  cursors: ScanCursorTable,
): Promise<Reply> {
  const name = commandName(argv[0] as Uint8Array);
  if (name === "scan") return scanOverShards(argv, shards, stale, cursors);
  if (name === "keys" && argv.length === 2) return keysOverShards(argv[1] as Uint8Array, shards, stale);
  if (name === "randomkey" && argv.length === 1) return randomKeyOverShards(shards, stale);
  // DBSIZE, and KEYS or RANDOMKEY with a wrong argument count (every shard answers the same arity error).
  const answers = await Promise.all(shards.map((shard) => shard.keylessRead(argv, stale)));
  const replies = answers.map((answer) => answer.reply);
  const failed = replies.find((reply) => reply.kind === "error");
  if (failed !== undefined) return failed;
  if (name !== "dbsize") throw new ShoalError("INTERNAL", `${name} is not a keyless read`);
  return integer(replies.reduce((sum, reply) => sum + (reply.kind === "integer" ? Number(reply.value) : 0), 0));
}

async function scanOverShards(
  argv: readonly Uint8Array[],
  shards: readonly ShardAccess[],
  stale: boolean,
  cursors: ScanCursorTable,
): Promise<Reply> {
  const cursor = parseScanCursor(argv[1] ?? new Uint8Array());
  const { index, after } = decodePosition(cursors.resume(cursor), shards.length);
  const shard = shards[index] as ShardAccess;
  // The shard resumes after `after` when there is one (its cursor 1 stands for it), else from its start.
  const shardArgv = [argv[0] as Uint8Array, bulkText(after === undefined ? "0" : "1"), ...boundedCount(argv.slice(2))];
  const answer = await shard.keylessRead(shardArgv, stale, after);
  if (answer.reply.kind !== "array") return answer.reply; // an error: a bad option
  const found = answer.reply.items[1] ?? array([]);
  let next = 0n;
  if (answer.scanNext !== undefined) next = cursors.issue(encodePosition(index, answer.scanNext));
  else if (index + 1 < shards.length) next = cursors.issue(encodePosition(index + 1, undefined));
  return array([bulk(next.toString()), found]);
}

/** Keys one page of a shard's KEYS examines (a few milliseconds of the holder's event loop). */
export const KEYS_PAGE_KEYS = 10_000;

async function keysOverShards(pattern: Uint8Array, shards: readonly ShardAccess[], stale: boolean): Promise<Reply> {
  // A lone "*" lists every key without matching (Redis's rule: so the empty key too), as KEYS does.
  const every = pattern.byteLength === 1 && pattern[0] === 0x2a;
  const options = every ? [] : [bulkText("MATCH"), pattern];
  const perShard = await Promise.all(
    shards.map(async (shard) => {
      const found: Reply[] = [];
      let after: Uint8Array | undefined;
      for (;;) {
        const argv = [
          bulkText("SCAN"),
          bulkText(after === undefined ? "0" : "1"),
          bulkText("COUNT"),
          bulkText(String(KEYS_PAGE_KEYS)),
          ...options,
        ];
        const answer = await shard.keylessRead(argv, stale, after);
        if (answer.reply.kind !== "array") throw new ShoalError("INTERNAL", "A shard's SCAN answered no array");
        const page = answer.reply.items[1];
        if (page?.kind === "array") found.push(...page.items);
        if (answer.scanNext === undefined) return found;
        after = answer.scanNext;
      }
    }),
  );
  return array(perShard.flat());
}

async function randomKeyOverShards(shards: readonly ShardAccess[], stale: boolean): Promise<Reply> {
  const sizes = await Promise.all(
    shards.map(async (shard) => {
      const reply = (await shard.keylessRead([bulkText("DBSIZE")], stale)).reply;
      return reply.kind === "integer" ? Number(reply.value) : 0;
    }),
  );
  const total = sizes.reduce((sum, size) => sum + size, 0);
  if (total === 0) return NULL;
  let draw = Math.floor(Math.random() * total);
  let index = 0;
  while (draw >= (sizes[index] ?? 0)) draw -= sizes[index++] ?? 0;
  const shard = shards[index] as ShardAccess;
  const probe = new Uint8Array(8).map(() => Math.floor(Math.random() * 256));
  for (const after of [probe, undefined]) {
    const argv = [bulkText("SCAN"), bulkText(after === undefined ? "0" : "1"), bulkText("COUNT"), bulkText("1")];
    const reply = (await shard.keylessRead(argv, stale, after)).reply;
    const page = reply.kind === "array" ? reply.items[1] : undefined;
    const key = page?.kind === "array" ? page.items[0] : undefined;
    if (key !== undefined) return key;
  }
  return NULL; // emptied meanwhile
}

/** SCAN's options with COUNT at most KEYS_PAGE_KEYS (options come in pairs: MATCH p, COUNT n, TYPE t). A COUNT
 * that is not a number is left for the shard to refuse with Redis's error. */
function boundedCount(options: readonly Uint8Array[]): Uint8Array[] {
  const bounded = [...options];
  for (let i = 0; i + 1 < bounded.length; i += 2) {
    if (decoder.decode(bounded[i]).toLowerCase() !== "count") continue;
    const count = Number(decoder.decode(bounded[i + 1]));
    if (Number.isSafeInteger(count) && count > KEYS_PAGE_KEYS) bounded[i + 1] = bulkText(String(KEYS_PAGE_KEYS));
  }
  return bounded;
}

/** A SCAN position: the shard's index (2 bytes), then 1 and the key to resume after, or 0 for the shard's start. */
export function encodePosition(index: number, after: Uint8Array | undefined): Uint8Array {
  const position = new Uint8Array(3 + (after?.byteLength ?? 0));
  position[0] = index >> 8;
  position[1] = index & 0xff;
  if (after !== undefined) {
    position[2] = 1;
    position.set(after, 3);
  }
  return position;
}

export function decodePosition(
  position: Uint8Array | undefined,
  shardCount: number,
): { readonly index: number; readonly after: Uint8Array | undefined } {
  if (position === undefined) return { index: 0, after: undefined }; // cursor 0: the start
  const index = position.byteLength >= 3 ? ((position[0] as number) << 8) | (position[1] as number) : shardCount;
  if (index >= shardCount) throw new ShoalError("BAD_REQUEST", "invalid cursor");
  return { index, after: position[2] === 1 ? position.subarray(3) : undefined };
}

function bulkText(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
