/**
 * @module The requests members make of each other beside Raft's own messages, and how a member answers them:
 * a forwarded write (leader-forwarding.ts), "who are you" for status and readiness (member-status.ts), a SCAN
 * cursor's position (redis-operations.ts), the cluster identity (bootstrap.ts), pub/sub delivery (pubsub-hub.ts) and
 * calls for a shard the asking node holds no replica of (remote-shard.ts).
 * A payload comes off the wire, so every field is checked before it is used.
 */
import type { Logger } from "pino";
import type { CommandResult } from "../commands/command.js";
import { ShoalError } from "../lib/errors.js";
import type { GroupId, NodeId } from "../raft/types.js";
import type { IdentityAnswer } from "./bootstrap.js";
import type { PubSubRequest } from "./pubsub-hub.js";
import type { WatchTicket } from "./redis-watch.js";

/** The calls a member answers for a shard it holds. */
export type ShardCall =
  | { readonly call: "get"; readonly key: Uint8Array; readonly stale: boolean }
  | {
      readonly call: "range";
      readonly prefix: Uint8Array;
      readonly after?: Uint8Array;
      readonly limit: number;
      readonly stale: boolean;
    }
  | { readonly call: "submit"; readonly data: Uint8Array }
  | { readonly call: "barrier" }
  | { readonly call: "redis-run"; readonly argvs: Uint8Array[][]; readonly watches?: WatchTicket[] }
  | {
      readonly call: "redis-read";
      readonly argvs: Uint8Array[][];
      readonly stale: boolean;
      /** The asking client's RESP version: a heavy read's replies come back encoded for it. */
      readonly protocol?: 2 | 3;
    }
  | { readonly call: "keyless"; readonly argv: Uint8Array[]; readonly stale: boolean; readonly scanAfter?: Uint8Array }
  | { readonly call: "watch-revisions"; readonly keys: Uint8Array[]; readonly stale: boolean }
  | { readonly call: "revision" }
  | { readonly call: "watch-poll"; readonly prefix: Uint8Array; readonly from: number; readonly waitMs: number };

/** The peer request that carries a call for group `group`. */
export interface ShardRequest {
  readonly kind: "shard";
  readonly group: GroupId;
  readonly request: ShardCall;
}

export type PeerRequest =
  | { readonly kind: "propose"; readonly data: Uint8Array; readonly group?: GroupId }
  | { readonly kind: "info" }
  | { readonly kind: "scan-cursor"; readonly cursor: string; readonly group?: GroupId }
  | { readonly kind: "identity" }
  | JoinRequest
  | ShardRequest
  | PubSubRequest;

/** A node asks to join the cluster (join-request.ts): who it is, where it listens, and whether its data directory
 * already belongs to the cluster (a restart of a member that joined earlier). */
export interface JoinRequest {
  readonly kind: "join";
  readonly id: NodeId;
  readonly peer: string;
  readonly http: string;
  readonly restart: boolean;
}

/** The requests this node sends, built in one place so their shapes match what `answerPeerRequest` checks. */
export const peerRequest = {
  propose: (data: Uint8Array): PeerRequest => ({ kind: "propose", data }),
  info: (): PeerRequest => ({ kind: "info" }),
  scanCursor: (cursor: bigint): PeerRequest => ({ kind: "scan-cursor", cursor: cursor.toString() }),
  identity: (): PeerRequest => ({ kind: "identity" }),
};

/** `request` addressed to group `groupId` where it names a group (a write, a SCAN cursor); group 1 is left
 * unnamed, the form a node hosting one group always sent. */
export function withGroup(request: PeerRequest, groupId: GroupId): PeerRequest {
  if (groupId === 1 || (request.kind !== "propose" && request.kind !== "scan-cursor")) return request;
  return { ...request, group: groupId };
}

/** The group a request names: 1 when it names none; undefined when the field is malformed. (0 is the meta
 * group.) */
function groupOf(request: { readonly group?: unknown }): GroupId | undefined {
  if (request.group === undefined) return 1;
  return Number.isSafeInteger(request.group) && (request.group as number) >= 0 ? (request.group as number) : undefined;
}

const PUBSUB_REQUESTS: ReadonlySet<string> = new Set(["publish", "pubsub-channels", "pubsub-numsub", "pubsub-numpat"]);

/** What a running member answers with. */
export interface PeerAnswers {
  /** Proposes a forwarded write on this node (never forwarded again: a node that lost leadership answers
   * NOT_LEADER and the sender retries). */
  propose(data: Uint8Array, groupId: GroupId): Promise<CommandResult>;
  info(): unknown;
  scanCursorPosition(cursor: bigint, groupId: GroupId): Uint8Array | undefined;
  identity(asker: NodeId): IdentityAnswer;
  pubsub(request: PubSubRequest): unknown;
  /** A call for shard `groupId` (remote-shard.ts checks the call itself). */
  shard(groupId: GroupId, call: unknown): Promise<unknown>;
  /** A node asks to join (its fields checked). */
  join(request: JoinRequest): Promise<unknown>;
}

/** Routes one peer request to its answer; an unknown or malformed one is refused with BAD_REQUEST. */
export function answerPeerRequest(
  answers: PeerAnswers,
  logger: Logger,
  from: NodeId,
  payload: unknown,
): Promise<unknown> | unknown {
  const request = payload as PeerRequest | undefined;
  const groupId = request === undefined ? undefined : groupOf(request as { readonly group?: unknown });
  if (request?.kind === "propose" && request.data instanceof Uint8Array && groupId !== undefined) {
    return answers.propose(new Uint8Array(request.data), groupId);
  }
  if (request?.kind === "info") return answers.info();
  if (
    request?.kind === "scan-cursor" &&
    typeof request.cursor === "string" &&
    /^\d{1,20}$/.test(request.cursor) &&
    groupId !== undefined
  ) {
    return answers.scanCursorPosition(BigInt(request.cursor), groupId) ?? null;
  }
  if (request?.kind === "identity") return answers.identity(from);
  if (request?.kind === "join") {
    const { id, peer, http, restart } = request;
    if (id !== from || typeof peer !== "string" || typeof http !== "string" || typeof restart !== "boolean") {
      throw new ShoalError("BAD_REQUEST", "Malformed join request");
    }
    return answers.join(request);
  }
  if (request?.kind === "shard" && Number.isSafeInteger(request.group) && request.group >= 1) {
    return answers.shard(request.group, request.request);
  }
  if (typeof request?.kind === "string" && PUBSUB_REQUESTS.has(request.kind)) {
    return answers.pubsub(request as PubSubRequest);
  }
  logger.warn({ from }, "Unknown peer request");
  throw new ShoalError("BAD_REQUEST", "Unknown peer request");
}

/** True when a payload asks who this node is (the one request a starting node answers). */
export function isIdentityRequest(payload: unknown): boolean {
  return (payload as PeerRequest | undefined)?.kind === "identity";
}
