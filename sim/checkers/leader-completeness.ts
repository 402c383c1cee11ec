/**
 * @module Leader Completeness (paper, Figure 3 and section 5.4): if an entry is committed in a term, it is
 * present in the log of every leader of a later term. Checked when a node becomes leader: its log (after the
 * Ready that announced the role was persisted) must hold every entry committed so far with the same term and
 * payload, except those below its own snapshot, which the snapshot covers.
 */
import type { HostObserver } from "../observer.js";
import type { SimHost } from "../sim-host.js";
import { payloadKey } from "../state-machine.js";
import type { CommitHistory } from "./commit-history.js";
import { SimViolation } from "./violation.js";

export class LeaderCompletenessChecker implements HostObserver {
  readonly #history: CommitHistory;

  constructor(history: CommitHistory) {
    this.#history = history;
  }

  leaderElected(host: SimHost, term: number): void {
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
