/**
 * @module On a node of several shards (issue 12), what the RESP server must know before a command joins a batch:
 * a command's keys must share one shard — else `-CROSSSLOT`, as Redis Cluster answers keys of different slots —
 * and a pipelined run of commands holds one shard's commands (a run becomes one entry of one Raft group); a
 * command without a key (KEYS, DBSIZE, FLUSHALL…) runs with the other keyless ones, over every shard.
 */
import type { CommandSpec } from "../../commands/redis/command-spec.js";
import { errorReply, type Reply } from "../../commands/redis/reply.js";
import { commandKeys } from "../../commands/redis/table.js";

/** The run a command belongs to: its keys' shard, or 0 for a command without keys. */
export function runShardOf(
  shardOf: (key: Uint8Array) => number,
  spec: CommandSpec,
  argv: readonly Uint8Array[],
): number {
  const keys = commandKeys(spec, argv);
  return keys.length === 0 ? 0 : shardOf(keys[0] as Uint8Array);
}

/** `-CROSSSLOT` when the command's keys lie in different shards; undefined otherwise. */
export function crossShardRefusal(
  shardOf: (key: Uint8Array) => number,
  spec: CommandSpec,
  argv: readonly Uint8Array[],
): Reply | undefined {
  const keys = commandKeys(spec, argv);
  if (keys.length < 2) return undefined;
  const first = shardOf(keys[0] as Uint8Array);
  for (let i = 1; i < keys.length; i++) {
    if (shardOf(keys[i] as Uint8Array) !== first) {
      return errorReply("CROSS_SLOT", "Keys in request don't hash to the same slot");
    }
  }
  return undefined;
}
