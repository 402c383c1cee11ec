/**
 * @module The shape of the persisted Raft log — hard state, snapshot marker, last index and the term of every
 * entry — without the entries themselves. The writer keeps one to validate each save before encoding it, and
 * recovery keeps one while replaying, so both apply the same rules in the same order:
 *
 * - an entry at index i replaces the entry at i and every later one (etcd's WAL semantics: files are
 *   append-only, a later record wins);
 * - a snapshot marker at (S, T) means "the log starts after S": entries up to S are dropped, and the entries
 *   after S are kept only when the log holds S with term T (the Raft paper's Figure 13, as in
 *   `MemoryStorage.applySnapshot`), otherwise the whole log is discarded. The writer decides and records the
 *   decision in the marker (`keep`); recovery obeys it;
 * - the last hard state wins.
 *
 * Missing entries: after compaction, recovery starts at a segment whose header restores the hard state and
 * snapshot, but whose first entries may continue a log whose earlier entries were in deleted segments. Those
 * entries (just after the header's snapshot) are "missing"; a later snapshot marker must cover them by the
 * end of recovery (compaction only deletes entries a saved snapshot covers), else the log is corrupt.
 *
 * The `...Problem` methods return why a record may not be applied (undefined when it may). The writer asserts
 * they pass; recovery reports a failure as corruption.
 */
import type { HardState, SnapshotMetadata } from "../raft/types.js";

const EMPTY_HARD_STATE: HardState = { term: 0, vote: 0, commit: 0 };

export class LogShape {
  #hardState: HardState = EMPTY_HARD_STATE;
  #snapshot: SnapshotMetadata | undefined = undefined;
  // Entries in (snapshotIndex, #missingThrough] are missing (see the module comment); the writer's shape never
  // has any. Invariant: snapshotIndex <= #missingThrough <= #lastIndex.
  #missingThrough = 0;
  #lastIndex = 0;
  // Term runs over (#missingThrough, #lastIndex]: run k covers [#runStarts[k], #runStarts[k + 1]) with term
  // #runTerms[k]. Invariant: both arrays strictly increase, and #runStarts[0] === #missingThrough + 1 when the
  // log holds entries. Terms change rarely, so this stays tiny however long the log is.
  #runStarts: number[] = [];
  #runTerms: number[] = [];

  get hardState(): HardState {
    return this.#hardState;
  }

  get snapshot(): SnapshotMetadata | undefined {
    return this.#snapshot;
  }

  get snapshotIndex(): number {
    return this.#snapshot?.index ?? 0;
  }

  get lastIndex(): number {
    return this.#lastIndex;
  }

  /** The first index whose entry is known: snapshotIndex + 1 unless entries are missing. */
  get firstKnownIndex(): number {
    return this.#missingThrough + 1;
  }

  /** The term at `index`: the snapshot's own index still answers its term; undefined outside the known log. */
  termAt(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.#snapshot?.term ?? 0;
    if (index <= this.#missingThrough || index > this.#lastIndex) return undefined;
    for (let run = this.#runStarts.length - 1; run >= 0; run--) {
      if ((this.#runStarts[run] as number) <= index) return this.#runTerms[run];
    }
    return undefined;
  }

  /** `allowGap`: recovery's first entry may leave entries missing before it. */
  entryProblem(index: number, term: number, allowGap = false): string | undefined {
    if (!isCount(index) || !isCount(term)) return `entry ${index} has a non-integer field`;
    if (term < 1) return `entry at index ${index} has term ${term}`;
    if (index <= this.snapshotIndex)
      return `entry at index ${index} is not after the snapshot at ${this.snapshotIndex}`;
    if (index > this.#lastIndex + 1 && !allowGap) {
      return `entry at index ${index} leaves a gap after index ${this.#lastIndex}`;
    }
    const commit = this.#hardState.commit;
    if (index <= commit) return `entry at index ${index} would replace committed index ${commit}`;
    const previousTerm = this.termAt(index - 1);
    if (previousTerm !== undefined && term < previousTerm) {
      return `entry at index ${index} has term ${term}, below term ${previousTerm} before it`;
    }
    return undefined;
  }

  /** Appends (index, term), dropping any entry at `index` or later first. Requires `entryProblem` to pass. */
  appendEntry(index: number, term: number): void {
    const starts = this.#runStarts;
    while (starts.length > 0 && (starts[starts.length - 1] as number) >= index) {
      starts.pop();
      this.#runTerms.pop();
    }
    if (index > this.#lastIndex + 1 || index <= this.#missingThrough) this.#missingThrough = index - 1;
    if (this.#runTerms[this.#runTerms.length - 1] !== term) {
      starts.push(index);
      this.#runTerms.push(term);
    }
    this.#lastIndex = index;
  }

  /** Whether a marker at `snapshot` keeps the entries after it (the writer's decision): the log holds the
   * snapshot's index with the snapshot's term. */
  keepsEntriesAfter(snapshot: SnapshotMetadata): boolean {
    return this.termAt(snapshot.index) === snapshot.term;
  }

  snapshotProblem(snapshot: SnapshotMetadata, keep: boolean): string | undefined {
    const { index, term, confState } = snapshot;
    if (!isCount(index) || !isCount(term) || !confState.voters.every(isCount) || !confState.learners.every(isCount)) {
      return `snapshot at index ${index} has a non-integer field`;
    }
    if (index < this.snapshotIndex) return `snapshot at index ${index} is older than the one at ${this.snapshotIndex}`;
    if (index === this.snapshotIndex && this.#snapshot !== undefined && term !== this.#snapshot.term) {
      return `snapshot at index ${index} has term ${term}, but the snapshot there has term ${this.#snapshot.term}`;
    }
    // Where entries follow the index and it is known, the decision can be checked; over missing entries it
    // must be trusted.
    const checkable = index > this.#missingThrough && index < this.#lastIndex;
    if (checkable && keep !== this.keepsEntriesAfter(snapshot)) {
      return `snapshot at index ${index} says keep=${keep}, which disagrees with the log`;
    }
    return undefined;
  }

  /** Applies a snapshot marker. Requires `snapshotProblem` to pass. */
  applySnapshot(snapshot: SnapshotMetadata, keep: boolean): void {
    const index = snapshot.index;
    if (keep && this.#lastIndex > index) {
      let drop = 0;
      while (drop < this.#runStarts.length && (this.#runStarts[drop + 1] ?? Infinity) <= index + 1) drop++;
      this.#runStarts.splice(0, drop);
      this.#runTerms.splice(0, drop);
      if (this.#runStarts.length > 0 && (this.#runStarts[0] as number) <= index) this.#runStarts[0] = index + 1;
      this.#missingThrough = Math.max(this.#missingThrough, index);
    } else {
      this.#runStarts = [];
      this.#runTerms = [];
      this.#lastIndex = index;
      this.#missingThrough = index;
    }
    this.#snapshot = snapshot;
  }

  hardStateProblem(hardState: HardState): string | undefined {
    const { term, vote, commit } = hardState;
    const current = this.#hardState;
    if (!isCount(term) || !isCount(vote) || !isCount(commit)) return "hard state has a non-integer field";
    if (term < current.term) return `hard state term ${term} goes back from ${current.term}`;
    if (term === current.term && current.vote !== 0 && vote !== current.vote) {
      return `hard state changes the vote of term ${term} from ${current.vote} to ${vote}`;
    }
    if (commit < current.commit) return `hard state commit ${commit} goes back from ${current.commit}`;
    return undefined;
  }

  /** Requires `hardStateProblem` to pass. */
  setHardState(hardState: HardState): void {
    this.#hardState = hardState;
  }

  /** Entries missing at the end of recovery: the deleted segments held entries no snapshot covers. */
  missingProblem(): string | undefined {
    if (this.#missingThrough === this.snapshotIndex) return undefined;
    return `entries ${this.snapshotIndex + 1} to ${this.#missingThrough} are missing and no snapshot covers them`;
  }

  /** Checked once a whole save (or all of recovery) is applied: in between, a segment header's commit index
   * may refer to entries that recovery has not met (they are missing until a snapshot covers them). */
  commitProblem(): string | undefined {
    const commit = this.#hardState.commit;
    if (commit > this.#lastIndex) return `hard state commit ${commit} is past the last index ${this.#lastIndex}`;
    return undefined;
  }
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}
