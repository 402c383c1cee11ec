/**
 * @module The join protocol (issue 13): a node started with `--join A-MEMBER'S-PEER-ADDRESS` asks that member to be
 * let in (`askToJoin`), and the member records it in the cluster map (`admitMember`): the next epoch lists it among
 * the members with its addresses, every node then dials it, and the meta group's leader adds it to the meta group
 * as a learner and promotes it once it holds the log (replica-mover.ts). It holds no shard until replicas are moved
 * to it. The answer gives the joining node what it needs to start as a member: the cluster's id and creation
 * parameters (its identity, identity.ts) and every member's address.
 *
 * An id is never given twice: a node asking with the id of a member (or of one that left) and an empty directory is
 * refused — it may have voted and acknowledged entries it no longer has; a node restarting with its own directory
 * (`restart`) and the address it joined with is answered again, so the same command line restarts it.
 */
import { ShoalError } from "../lib/errors.js";
import type { NodeId } from "../raft/types.js";
import type { ClusterMap } from "../slots/cluster-map.js";
import { withMemberJoined } from "../slots/membership.js";
import { ANY_MEMBER_ID, type PeerTransport, parsePeerAddress } from "../transport/index.js";
import type { ClusterIdentity } from "./identity.js";
import type { MemberAddress } from "./node-options.js";
import type { JoinRequest } from "./peer-rpc.js";

export interface JoinAnswer {
  readonly clusterId: string;
  /** The members the cluster was created with (the joining node's identity keeps them: placement derives from them). */
  readonly memberIds: readonly NodeId[];
  readonly shardCount: number;
  readonly replicationFactor: number;
  /** Every member's addresses, the joining node's included. */
  readonly members: readonly ({ readonly id: NodeId } & MemberAddress)[];
}

/** What a member needs to admit a node. */
export interface AdmissionContext {
  readonly identity: ClusterIdentity;
  readonly map: () => ClusterMap;
  readonly addresses: () => ReadonlyMap<NodeId, MemberAddress>;
  readonly updateMap: (change: (map: ClusterMap) => ClusterMap) => Promise<ClusterMap>;
}

/** The longest address a joining node may give (a host name and a port, with room to spare). */
const ADDRESS_LENGTH_MAX = 300;

/** The member's side: records the node in the cluster map (or recognises a restart) and answers. Its addresses are
 * checked here, before they reach the map: every member dials what the map says. */
export async function admitMember(context: AdmissionContext, request: JoinRequest): Promise<JoinAnswer> {
  if (request.peer.length > ADDRESS_LENGTH_MAX || request.http.length > ADDRESS_LENGTH_MAX) {
    throw new ShoalError("BAD_REQUEST", `A joining node's addresses are at most ${ADDRESS_LENGTH_MAX} characters`);
  }
  parsePeerAddress(request.peer); // BAD_REQUEST when it is not host:port
  const known = context.addresses().get(request.id);
  const member = context.map().members.includes(request.id);
  if (member && !(request.restart && known?.peer === request.peer)) {
    throw new ShoalError(
      "BAD_REQUEST",
      request.restart
        ? `Node ${request.id} is a member at ${known?.peer ?? "another address"}, not ${request.peer}: start it ` +
            "with the peer address it joined with"
        : `Node ${request.id} is already a member of this cluster: a node that lost its data joins under a new id ` +
            "(remove the old one first)",
    );
  }
  if (!member) {
    if (request.restart) {
      throw new ShoalError(
        "BAD_REQUEST",
        `Node ${request.id}'s data directory belongs to this cluster, but node ${request.id} is not a member`,
      );
    }
    try {
      await context.updateMap((map) => withMemberJoined(map, request.id, request));
    } catch (error) {
      if (error instanceof ShoalError && error.code === "CONFLICT") {
        throw new ShoalError("UNAVAILABLE", "The cluster map changed meanwhile; retrying the join");
      }
      throw error;
    }
  }
  const addresses = new Map(context.addresses());
  addresses.set(request.id, { peer: request.peer, http: request.http });
  const { identity } = context;
  return {
    clusterId: identity.clusterId,
    memberIds: identity.memberIds,
    shardCount: identity.shardCount,
    replicationFactor: identity.replicationFactor,
    members: [...addresses].map(([id, address]) => ({ id, peer: address.peer, http: address.http })),
  };
}

/** How long a joining node keeps asking before it gives up, and how often. */
export const JOIN_TIMEOUT_MS = 60_000;
const JOIN_RETRY_MS = 500;

/** The joining node's side: asks the member at `address` (its transport dials it under ANY_MEMBER_ID) until it
 * answers; a refusal (BAD_REQUEST) is final, anything else is retried until JOIN_TIMEOUT_MS. */
export async function askToJoin(
  transport: PeerTransport,
  address: string,
  request: JoinRequest,
  log: (message: string) => void,
  timeoutMs = JOIN_TIMEOUT_MS,
): Promise<JoinAnswer> {
  transport.setPeer(ANY_MEMBER_ID, address);
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  try {
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      try {
        return parseJoinAnswer(await transport.request(ANY_MEMBER_ID, request, 5_000));
      } catch (error) {
        if (error instanceof ShoalError && error.code === "BAD_REQUEST") throw error;
        lastError = error;
        if (attempt % 10 === 0) log(`Asking the member at ${address} to join the cluster…`);
        await new Promise((resolve) => setTimeout(resolve, JOIN_RETRY_MS));
      }
    }
  } finally {
    transport.removePeer(ANY_MEMBER_ID);
  }
  throw new ShoalError(
    "UNAVAILABLE",
    `Cannot join through ${address}: no member answered there within ${timeoutMs / 1000} s ` +
      `(${lastError instanceof Error ? lastError.message : String(lastError)})`,
  );
}

function parseJoinAnswer(value: unknown): JoinAnswer {
  const answer = value as Partial<JoinAnswer> | null;
  const isId = (id: unknown): id is NodeId => Number.isSafeInteger(id) && (id as number) >= 1;
  if (
    answer === null ||
    typeof answer !== "object" ||
    typeof answer.clusterId !== "string" ||
    !Array.isArray(answer.memberIds) ||
    !answer.memberIds.every(isId) ||
    !isId(answer.shardCount) ||
    !isId(answer.replicationFactor) ||
    !Array.isArray(answer.members) ||
    !answer.members.every((m) => isId(m?.id) && typeof m.peer === "string" && typeof m.http === "string")
  ) {
    throw new ShoalError("INTERNAL", "The member answered the join request with something else than a join answer");
  }
  return answer as JoinAnswer;
}
