/**
 * @module Joining the cluster: the peer port is bound first, then the data directory's cluster identity is settled
 * (bootstrap.ts: a new member waits here for the others). Also the peer network Raft sees, which drops messages
 * from a member of another cluster.
 */

import { ShoalError } from "../lib/errors.js";
import { isMemberId, MEMBER_ID_MAX, memberOfReplica } from "../lib/replica-id.js";
import type { NodeId } from "../raft/types.js";
import { PeerTransport } from "../transport/index.js";
import { type IdentityAnswer, parseIdentityAnswer, replicationFactorOf, resolveIdentity } from "./bootstrap.js";
import {
  type ClusterIdentity,
  deriveClusterId,
  holdsState,
  MembersSeen,
  readIdentity,
  readKnownMembers,
  writeIdentity,
  writeKnownMembers,
} from "./identity.js";
import { askToJoin, JOIN_TIMEOUT_MS, type JoinAnswer } from "./join-request.js";
import { type MemberAddress, type NodeOptions, nodeDefaults } from "./node-options.js";
import { PeerChecks } from "./peer-checks.js";
import { isIdentityRequest, peerRequest } from "./peer-rpc.js";
import type { PeerNetwork } from "./ports.js";

/** How often a running node asks its peers who they are (peer-checks.ts). */
const PEER_CHECK_INTERVAL_MS = 2_000;

/** Binds the peer port, then settles which cluster the data directory belongs to (bootstrap.ts: a new member
 * waits here for the others); until the node is built, the transport answers only who this node is. */
export async function joinCluster(
  options: NodeOptions,
  memberIds: readonly NodeId[],
  undo: (() => Promise<void> | void)[],
): Promise<{
  transport: PeerTransport;
  identity: ClusterIdentity;
  /** Every member's addresses: `options.members`, or what the member a joining node asked answered. */
  members: ReadonlyMap<NodeId, MemberAddress>;
  seen: MembersSeen;
  checks: PeerChecks;
  answerIdentity: (asker: NodeId) => IdentityAnswer;
}> {
  const self = options.members.get(options.id);
  if (self === undefined) throw new ShoalError("BAD_REQUEST", `Node ${options.id} is not among the members`);
  const outOfRange = [...options.members.keys()].find((id) => !isMemberId(id));
  if (outOfRange !== undefined) {
    // A replica id's member is its remainder modulo MEMBER_ID_LIMIT (lib/replica-id.ts): larger ids would collide.
    throw new ShoalError("BAD_REQUEST", `Member ids are integers from 1 to ${MEMBER_ID_MAX}, not ${outOfRange}`);
  }
  const clusterName = options.clusterName ?? nodeDefaults.clusterName;
  const seen = MembersSeen.load(options.dataDir);
  let identity = readIdentity(options.dataDir);
  const answerIdentity = (asker: NodeId): IdentityAnswer => ({
    nodeId: options.id,
    clusterId: identity?.clusterId,
    proposedClusterId: deriveClusterId(
      memberIds,
      clusterName,
      options.shards ?? 1,
      replicationFactorOf({ memberIds, replicationFactor: options.replicas, shardCount: options.shards ?? 1 }),
    ),
    memberIds,
    hasSeenYou: seen.has(asker),
  });
  const peers = new Map<NodeId, string>();
  for (const [id, member] of options.members) if (id !== options.id) peers.set(id, member.peer);
  const listenAddress = options.peerListen ?? self.peer;
  const [listenHost, listenPort] = splitHostPort(listenAddress);
  let checks: PeerChecks | undefined;
  const transport = new PeerTransport({
    selfId: options.id,
    listenHost,
    listenPort,
    peers,
    logger: options.logger,
    onMisdirectedHello: (from, to) => checks?.misdirected(from, to),
  });
  // Until the node is built it answers only who it is (other members may be bootstrapping and asking).
  transport.onRequest(async (from, payload) => {
    if (isIdentityRequest(payload)) return answerIdentity(from);
    throw new ShoalError("UNAVAILABLE", `Node ${options.id} is starting`);
  });
  await transport.start();
  undo.push(() => transport.stop());
  const askIdentity = async (peer: NodeId): Promise<IdentityAnswer> =>
    parseIdentityAnswer(await transport.request(peer, peerRequest.identity(), 1000));
  let members: ReadonlyMap<NodeId, MemberAddress> = options.members;
  if (options.join !== undefined) {
    const joined = await joinThrough(options, options.join, transport, identity);
    identity = joined.identity;
    members = joined.members;
    for (const [id, member] of members) {
      if (id === options.id) continue;
      peers.set(id, member.peer);
      transport.setPeer(id, member.peer);
    }
    checks = peerChecksOf(options, identity, peers, listenAddress, askIdentity);
    return { transport, identity, members, seen, checks, answerIdentity };
  }
  identity = await resolveIdentity({
    dataDir: options.dataDir,
    nodeId: options.id,
    memberIds,
    clusterName,
    shardCount: options.shards ?? 1,
    replicationFactor: options.replicas,
    ask: askIdentity,
    log: (message) => {
      options.logger.info(message);
      options.onStartupProgress?.(message);
    },
    retryIntervalMs: 250,
    stopped: () => false,
  });
  checks = peerChecksOf(options, identity, peers, listenAddress, askIdentity);
  return { transport, identity, members, seen, checks, answerIdentity };
}

function peerChecksOf(
  options: NodeOptions,
  identity: ClusterIdentity,
  peers: ReadonlyMap<NodeId, string>,
  listenAddress: string,
  ask: (peer: NodeId) => Promise<IdentityAnswer>,
): PeerChecks {
  return new PeerChecks({
    identity,
    peers,
    listenAddress,
    ask,
    log: (level, message) => options.logger[level](message),
    intervalMs: PEER_CHECK_INTERVAL_MS,
  });
}

/** How long a restarting node that joined asks the member it joins through before it starts with the members it
 * knew. */
const RESTART_ASK_MS = 10_000;

/**
 * A node started with `--join`: asks the member at `address` to let it in (join-request.ts) and records the
 * cluster in its data directory the first time. Throws a one-line ShoalError when it must not start: a directory
 * of another cluster, or one holding data but no identity.
 */
async function joinThrough(
  options: NodeOptions,
  address: string,
  transport: PeerTransport,
  existing: ClusterIdentity | undefined,
): Promise<{ identity: ClusterIdentity; members: ReadonlyMap<NodeId, MemberAddress> }> {
  const self = options.members.get(options.id) as MemberAddress;
  if (existing === undefined && holdsState(options.dataDir)) {
    throw new ShoalError(
      "BAD_REQUEST",
      `Data directory ${options.dataDir} holds data but no cluster identity: a joining node starts with an empty one`,
    );
  }
  if (existing !== undefined && existing.nodeId !== options.id) {
    throw new ShoalError(
      "BAD_REQUEST",
      `Data directory ${options.dataDir} belongs to node ${existing.nodeId}, not node ${options.id}: start it with ` +
        `--id ${existing.nodeId}, or give node ${options.id} a directory of its own`,
    );
  }
  const log = (message: string): void => {
    options.logger.info(message);
    options.onStartupProgress?.(message);
  };
  // A restart of a node that joined: the member it joins through may be down. It asks for a while, then starts
  // with the members it knew (its meta replica then learns the map's members from whichever answers).
  const known = existing === undefined ? undefined : readKnownMembers(options.dataDir);
  let answer: JoinAnswer;
  try {
    answer = await askToJoin(
      transport,
      address,
      { kind: "join", id: options.id, peer: self.peer, http: self.http, restart: existing !== undefined },
      log,
      known === undefined ? JOIN_TIMEOUT_MS : RESTART_ASK_MS,
    );
  } catch (error) {
    if (
      known === undefined ||
      existing === undefined ||
      !(error instanceof ShoalError) ||
      error.code !== "UNAVAILABLE"
    ) {
      throw error;
    }
    log(`The member at ${address} does not answer; starting with the ${known.size} members this node knew`);
    known.set(options.id, self);
    return { identity: existing, members: known };
  }
  if (existing !== undefined && existing.clusterId !== answer.clusterId) {
    throw new ShoalError(
      "BAD_REQUEST",
      `Data directory ${options.dataDir} belongs to cluster ${existing.clusterId}, but the member at ${address} ` +
        `is of cluster ${answer.clusterId}: --join a member of this node's own cluster`,
    );
  }
  const identity: ClusterIdentity = existing ?? {
    clusterId: answer.clusterId,
    nodeId: options.id,
    memberIds: [...answer.memberIds],
    createdAt: new Date().toISOString(),
    shardCount: answer.shardCount,
    replicationFactor: answer.replicationFactor,
  };
  if (existing === undefined) {
    writeIdentity(options.dataDir, identity);
    options.logger.info(`Node ${options.id} joined cluster ${identity.clusterId} through ${address}`);
  }
  const members = new Map(answer.members.map(({ id, peer, http }) => [id, { peer, http }] as const));
  members.set(options.id, self);
  writeKnownMembers(options.dataDir, members);
  return { identity, members };
}

/** The peer network Raft sees: messages from a peer found to belong to another cluster are dropped, and a
 * member's first message is recorded (identity.ts, MembersSeen) before Raft acts on it. */
export function membersOnly(transport: PeerTransport, seen: MembersSeen, checks: PeerChecks): PeerNetwork {
  return {
    send: (messages) => transport.send(messages),
    onMessage: (handler) =>
      transport.onMessage((message) => {
        const from = memberOfReplica(message.from); // a replica id (lib/replica-id.ts)
        if (checks.isForeign(from)) return;
        seen.add(from);
        handler(message);
      }),
    request: (to, payload, timeoutMs) => transport.request(to, payload, timeoutMs),
    onRequest: (handler) => transport.onRequest(handler),
  };
}

function splitHostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ShoalError("BAD_REQUEST", `Cannot parse address "${address}": expected host:port`);
  }
  return [address.slice(0, colon), port];
}
