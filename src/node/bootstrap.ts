/**
 * @module How a starting node settles which cluster its data directory belongs to (identity.ts has the files).
 *
 * - The directory has an identity: it must be this node's (`--id`) and list the members `--peers` lists;
 *   otherwise the node refuses to start, since voting with another node's log, or counting a quorum over other
 *   members than its peers do, breaks Raft's safety.
 * - The directory holds data but no identity (written before identities existed): the identity is derived
 *   from the flags and written.
 * - The directory is empty: the node is new. It asks every other member who it is and starts only once all of
 *   them have answered and none has ever heard from it (a member that sent Raft messages once had an identity,
 *   so an empty directory now means it lost its data; it may have voted and acknowledged writes it no longer
 *   has, and must not rejoin as the same member). Every member must answer, not just a majority: the one peer
 *   that heard from it may be the one that is down. The cluster id is adopted from members that already have
 *   one (a member added to a running cluster); otherwise it is derived from the member ids and
 *   `--cluster-name`, and every member must derive the same. A brand-new cluster thus bootstraps when all its
 *   members are up, with nothing to type but the same `--peers` on each.
 */
import { ShoalError } from "../lib/errors.js";
import type { NodeId } from "../raft/types.js";
import { defaultReplicationFactor, placementProblem } from "../slots/placement.js";
import {
  type ClusterIdentity,
  deriveClusterId,
  formatIds,
  holdsState,
  readIdentity,
  sameIds,
  writeIdentity,
} from "./identity.js";

/** What a node answers to a peer's `identity` request, while it starts and while it runs. */
export interface IdentityAnswer {
  readonly nodeId: NodeId;
  /** Undefined while its directory has no identity yet (it is bootstrapping too). */
  readonly clusterId: string | undefined;
  /** The id it would give a new cluster (from its member ids and --cluster-name). */
  readonly proposedClusterId: string;
  readonly memberIds: readonly NodeId[];
  /** It has received a Raft message from the asking node before. */
  readonly hasSeenYou: boolean;
}

export interface BootstrapContext {
  readonly dataDir: string;
  readonly nodeId: NodeId;
  /** Every member's id, this node's included (from --peers). */
  readonly memberIds: readonly NodeId[];
  readonly clusterName: string;
  /** The shards this node was started with (--shards). */
  readonly shardCount: number;
  /** Replicas per shard this node was started with (--replicas); undefined: the directory's own, or for a new
   * cluster the default (slots/placement.ts). */
  readonly replicationFactor?: number | undefined;
  /** Asks a peer for its IdentityAnswer; rejects when it cannot be reached. */
  readonly ask: (peer: NodeId) => Promise<IdentityAnswer>;
  readonly log: (message: string) => void;
  /** Between rounds of questions to the members that have not answered. */
  readonly retryIntervalMs: number;
  /** True once the node is stopping: waiting ends with an error. */
  readonly stopped: () => boolean;
}

/** How often the wait for silent members is logged. */
const WAIT_LOG_INTERVAL_MS = 5_000;

/** The directory's identity, written first if the directory is new; throws a one-line ShoalError when the node
 * must not start as this member. */
export async function resolveIdentity(context: BootstrapContext): Promise<ClusterIdentity> {
  const { dataDir, nodeId, memberIds } = context;
  const existing = readIdentity(dataDir);
  if (existing !== undefined) {
    checkExisting(context, existing);
    return existing;
  }
  if (holdsState(dataDir)) {
    // Written before placement: every member held every shard.
    const adopted = newIdentity(
      { ...context, replicationFactor: memberIds.length },
      deriveClusterId(memberIds, context.clusterName, context.shardCount),
    );
    writeIdentity(dataDir, adopted);
    context.log(`Data directory ${dataDir} predates cluster identities; recorded it as cluster ${adopted.clusterId}`);
    return adopted;
  }
  // Before anything is recorded: a placement that cannot run must not become this directory's.
  const problem = placementProblem(memberIds, context.shardCount, replicationFactorOf(context));
  if (problem !== undefined) throw new ShoalError("BAD_REQUEST", problem);
  const clusterId = await agreeOnNewMember(context);
  const identity = newIdentity(context, clusterId);
  writeIdentity(dataDir, identity);
  context.log(`Node ${nodeId} joined cluster ${clusterId} (members ${formatIds(memberIds)}) with an empty directory`);
  return identity;
}

function newIdentity(context: BootstrapContext, clusterId: string): ClusterIdentity {
  const memberIds = [...context.memberIds].sort((a, b) => a - b);
  return {
    clusterId,
    nodeId: context.nodeId,
    memberIds,
    createdAt: new Date().toISOString(),
    shardCount: context.shardCount,
    replicationFactor: replicationFactorOf(context),
  };
}

/** The replicas per shard a new cluster gets: the one asked for, else the default. */
export function replicationFactorOf(
  context: Pick<BootstrapContext, "memberIds" | "replicationFactor" | "shardCount">,
): number {
  return context.replicationFactor ?? defaultReplicationFactor(context.memberIds.length, context.shardCount);
}

function checkExisting(context: BootstrapContext, identity: ClusterIdentity): void {
  const { dataDir, nodeId, memberIds } = context;
  if (identity.nodeId !== nodeId) {
    throw new ShoalError(
      "BAD_REQUEST",
      `Data directory ${dataDir} belongs to node ${identity.nodeId} of cluster ${identity.clusterId}, not node ` +
        `${nodeId}: start it with --id ${identity.nodeId}, or give node ${nodeId} a directory of its own`,
    );
  }
  if (!sameIds(identity.memberIds, memberIds)) {
    throw new ShoalError(
      "BAD_REQUEST",
      `--peers lists members ${formatIds(memberIds)}, but data directory ${dataDir} belongs to cluster ` +
        `${identity.clusterId} with members ${formatIds(identity.memberIds)}: start every member with the same ` +
        "member ids (a member added later joins with --join and is not listed in --peers)",
    );
  }
  if (identity.shardCount !== context.shardCount) {
    throw new ShoalError(
      "BAD_REQUEST",
      `Data directory ${dataDir} belongs to cluster ${identity.clusterId} of ${identity.shardCount} shard(s), but ` +
        `this node was started with --shards ${context.shardCount}: start every member with --shards ` +
        `${identity.shardCount} (changing the shard count of a cluster comes with slot moves, in a later release)`,
    );
  }
  if (context.replicationFactor !== undefined && identity.replicationFactor !== context.replicationFactor) {
    throw new ShoalError(
      "BAD_REQUEST",
      `Data directory ${dataDir} belongs to cluster ${identity.clusterId} of ${identity.replicationFactor} ` +
        `replica(s) per shard, but this node was started with --replicas ${context.replicationFactor}: start it ` +
        `with --replicas ${identity.replicationFactor}, or without the flag`,
    );
  }
}

/** Waits until every other member answered; returns the cluster id to join, or throws why this node must not. */
async function agreeOnNewMember(context: BootstrapContext): Promise<string> {
  const peers = context.memberIds.filter((id) => id !== context.nodeId);
  const answers = new Map<NodeId, IdentityAnswer>();
  let loggedAtMs = Date.now();
  for (;;) {
    const missing = peers.filter((id) => !answers.has(id));
    const results = await Promise.allSettled(missing.map((id) => context.ask(id)));
    results.forEach((result, i) => {
      if (result.status === "fulfilled") answers.set(missing[i] as NodeId, result.value);
    });
    for (const [peer, answer] of answers) refuseIfUnsafe(context, peer, answer);
    if (answers.size === peers.length) return clusterIdFrom(context, answers);
    if (context.stopped()) throw new ShoalError("UNAVAILABLE", "Stopped while waiting for the other members");
    if (Date.now() - loggedAtMs >= WAIT_LOG_INTERVAL_MS) {
      loggedAtMs = Date.now();
      const silent = peers.filter((id) => !answers.has(id));
      context.log(
        `Node ${context.nodeId} has an empty data directory and waits for members ${formatIds(silent)} to answer ` +
          "before it joins: every other member must confirm it has never heard from this node",
      );
    }
    await new Promise((resolve) => setTimeout(resolve, context.retryIntervalMs));
  }
}

function refuseIfUnsafe(context: BootstrapContext, peer: NodeId, answer: IdentityAnswer): void {
  const { dataDir, nodeId, memberIds } = context;
  const cluster = answer.clusterId === undefined ? "" : ` of cluster ${answer.clusterId}`;
  if (answer.hasSeenYou) {
    throw new ShoalError(
      "BAD_REQUEST",
      `Data directory ${dataDir} is empty, but node ${peer}${cluster} has heard from node ${nodeId} before: this ` +
        `node lost its data and must not rejoin as member ${nodeId} (it may have voted and acknowledged writes ` +
        `it no longer has). Remove member ${nodeId} (shoal node remove ${nodeId}) and start this node under a new ` +
        "id with --join",
    );
  }
  if (answer.clusterId !== undefined && !answer.memberIds.includes(nodeId)) {
    throw new ShoalError(
      "BAD_REQUEST",
      `Node ${nodeId} is not a member of cluster ${answer.clusterId} (members ${formatIds(answer.memberIds)}, ` +
        `as node ${peer} says): a new member joins with shoal start --join`,
    );
  }
  if (!sameIds(answer.memberIds, memberIds)) {
    throw new ShoalError(
      "BAD_REQUEST",
      `Node ${peer} has members ${formatIds(answer.memberIds)}, but this node was started with ` +
        `${formatIds(memberIds)}: start every member with the same --peers`,
    );
  }
}

function clusterIdFrom(context: BootstrapContext, answers: ReadonlyMap<NodeId, IdentityAnswer>): string {
  const existing = new Set([...answers.values()].flatMap((answer) => answer.clusterId ?? []));
  if (existing.size > 1) {
    throw new ShoalError(
      "BAD_REQUEST",
      `The other members belong to different clusters (${[...existing].join(", ")}): check every member's --peers`,
    );
  }
  const [adopted] = existing;
  if (adopted !== undefined) return adopted;
  const proposed = deriveClusterId(
    context.memberIds,
    context.clusterName,
    context.shardCount,
    replicationFactorOf(context),
  );
  for (const [peer, answer] of answers) {
    if (answer.proposedClusterId !== proposed) {
      throw new ShoalError(
        "BAD_REQUEST",
        `Node ${peer} would create cluster ${answer.proposedClusterId} and this node ${proposed}: start every ` +
          "member of a new cluster with the same --cluster-name",
      );
    }
  }
  return proposed;
}

/** Checks a peer's answer to an `identity` request (it crossed the network: trust nothing). */
export function parseIdentityAnswer(value: unknown): IdentityAnswer {
  const answer = value as Partial<IdentityAnswer> | undefined;
  const ids = answer?.memberIds;
  if (
    typeof answer !== "object" ||
    answer === null ||
    typeof answer.nodeId !== "number" ||
    (answer.clusterId !== undefined && answer.clusterId !== null && typeof answer.clusterId !== "string") ||
    typeof answer.proposedClusterId !== "string" ||
    !Array.isArray(ids) ||
    !ids.every((id) => typeof id === "number") ||
    typeof answer.hasSeenYou !== "boolean"
  ) {
    throw new ShoalError("BAD_REQUEST", "A peer answered the identity request with something else");
  }
  return {
    nodeId: answer.nodeId,
    clusterId: answer.clusterId ?? undefined,
    proposedClusterId: answer.proposedClusterId,
    memberIds: ids,
    hasSeenYou: answer.hasSeenYou,
  };
}
