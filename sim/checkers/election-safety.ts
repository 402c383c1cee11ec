/**
 * @module Election Safety (paper, Figure 3): at most one leader can be elected in a given term. A node counts as
 * leader of a term when its Ready reports role "leader", and also whenever it sends a message only a leader sends
 * (AppendEntries, heartbeat, InstallSnapshot, TimeoutNow, a ReadIndex answer) — so a leadership that starts and
 * ends between two Readies is still seen. A node elected twice in one term, before and after a restart, is a
 * violation too: it can only campaign in a term again if it forgot that term (two elections, two logs).
 */
import type { Message, NodeId } from "../../src/raft/types.js";
import type { HostObserver } from "../observer.js";
import { SimViolation } from "./violation.js";

const LEADER_ONLY = new Set<Message["type"]>([
  "appendEntries",
  "heartbeat",
  "installSnapshot",
  "timeoutNow",
  "readIndexResponse",
]);

/** What this checker needs of a host: the model host and the real node's (sim/node/) both have it. */
export interface ElectedHost {
  readonly id: NodeId;
  /** Counts restarts. */
  readonly incarnation: number;
}

export class ElectionSafetyChecker implements HostObserver {
  readonly #leaders = new Map<number, NodeId>();
  /** The incarnation of the node that was elected in each term. */
  readonly #incarnations = new Map<number, number>();

  leaderElected(host: ElectedHost, term: number): void {
    this.#note(host.id, term, "became leader");
    const incarnation = this.#incarnations.get(term);
    if (incarnation === undefined) this.#incarnations.set(term, host.incarnation);
    else if (incarnation !== host.incarnation) {
      throw new SimViolation(
        "electionSafety",
        `node ${host.id} was elected twice in term ${term} (incarnations ${incarnation} and ${host.incarnation}): it forgot its term`,
      );
    }
  }

  messageSent(message: Message): void {
    if (LEADER_ONLY.has(message.type)) this.#note(message.from, message.term, `sent ${message.type}`);
  }

  #note(node: NodeId, term: number, how: string): void {
    const known = this.#leaders.get(term);
    if (known === undefined) {
      this.#leaders.set(term, node);
      return;
    }
    if (known !== node) {
      throw new SimViolation("electionSafety", `two leaders in term ${term}: node ${known} and node ${node} (${how})`);
    }
  }

  /** The leader of each term seen so far (scenario tests). */
  leaders(): ReadonlyMap<number, NodeId> {
    return this.#leaders;
  }
}
