/**
 * @module The Raft log as the core sees it: the host's stable storage followed by the entries (and possibly a
 * snapshot) that the core has accepted but the host has not yet persisted (the "unstable" part).
 */
import { assert } from "../lib/assert.js";
import { entrySizeBytes, type RaftStorage } from "./storage.js";
import type { Entry, Snapshot } from "./types.js";

export class RaftLog {
  readonly storage: RaftStorage;
  /** A snapshot received from the leader and not yet persisted by the host. */
  unstableSnapshot: Snapshot | undefined;
  /** Entries not yet persisted. Invariant: unstableEntries[i].index === unstableOffset + i. */
  unstableEntries: Entry[] = [];
  unstableOffset: number;
  // Invariant: applied <= applying <= committed <= lastIndex().
  /** The highest index known to be committed (paper: commitIndex). Never moves back. */
  committed: number;
  /** The highest index handed to the host for applying. */
  applying: number;
  /** The highest index the host reported applied (paper: lastApplied). Never moves back. */
  applied: number;

  constructor(storage: RaftStorage) {
    this.storage = storage;
    const firstIndex = storage.firstIndex();
    this.unstableOffset = storage.lastIndex() + 1;
    // A restarted node re-derives everything after its snapshot: the host skips what it already applied.
    this.committed = firstIndex - 1;
    this.applying = firstIndex - 1;
    this.applied = firstIndex - 1;
  }

  firstIndex(): number {
    if (this.unstableSnapshot !== undefined) return this.unstableSnapshot.metadata.index + 1;
    return this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.unstableEntries.length > 0) return this.unstableOffset + this.unstableEntries.length - 1;
    if (this.unstableSnapshot !== undefined) return this.unstableSnapshot.metadata.index;
    return this.storage.lastIndex();
  }

  /** The last index the host has persisted (what a leader may count for itself). */
  stableLastIndex(): number {
    if (this.unstableSnapshot !== undefined) return 0;
    return this.unstableOffset - 1;
  }

  /** The term at `index`, or undefined when compacted away or past the end. */
  term(index: number): number | undefined {
    if (index === 0) return 0;
    if (index >= this.unstableOffset) {
      const entry = this.unstableEntries[index - this.unstableOffset];
      return entry?.term;
    }
    const snapshot = this.unstableSnapshot;
    if (snapshot !== undefined) {
      return index === snapshot.metadata.index ? snapshot.metadata.term : undefined;
    }
    return this.storage.term(index);
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, "The term of the last index must be known");
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Section 5.4.1: a log is at least as up to date as ours if its last term is higher, or equal with an index
   * at least as high. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourLastTerm = this.lastTerm();
    return lastTerm > ourLastTerm || (lastTerm === ourLastTerm && lastIndex >= this.lastIndex());
  }

  /** The largest index <= `index` whose term is <= `term` (fast backtracking, etcd's findConflictByTerm). */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); i >= 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /** Follower side of AppendEntries (paper Figure 2, receiver steps 2-5). Returns the last index now known to
   * match the leader, or undefined when (prevIndex, prevTerm) does not match our log. */
  maybeAppend(prevIndex: number, prevTerm: number, entries: readonly Entry[], skipCheck: boolean): number | undefined {
    if (prevIndex > this.lastIndex()) return undefined;
    if (!skipCheck && !this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNewIndex = prevIndex + entries.length;
    const conflictIndex = this.findConflict(entries);
    if (conflictIndex !== 0) {
      assert(
        conflictIndex > this.committed,
        `Cannot overwrite committed entry ${conflictIndex} (committed ${this.committed})`,
      );
      this.append(entries.slice(conflictIndex - prevIndex - 1));
    }
    return lastNewIndex;
  }

  /** The first index of `entries` that is missing from our log or has another term there; 0 if none. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /** Appends entries, truncating any conflicting suffix first. Never truncates a committed entry. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = (entries[0] as Entry).index;
    assert(
      first > this.committed,
      `Cannot truncate committed entries: append at ${first}, committed ${this.committed}`,
    );
    assert(first <= this.lastIndex() + 1, `Cannot append at ${first}: gap after ${this.lastIndex()}`);
    if (first === this.unstableOffset + this.unstableEntries.length) {
      for (const entry of entries) this.unstableEntries.push(entry);
    } else if (first <= this.unstableOffset) {
      // The new entries replace part of the stable log: the host overwrites from `first` when it persists them.
      this.unstableOffset = first;
      this.unstableEntries = [...entries];
    } else {
      this.unstableEntries = this.unstableEntries.slice(0, first - this.unstableOffset).concat(entries);
    }
  }

  /** Entries in [low, high) with at most `maxBytes` of data (at least one entry). Undefined if compacted. */
  slice(low: number, high: number, maxBytes: number): Entry[] | undefined {
    if (low >= high) return [];
    if (low < this.firstIndex()) return undefined;
    assert(high <= this.lastIndex() + 1, `Cannot slice up to ${high}: last index ${this.lastIndex()}`);
    let result: Entry[] = [];
    if (low < this.unstableOffset) {
      result = this.storage.entries(low, Math.min(high, this.unstableOffset), maxBytes);
      if (result.length < Math.min(high, this.unstableOffset) - low) return result;
    }
    let bytes = 0;
    for (const entry of result) bytes += entrySizeBytes(entry);
    for (let i = Math.max(low, this.unstableOffset); i < high; i++) {
      const entry = this.unstableEntries[i - this.unstableOffset] as Entry;
      bytes += entrySizeBytes(entry);
      if (result.length > 0 && bytes > maxBytes) break;
      result.push(entry);
    }
    return result;
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `Cannot commit ${index}: past the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Entries to hand to the host for applying: (applying, committed], at most `countMax`. */
  nextCommittedEntries(countMax: number, bytesMax: number): Entry[] {
    const high = Math.min(this.committed, this.applying + countMax);
    if (high <= this.applying) return [];
    const entries = this.slice(this.applying + 1, high + 1, bytesMax);
    assert(entries !== undefined, `Committed entries after ${this.applying} were compacted before being applied`);
    return entries;
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > this.applying;
  }

  appliedTo(index: number): void {
    assert(index >= this.applied, `Applied index moved back from ${this.applied} to ${index}`);
    assert(index <= this.applying, `Applied ${index} beyond what was handed out (${this.applying})`);
    this.applied = index;
  }

  /** The host persisted entries up to `index` with `term`: they leave the unstable part. */
  stableTo(index: number, term: number): void {
    if (index < this.unstableOffset) return;
    const entry = this.unstableEntries[index - this.unstableOffset];
    // A newer append may have replaced the persisted entries meanwhile; they stay unstable then.
    if (entry === undefined || entry.term !== term) return;
    this.unstableEntries = this.unstableEntries.slice(index + 1 - this.unstableOffset);
    this.unstableOffset = index + 1;
  }

  stableSnapshotTo(index: number): void {
    if (this.unstableSnapshot?.metadata.index === index) this.unstableSnapshot = undefined;
  }

  /** Replaces the log with a snapshot from the leader (paper Figure 13, receiver steps 6-8). */
  restore(snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    assert(index > this.committed, "Cannot restore a snapshot at or below the commit index");
    this.unstableSnapshot = snapshot;
    this.unstableEntries = [];
    this.unstableOffset = index + 1;
    this.committed = index;
    this.applying = index;
  }
}
