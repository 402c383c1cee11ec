/**
 * @module Operating errors: typed, with a stable code. Front ends map a code to a wire form exactly once
 * (RESP in `resp/`, HTTP in `http/`); nothing else inspects error messages.
 */

/** Stable error codes. Adding one means adding its RESP and HTTP mapping. */
export type ErrorCode =
  | "BAD_REQUEST" // malformed input from a client
  | "NOT_FOUND" // a key or resource does not exist
  | "CONFLICT" // a compare (CAS, If-Match) failed
  | "NOT_LEADER" // this node cannot serve the request; retry against the leader
  | "UNAVAILABLE" // no leader / no quorum right now; retryable
  | "TIMEOUT" // the outcome is unknown (the request may or may not have been applied)
  | "UNKNOWN_OUTCOME" // the write reached a leader that went away (lost leadership, crashed) before answering
  | "PROPOSAL_DROPPED" // leadership changed before the entry committed; it was not applied
  | "TOO_LARGE" // a value or request exceeds a configured bound
  | "COMPACTED" // a requested revision or log index was compacted away
  | "WRONG_TYPE" // an operation against a key holding another kind of value
  | "UNAUTHENTICATED" // the connection must authenticate first (Redis NOAUTH)
  | "WRONG_PASSWORD" // AUTH with a wrong password (Redis WRONGPASS)
  | "EXEC_ABORTED" // EXEC of a transaction that queued a bad command (Redis EXECABORT)
  | "UNSUPPORTED_PROTOCOL" // HELLO asked for a RESP version we do not speak (Redis NOPROTO)
  | "CLUSTER_DOWN" // the slots asked about have no serving leader right now (Redis Cluster CLUSTERDOWN); retryable
  | "MOVED" // another member serves this key's slot: the message names the slot and its address (Redis Cluster)
  | "ASK" // the key's slot moved to another shard during a slot move: ask it there (Redis Cluster ASK); nothing was done
  | "SLOT_MIGRATING" // a write to a slot whose keys are being copied to another shard; retry shortly (Redis TRYAGAIN)
  | "CROSS_SLOT" // a multi-key request over keys of different slots (Redis Cluster CROSSSLOT)
  | "CROSS_SHARD" // one atomic request (an HTTP txn) over keys of different shards
  | "OUT_OF_MEMORY" // a write while the node's data is over maxmemory and nothing may be evicted (Redis OOM)
  | "NOT_IMPLEMENTED" // a valid request Shoal cannot serve yet (the message says what works instead)
  | "INTERNAL"; // a bug; the message says where

/** Every code, for validating a code read from the wire (HTTP bodies, peer RPC answers). */
const ERROR_CODES: Readonly<Record<ErrorCode, true>> = {
  BAD_REQUEST: true,
  NOT_FOUND: true,
  CONFLICT: true,
  NOT_LEADER: true,
  UNAVAILABLE: true,
  TIMEOUT: true,
  UNKNOWN_OUTCOME: true,
  PROPOSAL_DROPPED: true,
  TOO_LARGE: true,
  COMPACTED: true,
  WRONG_TYPE: true,
  UNAUTHENTICATED: true,
  WRONG_PASSWORD: true,
  EXEC_ABORTED: true,
  UNSUPPORTED_PROTOCOL: true,
  CLUSTER_DOWN: true,
  MOVED: true,
  ASK: true,
  SLOT_MIGRATING: true,
  CROSS_SLOT: true,
  CROSS_SHARD: true,
  OUT_OF_MEMORY: true,
  NOT_IMPLEMENTED: true,
  INTERNAL: true,
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_CODES, value);
}

export class ShoalError extends Error {
  override readonly name = "ShoalError";
  readonly code: ErrorCode;
  /** Extra machine-readable detail, e.g. the leader's address for NOT_LEADER. */
  readonly detail: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, detail?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.detail = detail;
  }

  /** True when the client may safely retry the same request (it was certainly not applied). */
  get retryable(): boolean {
    return (
      this.code === "NOT_LEADER" ||
      this.code === "UNAVAILABLE" ||
      this.code === "PROPOSAL_DROPPED" ||
      this.code === "SLOT_MIGRATING" ||
      this.code === "ASK"
    );
  }
}
