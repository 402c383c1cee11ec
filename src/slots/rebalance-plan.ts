/**
 * @module What the rebalancer does next (issue 13), as a pure function of the cluster map: the meta group's leader
 * asks it each round and records the step it names (node/rebalancer.ts); `shoal rebalance --dry-run` asks it
 * again and again over the maps the steps would make (`rebalancePlan`).
 *
 * In order:
 * 1. One replica move at a time in the whole cluster: while a shard lists a member leaving, nothing else moves
 *    (a move streams a whole shard; two at once would double the load on a cluster already busy with one).
 * 2. Drains (`shoal node remove`): each replica of a draining member goes to the active member holding the fewest
 *    that may take it; a drained member is then removed. Drains run even while the rebalancer is paused.
 * 3. Replicas: while one active member holds two or more replicas more than another, one moves from the fullest
 *    to the emptiest that does not hold that shard.
 * 4. Leaders: while one active member is the preferred leader of two or more shards more than another holding a
 *    replica of one of them, that shard's preferred leader becomes the other (the leader balancer on the shard's
 *    replicas then transfers leadership: node/leader-balancer.ts).
 * Each step moves a bounded amount (one replica, or one leadership), and the counts it evens out converge: every
 * replica step lowers the sum of squared counts, and so does every leader step, so the plan ends.
 *
 * Slots are not rebalanced yet: slot moves between shards (ASK/MOVED) are still to build.
 */
import type { ClusterMap, ShardLayout } from "./cluster-map.js";
import { withReplicaLeft, withReplicaMoved } from "./cluster-map.js";
import { activeMembers, holdsAnyReplica, withMemberRemoved, withPreferredLeader } from "./membership.js";

type NodeId = number;

export type RebalanceStep =
  | { readonly kind: "moveReplica"; readonly shard: number; readonly from: NodeId; readonly to: NodeId }
  | { readonly kind: "setLeader"; readonly shard: number; readonly to: NodeId }
  | { readonly kind: "removeMember"; readonly member: NodeId };

export type RebalanceDecision =
  | { readonly kind: "step"; readonly step: RebalanceStep }
  /** A move runs; look again once it is done. */
  | { readonly kind: "moving"; readonly shard: number }
  /** A drain cannot go on (no member may take a replica); `reason` says why. */
  | { readonly kind: "blocked"; readonly reason: string }
  /** Nothing to do: balanced (or paused with no drain left). */
  | { readonly kind: "balanced" };

/** The member that should lead a shard (slots/cluster-layout.ts preferredLeaderOf, bound to the placement). */
export type LeaderOf = (shard: ShardLayout) => NodeId;

/** The next thing to do to `map` (see the module comment for the order). */
export function nextRebalanceStep(map: ClusterMap, leaderOf: LeaderOf): RebalanceDecision {
  const moving = map.shards.find((shard) => (shard.leaving?.length ?? 0) > 0);
  if (moving !== undefined) return { kind: "moving", shard: moving.id };
  const active = activeMembers(map);
  for (const member of map.draining ?? []) {
    if (!holdsAnyReplica(map, member)) return { kind: "step", step: { kind: "removeMember", member } };
    for (const shard of map.shards) {
      if (!shard.replicas.includes(member)) continue;
      const to = emptiestTaker(map, shard, active);
      if (to === undefined) {
        return {
          kind: "blocked",
          reason: `no member may take node ${member}'s replica of shard ${shard.id}: each holds one`,
        };
      }
      return { kind: "step", step: { kind: "moveReplica", shard: shard.id, from: member, to } };
    }
  }
  if (map.rebalancePaused === true) return { kind: "balanced" };
  const replicaStep = replicaBalanceStep(map, active);
  if (replicaStep !== undefined) return { kind: "step", step: replicaStep };
  const leaderStep = leaderBalanceStep(map, active, leaderOf);
  if (leaderStep !== undefined) return { kind: "step", step: leaderStep };
  return { kind: "balanced" };
}

/** The map after `step`, as the rebalancer records it (a replica move starts; it finishes later). */
export function withRebalanceStep(map: ClusterMap, step: RebalanceStep): ClusterMap {
  switch (step.kind) {
    case "moveReplica":
      return withReplicaMoved(map, step.shard, step.from, step.to);
    case "setLeader":
      return withPreferredLeader(map, step.shard, step.to);
    case "removeMember":
      return withMemberRemoved(map, step.member);
  }
}

export interface RebalancePlan {
  readonly steps: readonly RebalanceStep[];
  /** Why the plan stops short of balanced, when it does. */
  readonly blocked?: string;
}

/** Every step from `map` to balanced, as if each replica move finished at once (for `--dry-run` and progress).
 * A move already running is taken as finished. Bounded by `maxSteps`. */
export function rebalancePlan(map: ClusterMap, leaderOf: LeaderOf, maxSteps = 10_000): RebalancePlan {
  let at = finishMoves(map);
  const steps: RebalanceStep[] = [];
  while (steps.length < maxSteps) {
    const decision = nextRebalanceStep(at, leaderOf);
    if (decision.kind === "balanced") return { steps };
    if (decision.kind === "blocked") return { steps, blocked: decision.reason };
    if (decision.kind === "moving") throw new Error("finishMoves leaves no move running");
    steps.push(decision.step);
    at = finishMoves(withRebalanceStep(at, decision.step));
  }
  return { steps, blocked: `more than ${maxSteps} steps` };
}

/** The map once every running replica move is done. */
function finishMoves(map: ClusterMap): ClusterMap {
  let at = map;
  for (const shard of map.shards) for (const member of shard.leaving ?? []) at = withReplicaLeft(at, shard.id, member);
  return at;
}

/** Whether `member` may take a replica of `shard`: it does not hold one (a member that held one before takes it
 * back as a new replica: cluster-map.ts replicaIdIn). */
function mayTake(shard: ShardLayout, member: NodeId): boolean {
  return !shard.replicas.includes(member);
}

/** Replicas per active member. */
function replicaCounts(map: ClusterMap, active: readonly NodeId[]): Map<NodeId, number> {
  const counts = new Map(active.map((id) => [id, 0]));
  for (const shard of map.shards) {
    for (const id of shard.replicas) if (counts.has(id)) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** `ids` by count ascending, then id ascending (deterministic on every node). */
function byCount(counts: ReadonlyMap<NodeId, number>): NodeId[] {
  return [...counts.keys()].sort((a, b) => (counts.get(a) ?? 0) - (counts.get(b) ?? 0) || a - b);
}

function emptiestTaker(map: ClusterMap, shard: ShardLayout, active: readonly NodeId[]): NodeId | undefined {
  return byCount(replicaCounts(map, active)).find((id) => mayTake(shard, id));
}

function replicaBalanceStep(map: ClusterMap, active: readonly NodeId[]): RebalanceStep | undefined {
  const counts = replicaCounts(map, active);
  const order = byCount(counts);
  for (const from of [...order].reverse()) {
    for (const to of order) {
      if ((counts.get(from) ?? 0) - (counts.get(to) ?? 0) < 2) break;
      const shard = map.shards.find((each) => each.replicas.includes(from) && mayTake(each, to));
      if (shard !== undefined) return { kind: "moveReplica", shard: shard.id, from, to };
    }
  }
  return undefined;
}

function leaderBalanceStep(map: ClusterMap, active: readonly NodeId[], leaderOf: LeaderOf): RebalanceStep | undefined {
  const counts = new Map(active.map((id) => [id, 0]));
  const leaders = new Map(map.shards.map((shard) => [shard.id, leaderOf(shard)]));
  for (const id of leaders.values()) if (counts.has(id)) counts.set(id, (counts.get(id) ?? 0) + 1);
  const order = byCount(counts);
  for (const from of [...order].reverse()) {
    for (const to of order) {
      if ((counts.get(from) ?? 0) - (counts.get(to) ?? 0) < 2) break;
      const shard = map.shards.find((each) => leaders.get(each.id) === from && each.replicas.includes(to));
      if (shard !== undefined) return { kind: "setLeader", shard: shard.id, to };
    }
  }
  return undefined;
}
