/**
 * @module Joining the cluster: the peer port is bound first, then the data directory's cluster identity is settled
 * (bootstrap.ts: a new member waits here for the others). Also the peer network Raft sees, which drops messages
 * from a member of another cluster.
 */

import { ShoalError } from "../lib/errors.js";
import type { NodeId } from "../raft/types.js";
import { PeerTransport } from "../transport/index.js";
import { type IdentityAnswer, parseIdentityAnswer, replicationFactorOf, resolveIdentity } from "./bootstrap.js";
import { type ClusterIdentity, deriveClusterId, MembersSeen, readIdentity } from "./identity.js";
import { type NodeOptions, nodeDefaults } from "./node-options.js";
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
  seen: MembersSeen;
  checks: PeerChecks;
  answerIdentity: (asker: NodeId) => IdentityAnswer;
}> {
  const self = options.members.get(options.id);
  if (self === undefined) throw new ShoalError("BAD_REQUEST", `Node ${options.id} is not among the members`);
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
  checks = new PeerChecks({
    identity,
    peers,
    listenAddress,
    ask: askIdentity,
    log: (level, message) => options.logger[level](message),
    intervalMs: PEER_CHECK_INTERVAL_MS,
  });
  return { transport, identity, seen, checks, answerIdentity };
}

/** The peer network Raft sees: messages from a peer found to belong to another cluster are dropped, and a
 * member's first message is recorded (identity.ts, MembersSeen) before Raft acts on it. */
export function membersOnly(transport: PeerTransport, seen: MembersSeen, checks: PeerChecks): PeerNetwork {
  return {
    send: (messages) => transport.send(messages),
    onMessage: (handler) =>
      transport.onMessage((message) => {
        if (checks.isForeign(message.from)) return;
        seen.add(message.from);
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
