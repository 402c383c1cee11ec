/**
 * @module The driver of replica moves on each node: for every group this node leads, the members the cluster map
 * says should hold it are compared with the members its Raft group counts, and the next step of the move that
 * closes the gap is taken (replica-move.ts decides which, and when it is safe). One step per group at a time; a
 * round every `intervalMs` looks again. Once the group no longer counts a member the map still lists as leaving,
 * the map is told (`markLeft`), and that member deletes its replica.
 *
 * Only the group's leader acts, and it acts from what the map and its own Raft status say now, so nothing is lost
 * when a leader fails midway: the next one finds the same gap and takes the step it calls for.
 */
import type { Logger } from "pino";
import { memberOfReplica } from "../lib/replica-id.js";
import type { GroupId, NodeId } from "../raft/types.js";
import type { ClusterLayout } from "../slots/cluster-layout.js";
import type { RaftHost } from "./raft-host.js";
import { type MoveRules, nextMoveStep, type ReplicaMove } from "./replica-move.js";

export interface ReplicaMoverOptions {
  readonly layout: Pick<ClusterLayout, "votersOf" | "leavingReplicasOf">;
  /** This node's replicas of the shards and of the meta group (whose voters are every member), read each round. */
  readonly hosts: () => Iterable<readonly [GroupId, Pick<RaftHost, "raw" | "proposeConfChange" | "transferLeader">]>;
  /** Records in the cluster map that shard `shardId`'s group no longer counts `member`'s replica. */
  readonly markLeft: (shardId: GroupId, member: NodeId) => Promise<unknown>;
  readonly intervalMs: number;
  readonly logger: Pick<Logger, "info" | "debug">;
  /** The planner's rules (replica-move.ts); the default's slack unless a simulator asks for another. */
  readonly rules?: MoveRules;
}

/** What the mover did, for /metrics. */
export interface MoverCounters {
  /** Membership changes proposed (learner added, promoted, member removed). */
  confChanges: number;
  /** Leadership handed away by a leaving leader. */
  transfers: number;
  /** Replicas whose move finished (the map no longer lists them as leaving). */
  movesFinished: number;
  /** Seconds those moves took, from when this node (as the shard's leader) first saw the move to the map's record
   * of its end: a leader that took over midway counts from then. */
  moveSeconds: number;
}

export class ReplicaMover {
  readonly counters: MoverCounters = { confChanges: 0, transfers: 0, movesFinished: 0, moveSeconds: 0 };
  /** When this node, leading the group, first saw each move in progress. */
  readonly #startedAtMs = new Map<GroupId, number>();
  readonly #options: ReplicaMoverOptions;
  /** Groups with a step in flight. */
  readonly #busy = new Set<GroupId>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ReplicaMoverOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => this.round(), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One look at every group this node leads. */
  round(): void {
    const { layout, logger } = this.#options;
    for (const [groupId, host] of this.#options.hosts()) {
      if (this.#busy.has(groupId)) continue;
      const status = host.raw.status();
      if (status.role !== "leader") {
        this.#startedAtMs.delete(groupId); // timed again from when it leads again
        continue;
      }
      const move = gapOf(layout.votersOf(groupId), status.confState);
      if (move === undefined) {
        const { voters, learners } = status.confState;
        const left = layout.leavingReplicasOf(groupId).find((id) => !voters.includes(id) && !learners.includes(id));
        if (left !== undefined) {
          this.#run(groupId, async () => {
            await this.#options.markLeft(groupId, memberOfReplica(left));
            this.counters.movesFinished++;
            const started = this.#startedAtMs.get(groupId);
            this.#startedAtMs.delete(groupId);
            if (started !== undefined) this.counters.moveSeconds += (Date.now() - started) / 1000;
            logger.info({ shard: groupId, member: left }, "Replica move finished");
          });
        }
        continue;
      }
      if (!this.#startedAtMs.has(groupId)) this.#startedAtMs.set(groupId, Date.now());
      const step = nextMoveStep(status, move, this.#options.rules);
      switch (step.kind) {
        case "confChange":
          logger.info({ shard: groupId, change: step.change }, "Replica move: membership change");
          this.counters.confChanges++;
          this.#run(groupId, () => host.proposeConfChange(step.change));
          break;
        case "transferLeader":
          logger.info({ shard: groupId, to: step.target }, "Replica move: handing leadership away");
          this.counters.transfers++;
          host.transferLeader(step.target);
          break;
        case "wait":
          logger.debug({ shard: groupId, reason: step.reason }, "Replica move waits");
          break;
        case "notLeader":
        case "done":
          break;
      }
    }
  }

  #run(groupId: GroupId, step: () => Promise<unknown>): void {
    this.#busy.add(groupId);
    step()
      .catch((error: unknown) => this.#options.logger.debug({ err: error, shard: groupId }, "Replica move step failed"))
      .finally(() => this.#busy.delete(groupId));
  }
}

/** The move that brings a group's Raft membership to `desired`: a desired member it lacks as voter, and a member
 * it counts that is not desired (a voter first, then a learner). Undefined when they agree. */
export function gapOf(
  desired: readonly NodeId[],
  conf: { readonly voters: readonly NodeId[]; readonly learners: readonly NodeId[] },
): ReplicaMove | undefined {
  const to = desired.find((id) => !conf.voters.includes(id)) ?? 0;
  const from =
    conf.voters.find((id) => !desired.includes(id)) ?? conf.learners.find((id) => !desired.includes(id)) ?? 0;
  return to === 0 && from === 0 ? undefined : { from, to };
}
