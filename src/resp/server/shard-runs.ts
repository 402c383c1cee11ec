/**
 * @module On a node of several shards (issue 12), what the RESP server must know before a command joins a batch:
 * a command's keys must share one shard — else `-CROSSSLOT`, as Redis Cluster answers keys of different slots —
 * and a pipelined run of commands holds one shard's commands (a run becomes one entry of one Raft group); a
 * command without a key (KEYS, DBSIZE, FLUSHALL…) runs with the other keyless ones, over every shard.
 */
import type { CommandSpec } from "../../commands/redis/command-spec.js";
import { errorReply, type Reply } from "../../commands/redis/reply.js";
import { commandKeys } from "../../commands/redis/table.js";

/** A command whose keys lie in different shards (commandShard). */
export const CROSS_SHARD = -1;

/** The run a command belongs to: its keys' shard, 0 for a command without keys, CROSS_SHARD when its keys lie in
 * different shards. */
export function commandShard(
  shardOf: (key: Uint8Array) => number,
  spec: CommandSpec,
  argv: readonly Uint8Array[],
): number {
  const keys = commandKeys(spec, argv);
  if (keys.length === 0) return 0;
  const first = shardOf(keys[0] as Uint8Array);
  for (let i = 1; i < keys.length; i++) if (shardOf(keys[i] as Uint8Array) !== first) return CROSS_SHARD;
  return first;
}

/** Redis Cluster's answer to a command over several slots, here over several shards. */
export function crossShardReply(): Reply {
  return errorReply("CROSS_SLOT", "Keys in request don't hash to the same slot");
}
