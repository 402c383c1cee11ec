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
 * 5. Slots, by key count: given every shard's key count (`keys`), while the fullest shard holds more than
 *    SLOT_BALANCE_RATIO times the emptiest's keys and SLOT_BALANCE_KEYS_MIN more, the fullest shard's highest
 *    slots — about half the difference in keys, taking its keys as spread evenly over its slots, at most
 *    SLOT_STEP_SLOTS_MAX — move to the emptiest (slot moves: node/slot-mover.ts). One slot step at a time: none
 *    while slots move. Key counts are the ones read after the last slot step was done (node/rebalancer.ts), so a
 *    step is never decided on counts that do not show the one before.
 *    The slots it picks are not among the hottest ones (`load.slots`): those are the load step's to place.
 * 6. Slots, by load: given every shard's load (`load`: keys routed to it per second, summed over the members that
 *    routed them, and the hottest slots' own: node/slot-load.ts), while the hottest shard carries more than
 *    LOAD_BALANCE_RATIO times the coldest's load and LOAD_BALANCE_PER_SECOND_MIN more, its hottest slots that
 *    together carry at most half the difference move to the coldest — or, when each carries more than that, the
 *    hottest one carrying less than the whole difference (a slot carrying more would only move the hot spot).
 *    Taken only when keys need no step.
 * Each step moves a bounded amount (one replica, one leadership, a bounded run of slots), and the counts it evens
 * out converge: every replica step lowers the sum of squared counts, and so does every leader step and every slot
 * step (it moves less than the difference, in keys or in load), so the plan ends.
 */
import type { ClusterMap, ShardLayout } from "./cluster-map.js";
import { withReplicaLeft, withReplicaMoved, withSlotsMigrating, withSlotsMoved } from "./cluster-map.js";
import { activeMembers, holdsAnyReplica, withMemberRemoved, withPreferredLeader } from "./membership.js";
import { SlotMap } from "./slot-map.js";

type NodeId = number;

export type RebalanceStep =
  | { readonly kind: "moveReplica"; readonly shard: number; readonly from: NodeId; readonly to: NodeId }
  | { readonly kind: "setLeader"; readonly shard: number; readonly to: NodeId }
  | { readonly kind: "removeMember"; readonly member: NodeId }
  /** Move `slots` from shard `from` to shard `to`, about `keys` keys — and, for a step by load, the keys routed
   * to them per second (`load`). */
  | {
      readonly kind: "moveSlots";
      readonly from: number;
      readonly to: number;
      readonly slots: readonly number[];
      readonly keys: number;
      readonly load?: number;
    };

/** The cluster's load, as the rebalancer reads it (node/slot-load.ts): keys routed per second to each shard, and
 * to each of the hottest slots. */
export interface ShardLoads {
  readonly shards: ReadonlyMap<number, number>;
  readonly slots: ReadonlyMap<number, number>;
}

/** A slot step is taken while the fullest shard holds more than this many times the emptiest's keys … */
export const SLOT_BALANCE_RATIO = 1.25;
/** … and at least this many more keys (small clusters are left alone). */
export const SLOT_BALANCE_KEYS_MIN = 1000;
/** The most slots one slot step moves. */
export const SLOT_STEP_SLOTS_MAX = 1024;
/** A load step is taken while the hottest shard carries more than this many times the coldest's load … */
export const LOAD_BALANCE_RATIO = 1.5;
/** … and at least this many more keys routed per second (a quiet cluster is left alone). */
export const LOAD_BALANCE_PER_SECOND_MIN = 500;

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

/** The next thing to do to `map` (see the module comment for the order); `keys`: every shard's key count, and
 * `load`, the cluster's load, when known (slots are balanced by each only then). */
export function nextRebalanceStep(
  map: ClusterMap,
  leaderOf: LeaderOf,
  keys?: ReadonlyMap<number, number>,
  load?: ShardLoads,
): RebalanceDecision {
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
  // Slots moving (a slot step of this rebalancer, or an operator's): balanced once they are done.
  const migrating = map.migrations?.[0];
  if (migrating !== undefined) return { kind: "moving", shard: migrating.from };
  const slotStep = keys === undefined ? undefined : slotBalanceStep(map, keys, load?.slots);
  if (slotStep !== undefined) return { kind: "step", step: slotStep };
  const loadStep = load === undefined ? undefined : loadBalanceStep(map, load, keys);
  if (loadStep !== undefined) return { kind: "step", step: loadStep };
  return { kind: "balanced" };
}

/** The slot step that evens out the fullest and the emptiest shard by key count, if they differ enough; it leaves
 * the `hot` slots where they are. */
function slotBalanceStep(
  map: ClusterMap,
  keys: ReadonlyMap<number, number>,
  hot: ReadonlyMap<number, number> = new Map(),
): RebalanceStep | undefined {
  const slotMap = SlotMap.fromRanges(map.shards);
  const slotsOf = (id: number): number[] =>
    slotMap
      .rangesOf(id)
      .flatMap(({ from, to }) => Array.from({ length: to - from + 1 }, (_, i) => from + i))
      .filter((slot) => !hot.has(slot));
  const shards = map.shards
    .filter((shard) => shard.retiring !== true && keys.has(shard.id))
    .sort((a, b) => (keys.get(a.id) ?? 0) - (keys.get(b.id) ?? 0) || a.id - b.id);
  const emptiest = shards[0];
  const fullest = shards[shards.length - 1];
  if (emptiest === undefined || fullest === undefined || emptiest === fullest) return undefined;
  const most = keys.get(fullest.id) ?? 0;
  const least = keys.get(emptiest.id) ?? 0;
  if (most - least < SLOT_BALANCE_KEYS_MIN || most <= SLOT_BALANCE_RATIO * least) return undefined;
  const owned = slotsOf(fullest.id);
  if (owned.length < 2) return undefined;
  const perSlot = most / owned.length;
  const count = Math.min(SLOT_STEP_SLOTS_MAX, owned.length - 1, Math.max(1, Math.round((most - least) / 2 / perSlot)));
  const slots = owned.slice(owned.length - count);
  return { kind: "moveSlots", from: fullest.id, to: emptiest.id, slots, keys: Math.round(count * perSlot) };
}

/** The slot step that evens out the hottest and the coldest shard by load, if they differ enough (see the module
 * comment); `keys`, when known, estimates the keys it moves. */
function loadBalanceStep(
  map: ClusterMap,
  load: ShardLoads,
  keys: ReadonlyMap<number, number> | undefined,
): RebalanceStep | undefined {
  const slotMap = SlotMap.fromRanges(map.shards);
  const loadOf = (id: number): number => load.shards.get(id) ?? 0;
  const shards = map.shards
    .filter((shard) => shard.retiring !== true)
    .sort((a, b) => loadOf(a.id) - loadOf(b.id) || a.id - b.id);
  const coldest = shards[0];
  const hottest = shards[shards.length - 1];
  if (coldest === undefined || hottest === undefined || coldest === hottest) return undefined;
  const difference = loadOf(hottest.id) - loadOf(coldest.id);
  if (difference < LOAD_BALANCE_PER_SECOND_MIN || loadOf(hottest.id) <= LOAD_BALANCE_RATIO * loadOf(coldest.id)) {
    return undefined;
  }
  const owned = slotMap.rangesOf(hottest.id).reduce((sum, { from, to }) => sum + to - from + 1, 0);
  const most = Math.min(SLOT_STEP_SLOTS_MAX, owned - 1);
  const candidates = [...load.slots]
    .filter(([slot, rate]) => rate > 0 && slotMap.shardOf(slot) === hottest.id)
    .sort(([slotA, a], [slotB, b]) => b - a || slotA - slotB);
  const slots: number[] = [];
  let moved = 0;
  for (const [slot, rate] of candidates) {
    if (slots.length >= most) break;
    if (moved + rate > difference / 2) continue;
    slots.push(slot);
    moved += rate;
  }
  const single = candidates.find(([, rate]) => rate < difference);
  if (slots.length === 0 && single !== undefined && most >= 1) {
    slots.push(single[0]);
    moved = single[1];
  }
  if (slots.length === 0) return undefined;
  const perSlot = (keys?.get(hottest.id) ?? 0) / Math.max(1, owned);
  return {
    kind: "moveSlots",
    from: hottest.id,
    to: coldest.id,
    slots: slots.sort((a, b) => a - b),
    keys: Math.round(perSlot * slots.length),
    load: Math.round(moved),
  };
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
    case "moveSlots":
      return withSlotsMigrating(map, step.slots, step.to);
  }
}

export interface RebalancePlan {
  readonly steps: readonly RebalanceStep[];
  /** Why the plan stops short of balanced, when it does. */
  readonly blocked?: string;
}

/** Every step from `map` to balanced, as if each replica or slot move finished at once (for `--dry-run` and
 * progress). A move already running is taken as finished; a slot step moves the keys it estimates. Bounded by
 * `maxSteps`. */
export function rebalancePlan(
  map: ClusterMap,
  leaderOf: LeaderOf,
  keys?: ReadonlyMap<number, number>,
  maxSteps = 10_000,
  load?: ShardLoads,
): RebalancePlan {
  let at = finishMoves(map);
  const counts = keys === undefined ? undefined : new Map(keys);
  const loads = load === undefined ? undefined : new Map(load.shards);
  const steps: RebalanceStep[] = [];
  while (steps.length < maxSteps) {
    const decision = nextRebalanceStep(
      at,
      leaderOf,
      counts,
      load === undefined || loads === undefined ? undefined : { shards: loads, slots: load.slots },
    );
    if (decision.kind === "step" && decision.step.kind === "moveSlots") {
      const { from, to, keys: moved, load: carried } = decision.step;
      counts?.set(from, (counts.get(from) ?? 0) - moved);
      counts?.set(to, (counts.get(to) ?? 0) + moved);
      // A key step moves slots none of the hottest are in: as if they carried no load (the hottest are known only).
      loads?.set(from, (loads.get(from) ?? 0) - (carried ?? 0));
      loads?.set(to, (loads.get(to) ?? 0) + (carried ?? 0));
    }
    if (decision.kind === "balanced") return { steps };
    if (decision.kind === "blocked") return { steps, blocked: decision.reason };
    if (decision.kind === "moving") throw new Error("finishMoves leaves no move running");
    steps.push(decision.step);
    at = finishMoves(withRebalanceStep(at, decision.step));
  }
  return { steps, blocked: `more than ${maxSteps} steps` };
}

/** The map once every running replica and slot move is done. */
function finishMoves(map: ClusterMap): ClusterMap {
  let at = map;
  for (const shard of map.shards) for (const member of shard.leaving ?? []) at = withReplicaLeft(at, shard.id, member);
  const moving = at.migrations?.map((m) => m.slot) ?? [];
  return moving.length === 0 ? at : withSlotsMoved(at, moving);
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
