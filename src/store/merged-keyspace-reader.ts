/**
 * @module Several shards' keyspaces read as one, for the commands that have no key to route by (KEYS, SCAN,
 * RANDOMKEY, DBSIZE over a node hosting several shards): a key's record comes from the shard that owns it, keys
 * are listed in bytewise order across shards (each shard lists its own in order; a k-way merge keeps the first
 * `limit`), and the key count is the sum. A collection's rows are never read through it: every command that reads
 * rows names its key, and is routed to that key's shard instead.
 */
import { compareBytes } from "../lib/bytes.js";
import { ShoalError } from "../lib/errors.js";
import type { KeyspaceReader } from "./write-set.js";

export function mergedKeyspaceReader(
  shards: readonly KeyspaceReader[],
  shardOf: (key: Uint8Array) => number,
): KeyspaceReader {
  const rowsRefused = (): never => {
    throw new ShoalError("INTERNAL", "A collection's rows are read through the shard that owns its key");
  };
  return {
    getRecord: (key) => {
      const shard = shards[shardOf(key)];
      if (shard === undefined) throw new ShoalError("INTERNAL", "A key maps to no shard of this reader");
      return shard.getRecord(key);
    },
    keysAfter: (after, limit) => {
      const lists = shards.map((shard) => shard.keysAfter(after, limit));
      const merged: Uint8Array[] = [];
      const heads = lists.map(() => 0);
      while (merged.length < limit) {
        let best = -1;
        for (let i = 0; i < lists.length; i++) {
          const candidate = (lists[i] as Uint8Array[])[heads[i] as number];
          if (candidate === undefined) continue;
          if (
            best < 0 ||
            compareBytes(candidate, (lists[best] as Uint8Array[])[heads[best] as number] as Uint8Array) < 0
          ) {
            best = i;
          }
        }
        if (best < 0) break;
        merged.push((lists[best] as Uint8Array[])[heads[best] as number] as Uint8Array);
        heads[best] = (heads[best] as number) + 1;
      }
      return merged;
    },
    keyCount: () => shards.reduce((sum, shard) => sum + shard.keyCount(), 0),
    getRow: rowsRefused,
    rowsAfter: rowsRefused,
  };
}
