/**
 * @module Leader Completeness (paper, Figure 3 and section 5.4): if an entry is committed in a term, it is
 * present in the log of every leader of a later term. Checked when a node becomes leader: its log (after the
 * Ready that announced the role was persisted) must hold every entry committed so far with the same term and
 * payload, except those below its own snapshot, which the snapshot covers. And when an entry becomes committed
 * later, by a leader of term C, every node still leading a term above C must already hold it (an older leader
 * that keeps committing after a newer one was elected — possible only if a voter forgot its vote — fails here).
 * C is bounded above by the reporting node's term, so the check never asks too much.
 */

import type { NodeId } from "../../src/raft/types.js";
import type { HostObserver } from "../observer.js";
import type { SimHost } from "../sim-host.js";
import { payloadKey } from "../state-machine.js";
import type { CommitHistory, CommittedEntry } from "./commit-history.js";
import { SimViolation } from "./violation.js";

export class LeaderCompletenessChecker implements HostObserver {
  readonly #history: CommitHistory;
  readonly #hosts: () => readonly SimHost[];
  /** Nodes that became leader, with the term and incarnation; pruned once they no longer lead it. */
  readonly #leaders = new Map<NodeId, { term: number; incarnation: number }>();

  constructor(history: CommitHistory, hosts: () => readonly SimHost[]) {
    this.#history = history;
    this.#hosts = hosts;
    history.onCommitted.push((index, entry) => this.#committed(index, entry));
  }

  #committed(index: number, entry: CommittedEntry): void {
    for (const [id, leadership] of this.#leaders) {
      if (leadership.term <= entry.reportTerm) continue;
      const host = this.#hosts()[id - 1] as SimHost;
      const status = host.status();
      if (host.incarnation !== leadership.incarnation || status?.role !== "leader" || status.term !== leadership.term) {
        this.#leaders.delete(id);
        continue;
      }
      const disk = host.disk;
      const held = index <= disk.snapshot().metadata.index || disk.term(index) === entry.term;
      if (!held) {
        this.#fail(
          host,
          leadership.term,
          index,
          `index ${index} (term ${entry.term}) was committed in term ${entry.reportTerm} or earlier, after it was elected`,
        );
      }
    }
  }

  leaderElected(host: SimHost, term: number): void {
    this.#leaders.set(host.id, { term, incarnation: host.incarnation });
    const disk = host.disk;
    const commitIndex = this.#history.commitIndex;
    const first = disk.firstIndex();
    const last = Math.min(disk.lastIndex(), commitIndex);
    if (disk.lastIndex() < commitIndex) {
      this.#fail(host, term, commitIndex, `its log ends at ${disk.lastIndex()}`);
    }
    const snapshotIndex = disk.snapshot().metadata.index;
    const snapshotEntry = this.#history.get(snapshotIndex);
    if (snapshotEntry !== undefined && snapshotEntry.term !== disk.snapshot().metadata.term) {
      this.#fail(host, term, snapshotIndex, `its snapshot has term ${disk.snapshot().metadata.term}`);
    }
    if (first > last) return;
    for (const entry of disk.entries(first, last + 1, Number.POSITIVE_INFINITY)) {
      const committed = this.#history.get(entry.index);
      if (committed === undefined) continue;
      if (committed.term !== entry.term || committed.payload !== payloadKey(entry)) {
        this.#fail(host, term, entry.index, `it holds term ${entry.term} (committed: term ${committed.term})`);
      }
    }
  }

  #fail(host: SimHost, term: number, index: number, detail: string): never {
    throw new SimViolation(
      "leaderCompleteness",
      `node ${host.id} became leader of term ${term} without committed index ${index}: ${detail}`,
    );
  }
}
