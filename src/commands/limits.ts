/**
 * @module Bounds every replica applies. These are part of the replicated protocol, not node configuration:
 * apply must reach the same verdict on every replica, so a bound that differed between nodes would make their
 * state diverge. A node's configuration may set TIGHTER bounds for what it proposes; it may never loosen these.
 */

export const COMMAND_LIMITS = {
  /** LMDB's default maximum key is 1978 bytes and the store adds a prefix byte; Redis keys are rarely long. */
  keySizeBytesMax: 1024,
  /** A value travels inside one Raft entry, which is replicated and fsynced whole. */
  valueSizeBytesMax: 16 * 1024 * 1024,
  /** etcd's default `--max-txn-ops`. Applies to compares and to each branch separately. */
  txnOpsCountMax: 128,
  /** Keys one `expire` entry may name; the leader splits larger sweeps. */
  expireKeysCountMax: 1024,
  /** Redis commands one entry may carry (a pipelined run or a MULTI block); bigger MULTI blocks are refused. */
  redisCommandsCountMax: 10_000,
  /** Arguments of one Redis command (MSET, HSET, DEL with many keys). */
  redisArgumentsCountMax: 1_048_576,
  /** Bytes of all arguments of one entry: the entry is replicated and fsynced whole. */
  redisEntrySizeBytesMax: 64 * 1024 * 1024,
} as const;
