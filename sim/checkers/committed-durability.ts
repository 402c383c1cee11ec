/**
 * @module No committed entry is lost. Three checks:
 * 1. Once committed, an index's entry never changes (any node calling a different entry committed there).
 * 2. No node ever removes a committed entry from its disk — by overwriting it, truncating the log after it, or
 *    installing a snapshot that does not match its log — because Raft only truncates a follower's log at a
 *    conflict, and a committed entry never conflicts with a legitimate leader (Leader Completeness).
 * 3. When the commit index first covers an index, the entry is held durably (in the log or under a snapshot)
 *    by enough voters that every quorum of the committing node's configuration contains a holder: that is the
 *    quorum-intersection fact the election restriction relies on (paper, sections 5.4.1 and 5.4.3), and it
 *    survives single-server membership changes (thesis, section 4.1).
 */
import type { Entry, HardState, NodeId, Snapshot } from "../../src/raft/types.js";
import type { HostObserver } from "../observer.js";
import type { SimHost } from "../sim-host.js";
import type { CommitHistory, CommittedEntry } from "./commit-history.js";
import { SimViolation } from "./violation.js";

export class CommittedDurabilityChecker implements HostObserver {
  readonly #history: CommitHistory;
  readonly #hosts: () => readonly SimHost[];
  /** Indexes up to here passed check 3. */
  #quorumCheckedIndex = 0;

  constructor(history: CommitHistory, hosts: () => readonly SimHost[]) {
    this.#history = history;
    this.#hosts = hosts;
    history.onConflict = (index, recorded, seen, how) =>
      this.#fail(
        `index ${index} was committed as term ${recorded.term} (node ${recorded.node}) but node ${seen.node} ` +
          `calls term ${seen.term} ${JSON.stringify(seen.payload)} committed there (${how})`,
      );
  }

  willPersist(host: SimHost, entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const disk = host.disk;
    const last = Math.min(disk.lastIndex(), this.#history.commitIndex);
    for (let index = Math.max(first.index, disk.firstIndex()); index <= last; index++) {
      const committed = this.#history.get(index);
      if (committed === undefined || disk.term(index) !== committed.term) continue;
      const replacement = entries[index - first.index];
      if (replacement === undefined || replacement.term !== committed.term) {
        this.#fail(
          `node ${host.id} drops committed index ${index} (term ${committed.term}) by appending at ${first.index}`,
        );
      }
    }
  }

  willInstallSnapshot(host: SimHost, snapshot: Snapshot): void {
    const disk = host.disk;
    const { index, term } = snapshot.metadata;
    if (disk.term(index) === term) return; // the log after the snapshot is kept
    const last = Math.min(disk.lastIndex(), this.#history.commitIndex);
    for (let i = Math.max(index + 1, disk.firstIndex()); i <= last; i++) {
      const committed = this.#history.get(i);
      if (committed !== undefined && disk.term(i) === committed.term) {
        this.#fail(`node ${host.id} drops committed index ${i} by installing a snapshot at ${index} (term ${term})`);
      }
    }
  }

  persisted(host: SimHost, _entries: readonly Entry[], hardState: HardState | undefined): void {
    if (hardState === undefined || this.#history.commitIndex <= this.#quorumCheckedIndex) return;
    const status = host.status();
    if (status === undefined) return;
    const voters = status.confState.voters;
    for (let index = this.#quorumCheckedIndex + 1; index <= this.#history.commitIndex; index++) {
      const committed = this.#history.get(index);
      if (committed !== undefined) this.#checkQuorum(host.id, index, committed, voters);
    }
    this.#quorumCheckedIndex = this.#history.commitIndex;
  }

  #checkQuorum(reporter: NodeId, index: number, committed: CommittedEntry, voters: readonly NodeId[]): void {
    const quorum = Math.floor(voters.length / 2) + 1;
    const needed = voters.length - quorum + 1;
    let holders = 0;
    for (const id of voters) {
      const host = this.#hosts()[id - 1];
      if (host !== undefined && holds(host, index, committed.term)) holders++;
    }
    if (holders < needed) {
      this.#fail(
        `index ${index} (term ${committed.term}) is committed (node ${reporter}) but held by ${holders} of voters ` +
          `[${voters.join(",")}]; a quorum without it could elect a leader lacking it`,
      );
    }
  }

  #fail(message: string): never {
    throw new SimViolation("committedDurability", message);
  }
}

/** The disk holds the entry at `index` with `term`, or covers it with a snapshot. */
function holds(host: SimHost, index: number, term: number): boolean {
  const disk = host.disk;
  return index <= disk.snapshot().metadata.index || disk.term(index) === term;
}
