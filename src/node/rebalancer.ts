/**
 * @module The rebalancer (issue 13): on the meta group's leader, a round every `intervalMs` asks the pure planner
 * (slots/rebalance-plan.ts) for the next step — drain a member being removed, even out replicas, even out
 * preferred leaders, remove a drained member — and records it in the cluster map. The replica mover on the
 * shard's leader carries a replica move out (replica-mover.ts); the leader balancer moves leadership
 * (leader-balancer.ts); the slot mover on each source shard's leader moves slots (slot-mover.ts). One step per
 * round, one replica move and one run of slot moves in the whole cluster at a time: a bounded amount of work
 * whatever the imbalance. Slots are balanced by the shards' key counts, read (from each shard's leader) every
 * KEY_COUNTS_MS while no slot moves, so a slot step is decided on counts taken after the one before was done — and
 * then by load (the members' slot-load reports, node/slot-load.ts), read alongside.
 *
 * It decides from the map it is about to change (inside the compare-and-set), so a step is never taken on a map
 * another member changed meanwhile; and only the meta group's leader acts, so a leader change loses nothing: the
 * next leader asks the planner the same question.
 */
import type { Logger } from "pino";
import type { ClusterMap } from "../slots/cluster-map.js";
import {
  type LeaderOf,
  nextRebalanceStep,
  type RebalanceDecision,
  type RebalanceStep,
  type ShardLoads,
  withRebalanceStep,
} from "../slots/rebalance-plan.js";

export interface RebalancerOptions {
  /** Whether this node leads the meta group now. */
  readonly leadsMeta: () => boolean;
  /** The newest map this node follows. */
  readonly map: () => ClusterMap;
  readonly leaderOf: LeaderOf;
  /** What slot steps are decided on (read together: one round of questions to the members). */
  readonly shardFigures?: () => Promise<ShardFigures>;
  /** Records the map `change` makes of the newest recorded one (ClusterMapKeeper.update). */
  readonly update: (change: (map: ClusterMap) => ClusterMap) => Promise<ClusterMap>;
  readonly intervalMs: number;
  readonly logger: Pick<Logger, "info" | "debug" | "warn">;
}

/** Every shard's stored key count, from its leader (undefined when one did not answer), and the cluster's load,
 * every member's report summed (undefined when not known: one shard). */
export interface ShardFigures {
  readonly keys: ReadonlyMap<number, number> | undefined;
  readonly load: ShardLoads | undefined;
}

/** What the rebalancer did, for /metrics. */
export interface RebalancerCounters {
  replicaMoves: number;
  leaderChanges: number;
  membersRemoved: number;
  /** Slot steps recorded, and the slots they moved. */
  slotSteps: number;
  slotsMoved: number;
}

/** How often the key counts behind slot steps are read again (while no slot moves). */
const KEY_COUNTS_MS = 10_000;

export class Rebalancer {
  readonly counters: RebalancerCounters = {
    replicaMoves: 0,
    leaderChanges: 0,
    membersRemoved: 0,
    slotSteps: 0,
    slotsMoved: 0,
  };
  /** The key counts (and the load) slot steps are decided on, and when they were read; dropped when a slot step is
   * taken. */
  #keys:
    | { readonly counts: ReadonlyMap<number, number>; readonly load: ShardLoads | undefined; readonly atMs: number }
    | undefined;
  readonly #options: RebalancerOptions;
  #busy = false;
  #timer: NodeJS.Timeout | undefined;
  #lastBlocked = "";

  constructor(options: RebalancerOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => void this.round(), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** What the planner says of the map this node follows (for `GET /v1/admin/rebalance`). */
  decision(): RebalanceDecision {
    return nextRebalanceStep(this.#options.map(), this.#options.leaderOf, this.#keys?.counts, this.#keys?.load);
  }

  /** The key counts a plan is made with (the last ones read, for `GET /v1/admin/rebalance`). */
  get keyCounts(): ReadonlyMap<number, number> | undefined {
    return this.#keys?.counts;
  }

  /** The load a plan is made with (read with the key counts). */
  get shardLoads(): ShardLoads | undefined {
    return this.#keys?.load;
  }

  /** Reads the shards' key counts again when they are old and no slot moves (a count read while slots move, or
   * before the last slot step was done, would not show it). */
  async #refreshKeys(): Promise<void> {
    const read = this.#options.shardFigures;
    if (read === undefined || (this.#options.map().migrations?.length ?? 0) > 0) return;
    if (this.#keys !== undefined && Date.now() - this.#keys.atMs < KEY_COUNTS_MS) return;
    const figures = await read().catch(() => undefined);
    // Slots may have started moving while the counts were asked: then they are not a base for a step.
    if (figures?.keys !== undefined && (this.#options.map().migrations?.length ?? 0) === 0) {
      this.#keys = { counts: figures.keys, load: figures.load, atMs: Date.now() };
    }
  }

  /** One round: records the next step, if this node leads the meta group and there is one. */
  async round(): Promise<void> {
    const { leadsMeta, logger } = this.#options;
    if (this.#busy || !leadsMeta()) return;
    this.#busy = true;
    try {
      await this.#refreshKeys();
    } finally {
      this.#busy = false;
    }
    const decision = this.decision();
    if (decision.kind === "blocked" && decision.reason !== this.#lastBlocked) {
      this.#lastBlocked = decision.reason;
      logger.warn({ reason: decision.reason }, "The rebalancer cannot go on");
    }
    if (decision.kind !== "step") return;
    this.#busy = true;
    let taken: RebalanceStep | undefined;
    try {
      await this.#options.update((map) => {
        // Decided again on the map being changed: the one this node follows may be a moment old.
        const now = nextRebalanceStep(map, this.#options.leaderOf, this.#keys?.counts, this.#keys?.load);
        taken = now.kind === "step" ? now.step : undefined;
        return taken === undefined ? map : withRebalanceStep(map, taken);
      });
      if (taken !== undefined) this.#count(taken);
    } catch (error) {
      logger.debug({ err: error }, "Recording a rebalance step failed; the next round tries again");
    } finally {
      this.#busy = false;
    }
  }

  #count(step: RebalanceStep): void {
    const { logger } = this.#options;
    switch (step.kind) {
      case "moveReplica":
        this.counters.replicaMoves++;
        logger.info(step, "Rebalancer: moving a replica");
        break;
      case "setLeader":
        this.counters.leaderChanges++;
        logger.info(step, "Rebalancer: choosing a shard's leader");
        break;
      case "removeMember":
        this.counters.membersRemoved++;
        logger.info(step, "Rebalancer: removing a drained member");
        break;
      case "moveSlots":
        this.counters.slotSteps++;
        this.counters.slotsMoved += step.slots.length;
        this.#keys = undefined; // read again once these slots are moved
        logger.info(
          { from: step.from, to: step.to, slots: step.slots.length, keys: step.keys },
          "Rebalancer: moving slots to even out keys",
        );
        break;
    }
  }
}
