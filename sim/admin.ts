/**
 * @module SimAdmin: the operator. Now and then it changes the membership through the leader, one server at a
 * time (thesis, section 4.1): it removes a voter, adds the removed node back as a learner, and promotes the
 * learner to voter, so all three kinds of change run under faults. It also asks the leader to transfer
 * leadership (thesis, section 3.10). In the liveness phase it only restores full membership, and the run
 * requires that to finish.
 */
import type { Prng } from "../src/lib/prng.js";
import type { ConfChange, ConfState, NodeId } from "../src/raft/types.js";
import type { SimCluster } from "./cluster.js";

export interface AdminSettings {
  /** How often the admin looks at the cluster. */
  readonly intervalTicks: number;
  /** Chance, at a look with full membership, of removing a voter. */
  readonly removeChance: number;
  /** Chance that the voter removed is the leader itself. */
  readonly removeLeaderChance: number;
  /** Chance, at a look, of a leadership transfer. */
  readonly transferChance: number;
  /** A proposed change not visible in the leader's membership after this long is proposed again. */
  readonly changeTimeoutTicks: number;
}

export interface AdminStats {
  changesProposed: number;
  transfers: number;
}

export class SimAdmin {
  readonly #cluster: SimCluster;
  readonly #random: Prng;
  readonly #settings: AdminSettings;
  readonly #trace: (line: string) => void;
  #pending: { change: ConfChange; tick: number } | undefined;
  draining = false;
  readonly stats: AdminStats = { changesProposed: 0, transfers: 0 };

  constructor(cluster: SimCluster, random: Prng, settings: AdminSettings, trace: (line: string) => void) {
    this.#cluster = cluster;
    this.#random = random;
    this.#settings = settings;
    this.#trace = trace;
  }

  step(tick: number): void {
    if (tick % this.#settings.intervalTicks !== 0) return;
    const leader = this.#cluster.leader();
    const status = leader?.status();
    if (leader === undefined || status === undefined) return;
    const conf = status.confState;
    if (this.#pending !== undefined) {
      const done = reflects(conf, this.#pending.change);
      if (!done && tick - this.#pending.tick < this.#settings.changeTimeoutTicks) return;
      this.#pending = undefined;
    }
    const change = this.#nextChange(conf, leader.id);
    if (change !== undefined) {
      const result = leader.proposeConfChange(change);
      if (result.accepted) {
        this.#pending = { change, tick };
        this.stats.changesProposed++;
        this.#trace(`admin: node ${leader.id} accepted ${change.type} ${change.nodeId} at index ${result.index}`);
      }
    }
    if (!this.draining && leader.alive && this.#random.chance(this.#settings.transferChance)) {
      const others = conf.voters.filter((id) => id !== leader.id);
      if (others.length > 0) {
        const target = this.#random.pick(others);
        this.stats.transfers++;
        this.#trace(`admin: transfer leadership ${leader.id} -> ${target}`);
        leader.transferLeader(target);
      }
    }
  }

  #nextChange(conf: ConfState, leaderId: NodeId): ConfChange | undefined {
    const missing = this.#cluster.nodeIds.filter((id) => !conf.voters.includes(id) && !conf.learners.includes(id));
    const missingId = missing[0];
    if (missingId !== undefined) return { type: "addLearner", nodeId: missingId };
    const learner = conf.learners[0];
    if (learner !== undefined) return { type: "addVoter", nodeId: learner };
    if (this.draining || !this.#random.chance(this.#settings.removeChance)) return undefined;
    const others = conf.voters.filter((id) => id !== leaderId);
    const removeLeader = others.length === 0 || this.#random.chance(this.#settings.removeLeaderChance);
    return { type: "removeNode", nodeId: removeLeader ? leaderId : this.#random.pick(others) };
  }

  /** Full membership (every node a voter) and no change in flight: what the liveness phase waits for. */
  settled(conf: ConfState): boolean {
    const idle = this.#pending === undefined || reflects(conf, this.#pending.change);
    return idle && conf.learners.length === 0 && conf.voters.length === this.#cluster.nodeIds.length;
  }
}

function reflects(conf: ConfState, change: ConfChange): boolean {
  switch (change.type) {
    case "addVoter":
      return conf.voters.includes(change.nodeId);
    case "addLearner":
      return conf.learners.includes(change.nodeId);
    case "removeNode":
      return !conf.voters.includes(change.nodeId) && !conf.learners.includes(change.nodeId);
  }
}
