/**
 * @module Which shard a batch of Redis commands addresses (issue 12). A command with keys goes to the shard that
 * owns its keys' hash slot, and all its keys must share one shard (a Raft group applies an entry atomically; two
 * groups cannot); a command without a key (KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHALL, FLUSHDB) is answered by every
 * shard together. The RESP server splits a pipeline into runs of one shard each, so only an EXEC block can mix
 * shards, and it is refused the way Redis Cluster refuses one: -CROSSSLOT.
 */

import type { Command } from "../commands/command.js";
import { commandName } from "../commands/redis/command-name.js";
import { commandKeys, DATA_COMMAND_TABLE } from "../commands/redis/table.js";
import { ShoalError } from "../lib/errors.js";

/** The route of `argvs` (and of the WATCHed keys of an EXEC block): the one shard their keys share, or undefined
 * when every command is keyless. Throws CROSS_SLOT when the keys span shards, or when keyless commands share a batch
 * with keyed ones on a cluster of several shards. */
export function routeBatch(
  argvs: readonly (readonly Uint8Array[])[],
  watchedKeys: readonly Uint8Array[],
  shardOfKey: (key: Uint8Array) => number,
): number | undefined {
  let keyless = false;
  function* keys(): Generator<Uint8Array> {
    for (const argv of argvs) {
      const own = keysOf(argv);
      if (own.length === 0) keyless = true;
      yield* own;
    }
    yield* watchedKeys;
  }
  const shard = sharedShard(keys(), shardOfKey, "CROSS_SLOT", "Keys in request don't hash to the same slot");
  if (keyless && shard !== undefined) {
    throw new ShoalError(
      "CROSS_SLOT",
      "Commands without a key (KEYS, SCAN, DBSIZE, FLUSHALL…) cannot share a transaction with keyed ones on a cluster of several shards",
    );
  }
  return shard;
}

/** The shard a key-value command (HTTP's put, delete, txn; the leader's expire sweep) writes: the one its keys
 * share. Throws CROSS_SHARD when they span shards (a txn is atomic in one Raft group only). A Redis command goes
 * through `routeBatch`. */
export function shardOfCommand(command: Command, shardOfKey: (key: Uint8Array) => number): number | undefined {
  if (command.op === "redis") return routeBatch(command.argvs, [], shardOfKey);
  // A slot move's step names its shard itself (node/slot-mover.ts submits it there, never routed by key).
  if (command.op === "slot") throw new ShoalError("BAD_REQUEST", "A slot step is submitted to its shard, not routed");
  const keys =
    command.op === "txn"
      ? [...command.compares, ...command.success, ...command.failure].map((part) => part.key)
      : command.op === "expire" || command.op === "evict"
        ? command.keys
        : [command.key];
  return sharedShard(
    keys,
    shardOfKey,
    "CROSS_SHARD",
    (first, other) =>
      `The transaction's keys lie in different shards (${first} and ${other}); a transaction is atomic within one shard (keys sharing a {hash tag} share a shard)`,
  );
}

/** The one shard every key of `keys` belongs to (undefined for no key); a ShoalError of `code` when they span
 * several. */
function sharedShard(
  keys: Iterable<Uint8Array>,
  shardOfKey: (key: Uint8Array) => number,
  code: "CROSS_SLOT" | "CROSS_SHARD",
  message: string | ((first: string, other: string) => string),
): number | undefined {
  let shard: number | undefined;
  let firstKey: Uint8Array | undefined;
  for (const key of keys) {
    const owner = shardOfKey(key);
    if (shard === undefined) {
      shard = owner;
      firstKey = key;
    } else if (owner !== shard) {
      const text =
        typeof message === "string"
          ? message
          : message(`${keyText(firstKey as Uint8Array)} in shard ${shard}`, `${keyText(key)} in shard ${owner}`);
      throw new ShoalError(code, text);
    }
  }
  return shard;
}

/** A key for a message: quoted, at most 64 bytes of it. */
function keyText(key: Uint8Array): string {
  const shown = Buffer.from(key.buffer, key.byteOffset, Math.min(key.byteLength, 64)).toString("utf8");
  return JSON.stringify(shown) + (key.byteLength > 64 ? "…" : "");
}

function keysOf(argv: readonly Uint8Array[]): Uint8Array[] {
  let spec: ReturnType<typeof DATA_COMMAND_TABLE.resolve>;
  try {
    spec = DATA_COMMAND_TABLE.resolve(argv);
  } catch {
    return []; // refused before it reaches a batch; answered with its own error where it runs
  }
  return commandKeys(spec, argv);
}

/** True when every command of `argvs` empties the keyspace (FLUSHALL, FLUSHDB): the one keyless write, which a
 * node of several shards applies on each shard (each atomically, not all at once). */
export function onlyFlushes(argvs: readonly (readonly Uint8Array[])[]): boolean {
  return argvs.every((argv) => {
    const name = commandName(argv[0] as Uint8Array);
    return name === "flushall" || name === "flushdb";
  });
}
