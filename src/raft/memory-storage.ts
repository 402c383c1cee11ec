/**
 * @module An in-memory `RaftStorage`. The simulator uses it as a node's "disk" (crash = keep only what the host
 * put here); the real node keeps one in front of the WAL so Raft reads never touch the file system.
 */
import { assert } from "../lib/assert.js";
import { entrySizeBytes, type RaftStorage } from "./storage.js";
import type { ConfState, Entry, HardState, Snapshot } from "./types.js";

const EMPTY_DATA = new Uint8Array(0);

export class MemoryStorage implements RaftStorage {
  #hardState: HardState = { term: 0, vote: 0, commit: 0 };
  #snapshot: Snapshot;
  /** The last compacted entry: the log starts right after it. Invariant: compacted.index <= snapshot index. */
  #compacted = { index: 0, term: 0 };
  // Invariant: #entries[i].index === #compacted.index + 1 + i.
  #entries: Entry[] = [];

  constructor(confState: ConfState = { voters: [], learners: [] }) {
    this.#snapshot = { metadata: { index: 0, term: 0, confState }, data: EMPTY_DATA };
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.#hardState, confState: this.#snapshot.metadata.confState };
  }

  hardState(): HardState {
    return this.#hardState;
  }

  setHardState(hardState: HardState): void {
    assert(hardState.term >= this.#hardState.term, "Cannot persist a hard state whose term goes back");
    this.#hardState = hardState;
  }

  entries(low: number, high: number, maxBytes: number): Entry[] {
    assert(low >= this.firstIndex(), `Cannot read entries from ${low}: compacted below ${this.firstIndex()}`);
    assert(high <= this.lastIndex() + 1, `Cannot read entries up to ${high}: last index is ${this.lastIndex()}`);
    const offset = this.#compacted.index + 1;
    const result: Entry[] = [];
    let bytes = 0;
    for (let i = low; i < high; i++) {
      const entry = this.#entries[i - offset] as Entry;
      bytes += entrySizeBytes(entry);
      if (result.length > 0 && bytes > maxBytes) break;
      result.push(entry);
    }
    return result;
  }

  term(index: number): number | undefined {
    if (index === this.#compacted.index) return this.#compacted.term;
    if (index < this.#compacted.index || index > this.lastIndex()) return undefined;
    return (this.#entries[index - this.#compacted.index - 1] as Entry).term;
  }

  firstIndex(): number {
    return this.#compacted.index + 1;
  }

  lastIndex(): number {
    return this.#compacted.index + this.#entries.length;
  }

  snapshot(): Snapshot {
    return this.#snapshot;
  }

  /** Appends persisted entries; an entry at an existing index replaces it and drops every later one. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = (entries[0] as Entry).index;
    assert(first >= this.firstIndex(), `Cannot append at ${first}: compacted below ${this.firstIndex()}`);
    assert(first <= this.lastIndex() + 1, `Cannot append at ${first}: gap after last index ${this.lastIndex()}`);
    this.#entries.length = first - this.firstIndex();
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, "Cannot append entries whose indexes are not contiguous");
      this.#entries.push(entry);
    }
  }

  /** Installs a snapshot received from the leader. Entries that extend it consistently are kept (the Raft
   * paper's Figure 13, step 6); otherwise the whole log is discarded. */
  applySnapshot(snapshot: Snapshot): void {
    const { index, term } = snapshot.metadata;
    assert(index >= this.#snapshot.metadata.index, "Cannot install a snapshot older than the current one");
    const keep = this.term(index) === term ? this.#entries.slice(index - this.#compacted.index) : [];
    this.#entries = keep;
    this.#compacted = { index, term };
    this.#snapshot = snapshot;
  }

  /** Records a snapshot of the host's own state machine at an applied `index` (the log is kept). */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    assert(index >= this.#snapshot.metadata.index, "Cannot snapshot below the last snapshot");
    assert(index <= this.lastIndex(), "Cannot snapshot past the last index");
    const term = this.term(index);
    assert(term !== undefined, "Cannot snapshot an index whose term is unknown (compacted)");
    this.#snapshot = { metadata: { index, term, confState }, data };
    return this.#snapshot;
  }

  /** Discards entries up to and including `index`, which the latest snapshot must cover. */
  compact(index: number): void {
    if (index <= this.#compacted.index) return;
    assert(index <= this.#snapshot.metadata.index, "Cannot compact past the latest snapshot");
    const term = this.term(index);
    assert(term !== undefined, "Cannot compact to an index whose term is unknown");
    this.#entries = this.#entries.slice(index - this.#compacted.index);
    this.#compacted = { index, term };
  }
}
