/**
 * @module The disruption checker, for the dedicated scenario where a partitioned node rejoins a healthy cluster.
 * Once armed with the healthy leader and its term, no other node may become leader and the leader must keep its
 * role and term to the end. PreVote (thesis, section 9.6) keeps the isolated node from raising its term, and
 * CheckQuorum's lease makes the others ignore it; without them, its higher term deposes the leader when it
 * rejoins (thesis, section 4.2.3 describes the same disruption from removed servers).
 */
import type { NodeId } from "../../src/raft/types.js";
import type { SimCluster } from "../cluster.js";
import type { HostObserver } from "../observer.js";
import type { SimHost } from "../sim-host.js";
import { SimViolation } from "./violation.js";

export class DisruptionChecker implements HostObserver {
  #leader: { id: NodeId; term: number } | undefined;

  arm(leader: NodeId, term: number): void {
    this.#leader = { id: leader, term };
  }

  leaderElected(host: SimHost, term: number): void {
    const leader = this.#leader;
    if (leader !== undefined && (host.id !== leader.id || term !== leader.term)) {
      this.#fail(`node ${host.id} became leader of term ${term}; node ${leader.id} of term ${leader.term} was healthy`);
    }
  }

  /** Called after every tick. */
  check(cluster: SimCluster): void {
    const leader = this.#leader;
    if (leader === undefined) return;
    const status = cluster.host(leader.id).status();
    if (status === undefined) this.#fail(`leader ${leader.id} is down`);
    if (status.role !== "leader" || status.term !== leader.term) {
      this.#fail(`leader ${leader.id} of term ${leader.term} was deposed: now ${status.role} in term ${status.term}`);
    }
  }

  #fail(message: string): never {
    throw new SimViolation("disruption", message);
  }
}
