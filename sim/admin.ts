/**
 * @module SimAdmin: the operator, and the replica mover of src/node/ as the real node runs it. Now and then it
 * changes the membership it wants — removes a voter (the leader itself now and then), brings a removed node back,
 * or moves the seat of one voter to the node that is out (a replica move) — and on every look the leader closes
 * the gap one single-server change at a time (thesis, section 4.1), each step chosen by the node's own pure
 * planner (`nextMoveStep` with `gapOf`): a learner first, promoted once caught up, leadership handed away before
 * the leader's own removal, a voter removed only while the voters left hold a caught-up majority. The move-safety
 * checker (checkers/move-safety.ts) judges each change against the members' actual disks. It also asks the leader
 * to transfer leadership (thesis, section 3.10). In the liveness phase it only restores full membership, and the
 * run requires that to finish.
 */
import type { Prng } from "../src/lib/prng.js";
import { type MoveRules, nextMoveStep } from "../src/node/replica-move.js";
import { gapOf } from "../src/node/replica-mover.js";
import type { ConfChange, ConfState, NodeId } from "../src/raft/types.js";
import { checkMoveStep, holdsOnDisks } from "./checkers/move-safety.js";
import type { SimCluster } from "./cluster.js";
import { nextWantedVoters } from "./wanted-membership.js";

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
  /** Replica moves (one voter's seat to the node that was out) started. */
  moves: number;
}

/** The mover's catch-up slack in the simulator: small, so a log a few entries behind already counts as behind
 * (the node's is MOVE_CATCH_UP_SLACK; the rule is the same). */
export const SIM_MOVE_SLACK = 4;

export class SimAdmin {
  readonly #cluster: SimCluster;
  readonly #random: Prng;
  readonly #settings: AdminSettings;
  readonly #trace: (line: string) => void;
  readonly #rules: MoveRules;
  readonly #checkMoves: boolean;
  #pending: { change: ConfChange; tick: number } | undefined;
  /** The voters the admin wants (the cluster map's part, for this one group). */
  #desired: NodeId[];
  draining = false;
  readonly stats: AdminStats = { changesProposed: 0, transfers: 0, moves: 0 };

  constructor(
    cluster: SimCluster,
    random: Prng,
    settings: AdminSettings,
    trace: (line: string) => void,
    moves: { readonly unsafe?: MoveRules["unsafe"]; readonly check: boolean } = { check: true },
  ) {
    this.#cluster = cluster;
    this.#random = random;
    this.#settings = settings;
    this.#trace = trace;
    this.#rules = { catchUpSlack: SIM_MOVE_SLACK, ...(moves.unsafe === undefined ? {} : { unsafe: moves.unsafe }) };
    this.#checkMoves = moves.check;
    this.#desired = [...cluster.nodeIds];
  }

  step(tick: number): void {
    if (tick % this.#settings.intervalTicks !== 0) return;
    if (this.draining && this.#desired.length !== this.#cluster.nodeIds.length)
      this.#desired = [...this.#cluster.nodeIds];
    const leader = this.#cluster.leader();
    const status = leader?.status();
    if (leader === undefined || status === undefined) return;
    const conf = status.confState;
    if (this.#pending !== undefined) {
      const done = reflects(conf, this.#pending.change);
      if (!done && tick - this.#pending.tick < this.#settings.changeTimeoutTicks) return;
      this.#pending = undefined;
    }
    const move = gapOf(this.#desired, conf);
    if (move === undefined) this.#chooseDesired(leader.id);
    else {
      const next = nextMoveStep(status, move, this.#rules);
      if (next.kind === "confChange") {
        if (this.#checkMoves) {
          checkMoveStep(next.change, {
            status,
            holdsThrough: holdsOnDisks(leader.disk, (id) => this.#cluster.host(id).disk),
            slack: SIM_MOVE_SLACK,
          });
        }
        const result = leader.proposeConfChange(next.change);
        if (result.accepted) {
          this.#pending = { change: next.change, tick };
          this.stats.changesProposed++;
          this.#trace(
            `admin: node ${leader.id} accepted ${next.change.type} ${next.change.nodeId} at index ${result.index}`,
          );
        }
      } else if (next.kind === "transferLeader") {
        this.stats.transfers++;
        this.#trace(`admin: moving voter ${move.from} off: transfer leadership ${leader.id} -> ${next.target}`);
        leader.transferLeader(next.target);
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

  /** With the membership as wanted: maybe want another (a removal, a return, or a move of a seat). */
  #chooseDesired(leaderId: NodeId): void {
    if (this.draining) return;
    const all = this.#cluster.nodeIds;
    if (this.#desired.length === all.length && !this.#random.chance(this.#settings.removeChance)) return;
    const next = nextWantedVoters(this.#desired, all, leaderId, this.#random, this.#settings.removeLeaderChance);
    this.#desired = next.voters;
    if (next.move) this.stats.moves++;
    this.#trace(`admin: wants ${next.description}`);
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
