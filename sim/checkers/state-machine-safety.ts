/**
 * @module State Machine Safety (paper, Figure 3 and section 5.4.3): if a node has applied a log entry at a given
 * index, no other node ever applies a different entry at that index. Also: each node applies indexes strictly
 * in order, without gaps and without applying an index twice (within one incarnation; a restart rebuilds the
 * state machine from the disk's snapshot and re-applies from there), and a state restored from a snapshot
 * equals the state any node had after applying that index (the hash chain), which catches a snapshot that was
 * mangled in transfer or taken at the wrong index.
 */
import type { Entry, NodeId, Snapshot } from "../../src/raft/types.js";
import type { HostObserver } from "../observer.js";
import type { SimHost } from "../sim-host.js";
import { payloadKey, type SimStateMachine } from "../state-machine.js";
import { SimViolation } from "./violation.js";

interface AppliedEntry {
  readonly term: number;
  readonly payload: string;
  readonly node: NodeId;
}

export class StateMachineSafetyChecker implements HostObserver {
  readonly #applied = new Map<number, AppliedEntry>();
  /** The state hash after applying each index (by whichever node got there first). */
  readonly #hashes = new Map<number, number>();
  /** Each running node's last applied index (reset when it restarts). */
  readonly #last = new Map<NodeId, number>();

  willApply(host: SimHost, entry: Entry): void {
    const last = this.#last.get(host.id) ?? 0;
    if (entry.index <= last) this.#fail(`node ${host.id} applies index ${entry.index} again (applied ${last})`);
    if (entry.index !== last + 1) this.#fail(`node ${host.id} applies index ${entry.index} after ${last} (a gap)`);
  }

  applied(host: SimHost, entry: Entry, machine: SimStateMachine): void {
    this.#last.set(host.id, entry.index);
    const seen: AppliedEntry = { term: entry.term, payload: payloadKey(entry), node: host.id };
    const recorded = this.#applied.get(entry.index);
    if (recorded === undefined) this.#applied.set(entry.index, seen);
    else if (recorded.term !== seen.term || recorded.payload !== seen.payload) {
      this.#fail(
        `index ${entry.index}: node ${recorded.node} applied term ${recorded.term} ${JSON.stringify(recorded.payload)}, ` +
          `node ${host.id} applied term ${seen.term} ${JSON.stringify(seen.payload)}`,
      );
    }
    this.#checkHash(host, entry.index, machine.hash, "after applying");
  }

  snapshotCorrupt(host: SimHost, snapshot: Snapshot, reason: string): void {
    this.#fail(`node ${host.id} received a snapshot at ${snapshot.metadata.index} that does not decode: ${reason}`);
  }

  stateRestored(host: SimHost, machine: SimStateMachine, cause: "install" | "restart"): void {
    const last = this.#last.get(host.id) ?? 0;
    if (cause === "install" && machine.appliedIndex < last) {
      this.#fail(`node ${host.id} installed a snapshot at ${machine.appliedIndex} after applying ${last}`);
    }
    this.#last.set(host.id, machine.appliedIndex);
    if (machine.appliedIndex > 0) this.#checkHash(host, machine.appliedIndex, machine.hash, `restored (${cause})`);
  }

  #checkHash(host: SimHost, index: number, hash: number, how: string): void {
    const known = this.#hashes.get(index);
    if (known === undefined) this.#hashes.set(index, hash);
    else if (known !== hash) this.#fail(`node ${host.id} state at index ${index} ${how} differs from other nodes'`);
  }

  #fail(message: string): never {
    throw new SimViolation("stateMachineSafety", message);
  }
}
