/**
 * @module The replicated commands and their results: plain data. A command is what a Raft entry carries (see
 * `command-codec.ts`); its result is what the applying node hands back to the waiting client.
 *
 * Time: every command carries `nowMs`, the proposer's clock reading stamped when it was proposed. Apply never
 * reads a clock; it uses `max(nowMs, the highest nowMs applied so far)` (the replicated clock, which never runs
 * backwards even when a new leader's clock is behind the old one's). So expiry is identical on every replica.
 */
import type { ErrorCode } from "../lib/errors.js";
import type { KeyValue } from "../store/record.js";
import type { Reply } from "./redis/reply.js";

/** Expiry options shared by `put` and a txn's put. At most one of the three may be set; none clears any TTL. */
export interface ExpiryOptions {
  /** Expire this long after the entry's time. Positive. */
  readonly ttlMs?: number;
  /** Expire at this absolute time on the replicated clock. Positive; a time already past deletes the key. */
  readonly expiresAtMs?: number;
  /** Keep the key's current expiry (Redis `SET ... KEEPTTL`). */
  readonly keepTtl?: boolean;
}

export interface PutCommand extends ExpiryOptions {
  readonly op: "put";
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly nowMs: number;
  /** Compare-and-swap: apply only when the key's modRevision equals this (0 means "absent"). */
  readonly ifModRevision?: number;
  /** Apply only when the key is absent (Redis `NX`). */
  readonly ifAbsent?: boolean;
  /** Apply only when the key is present (Redis `XX`). */
  readonly ifPresent?: boolean;
}

export interface DeleteCommand {
  readonly op: "delete";
  readonly key: Uint8Array;
  readonly nowMs: number;
}

/** Proposed by the leader only, with its clock: deletes each named key whose expiry is <= the entry's time.
 * Keys that are absent, have no expiry or expire later are left alone (the leader's view may be stale). */
export interface ExpireCommand {
  readonly op: "expire";
  readonly keys: readonly Uint8Array[];
  readonly nowMs: number;
}

/** Proposed by the leader only, in cache mode over `maxmemory` (node/eviction/): deletes each named key whose
 * modRevision is still the one the leader read when it chose it (`modRevisions[i]` for `keys[i]`). A key written
 * since was used since, so it stays; an absent key is left alone. Deletes, not expiries: watchers see `delete`. */
export interface EvictCommand {
  readonly op: "evict";
  readonly keys: readonly Uint8Array[];
  readonly modRevisions: readonly number[];
  readonly nowMs: number;
}

export type CompareOp = "==" | "!=" | "<" | ">";

/** etcd's Compare. For an absent key version, createRevision and modRevision are 0, and any value compare is
 * false (etcd's rule), so `value != x` does not hold for a missing key either. */
export type Compare =
  | { readonly key: Uint8Array; readonly target: "value"; readonly op: CompareOp; readonly value: Uint8Array }
  | {
      readonly key: Uint8Array;
      readonly target: "version" | "createRevision" | "modRevision";
      readonly op: CompareOp;
      readonly value: number;
    };

export type TxnOp =
  | ({ readonly op: "put"; readonly key: Uint8Array; readonly value: Uint8Array } & ExpiryOptions)
  | { readonly op: "delete"; readonly key: Uint8Array }
  | { readonly op: "get"; readonly key: Uint8Array };

/** etcd's Txn: if every compare holds, run `success`, else `failure`; atomically, at one revision. Ops run in
 * order (a get sees an earlier put of the same txn); a branch may write each key at most once. */
export interface TxnCommand {
  readonly op: "txn";
  readonly nowMs: number;
  readonly compares: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

/** A key's modRevision as a Redis client WATCHed it (0: absent). */
export interface WatchedKey {
  readonly key: Uint8Array;
  readonly modRevision: number;
}

/** Redis commands (data commands of the table in `redis/`), run in order as ONE entry at one revision: a
 * pipelined run of writes, or a MULTI/EXEC block. With `watches`, nothing runs unless every watched key's
 * modRevision is still the one seen (Redis's WATCH: EXEC answers a null array). A command's error reply does not
 * stop the others (Redis's EXEC semantics); a failing command leaves no writes behind. */
export interface RedisCommand {
  readonly op: "redis";
  readonly nowMs: number;
  /** Each a whole command: argv[0] is the name. */
  readonly argvs: readonly (readonly Uint8Array[])[];
  readonly watches?: readonly WatchedKey[];
}

/**
 * A step of moving hash slots between shards (docs/architecture.md "Moving slots between shards",
 * node/slot-mover.ts), applied to the source's or the destination's log; each is idempotent, so a driver that
 * lost its place repeats it:
 * - `freeze` (source): the slot's keys become read-only; `shard` is the destination.
 * - `importStart` (destination): the slot takes nothing but imports; `shard` is the source.
 * - `import` (destination): Redis commands rebuilding some of the slots' keys (every key in one of `slots`).
 * - `importDone` (destination): the slot is served here.
 * - `handOff` (source, frozen): the slot is gone; commands for it are refused with ASK naming the destination.
 * - `drop` (source, gone): deletes the named keys of the slot left behind.
 */
export interface SlotCommand {
  readonly op: "slot";
  readonly nowMs: number;
  readonly action: SlotAction;
  /** The slots the step is for (moved together: one freeze, one copy, one hand-off for all). */
  readonly slots: readonly number[];
  /** The move the step belongs to: the cluster map's epoch that recorded it (store/slot-states.ts). A step of an
   * older move than the slot's state names is refused: a deposed driver's late step cannot undo a newer one. */
  readonly move: number;
  /** The other shard of the move (freeze, importStart). */
  readonly shard?: number;
  /** import: the commands to run. */
  readonly argvs?: readonly (readonly Uint8Array[])[];
  /** import (optional): the source's revision when it read the keys — at least every imported key's modRevision
   * there. The import's writes take a revision above it, so a key's modRevision only grows as it moves between
   * shards and a compare (txn, If-Match, WATCH) against one read before the move cannot match after it. */
  readonly revisionFloor?: number;
  /** drop: the keys to delete. */
  readonly keys?: readonly Uint8Array[];
}

export type SlotAction = "freeze" | "importStart" | "import" | "importDone" | "handOff" | "drop";

export type Command =
  | PutCommand
  | DeleteCommand
  | ExpireCommand
  | EvictCommand
  | TxnCommand
  | RedisCommand
  | SlotCommand;
export type CommandOp = Command["op"];

export type TxnOpResult =
  | { readonly op: "put"; readonly prev: KeyValue | undefined }
  | { readonly op: "delete"; readonly prev: KeyValue | undefined }
  | { readonly op: "get"; readonly kv: KeyValue | undefined };

/**
 * What applying one entry produced. `revision` is always the group's revision AFTER the entry (etcd's response
 * header): a write that changed something carries the new revision, which is the written keys' modRevision.
 */
export type CommandResult =
  /** An entry without a command: a new leader's empty entry, or a membership change. */
  | { readonly kind: "noop"; readonly revision: number }
  | { readonly kind: "put"; readonly revision: number; readonly prev: KeyValue | undefined }
  /** `prev` is undefined when there was nothing to delete (and the revision did not move). */
  | { readonly kind: "delete"; readonly revision: number; readonly prev: KeyValue | undefined }
  | { readonly kind: "expire"; readonly revision: number; readonly expiredCount: number }
  | { readonly kind: "evict"; readonly revision: number; readonly evictedCount: number }
  | {
      readonly kind: "txn";
      readonly revision: number;
      readonly succeeded: boolean;
      readonly responses: readonly TxnOpResult[];
    }
  /** One reply per command; `aborted` (and no replies) when a WATCHed key had changed. */
  | { readonly kind: "redis"; readonly revision: number; readonly aborted: boolean; readonly replies: readonly Reply[] }
  /** A put's condition failed; nothing changed. `current` is the key as it is (undefined when absent). */
  | { readonly kind: "conflict"; readonly revision: number; readonly current: KeyValue | undefined }
  /** The entry was rejected deterministically (malformed or over a limit); nothing changed. */
  | { readonly kind: "error"; readonly revision: number; readonly code: ErrorCode; readonly message: string };
