/**
 * @module Spreads the leadership of a node's groups over the members, so that with S shards on N nodes every
 * node's core does a share of the work (issue 12: balanced within one). Each group has a preferred leader —
 * placement's choice (slots/placement.ts), which spreads them within one — and a leader that is not its group's
 * preferred one hands leadership over (RaftHost.transferLeader) once the preferred member holds the whole log.
 * Only the current leader acts, so there is nothing to coordinate: a preferred member that is down or behind is
 * simply not chosen, and the check repeats. The meta group's balancer (placement with R < N) replaces this later.
 */
import type { GroupId, NodeId } from "../raft/types.js";
import type { RaftHost } from "./raft-host.js";

export class LeaderBalancer {
  readonly #hosts: Iterable<readonly [GroupId, Pick<RaftHost, "raw" | "transferLeader">]>;
  readonly #intervalMs: number;
  readonly #live: (id: NodeId) => boolean;
  readonly #preferred: (groupId: GroupId) => NodeId;
  #timer: NodeJS.Timeout | undefined;

  /** `live`: node-level liveness (node-liveness.ts). A dead member's match index stays where it was, so in an idle
   * group it still looks caught up: without this the leader would try every round to hand over to it, refusing
   * proposals while each attempt lasts (an election timeout). `preferred`: the member that should lead a group
   * when it is up and caught up. */
  constructor(
    hosts: Iterable<readonly [GroupId, Pick<RaftHost, "raw" | "transferLeader">]>,
    intervalMs: number,
    live: (id: NodeId) => boolean,
    preferred: (groupId: GroupId) => NodeId,
  ) {
    this.#hosts = hosts;
    this.#intervalMs = intervalMs;
    this.#live = live;
    this.#preferred = preferred;
  }

  start(): void {
    this.#timer = setInterval(() => this.balance(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One round: each group this node leads but should not goes to its preferred member if that one is caught up. */
  balance(): void {
    for (const [groupId, host] of this.#hosts) {
      const status = host.raw.status();
      if (status.role !== "leader") continue;
      const preferred = this.#preferred(groupId);
      if (!status.confState.voters.includes(preferred) || preferred === status.id || !this.#live(preferred)) continue; // down: keep leading
      if ((status.matchIndex.get(preferred) ?? 0) < status.lastIndex) continue; // behind: keep leading
      host.transferLeader(preferred);
    }
  }
}
