/**
 * @module CommitHistory: every entry any node has ever called committed, as (index → term, payload). A node
 * calls an entry committed when it persists a hard state whose commit index covers it, or when it applies it.
 * Once recorded, an index's entry must never change (paper, section 5.4: committed entries are durable and
 * never rewritten); a different entry at a recorded index is reported through `onConflict` (the
 * committed-durability checker), and the other checkers read the history as "what is committed so far".
 */
import type { Entry, HardState, NodeId } from "../../src/raft/types.js";
import type { HostObserver } from "../observer.js";
import type { SimHost } from "../sim-host.js";
import { payloadKey } from "../state-machine.js";

export interface CommittedEntry {
  readonly term: number;
  readonly payload: string;
  /** Who first called it committed (for the report). */
  readonly node: NodeId;
  /** That node's persisted term then. The entry was committed by a leader of this term or an earlier one: a node
   * learns of a commit from a leader no newer than itself, and persists its term before it applies. */
  readonly reportTerm: number;
}

export type ConflictReporter = (index: number, recorded: CommittedEntry, seen: CommittedEntry, how: string) => void;

export class CommitHistory implements HostObserver {
  readonly #entries = new Map<number, CommittedEntry>();
  /** The highest index any node called committed. */
  commitIndex = 0;
  /** The commit index of each node's last persisted hard state (the part of its log already recorded). */
  readonly #nodeCommit = new Map<NodeId, number>();
  onConflict: ConflictReporter | undefined;
  /** Called once per index, when it is first recorded as committed. */
  readonly onCommitted: ((index: number, entry: CommittedEntry) => void)[] = [];

  get(index: number): CommittedEntry | undefined {
    return this.#entries.get(index);
  }

  persisted(host: SimHost, _entries: readonly Entry[], hardState: HardState | undefined): void {
    if (hardState === undefined) return;
    const seen = this.#nodeCommit.get(host.id) ?? 0;
    if (hardState.commit <= seen) return;
    const disk = host.disk;
    const low = Math.max(seen + 1, disk.firstIndex());
    const high = Math.min(hardState.commit, disk.lastIndex());
    if (low <= high) {
      for (const entry of disk.entries(low, high + 1, Number.POSITIVE_INFINITY)) this.#record(host, entry, "commit");
    }
    this.#nodeCommit.set(host.id, hardState.commit);
    this.commitIndex = Math.max(this.commitIndex, hardState.commit);
  }

  applied(host: SimHost, entry: Entry): void {
    this.#record(host, entry, "apply");
    this.commitIndex = Math.max(this.commitIndex, entry.index);
  }

  stateRestored(host: SimHost): void {
    // After a snapshot or a restart the node's commit is what its disk says; entries below it were recorded.
    this.#nodeCommit.set(host.id, Math.max(host.disk.hardState().commit, host.disk.snapshot().metadata.index));
  }

  #record(host: SimHost, entry: Entry, how: string): void {
    const reportTerm = host.disk.hardState().term;
    const seen: CommittedEntry = { term: entry.term, payload: payloadKey(entry), node: host.id, reportTerm };
    const recorded = this.#entries.get(entry.index);
    if (recorded === undefined) {
      this.#entries.set(entry.index, seen);
      for (const listener of this.onCommitted) listener(entry.index, seen);
      return;
    }
    if (recorded.term !== seen.term || recorded.payload !== seen.payload) {
      this.onConflict?.(entry.index, recorded, seen, how);
    }
  }
}
