/**
 * @module What a leader knows about each member's log, and the flow control of replication to it.
 *
 * A follower's progress is in one of three states (etcd's tracker): `probe` — we do not know where its log
 * matches ours, so one AppendEntries at a time; `replicate` — it matches, so AppendEntries are pipelined up to
 * the in-flight bounds; `snapshot` — its next entry was compacted, so it receives snapshot chunks instead.
 */
import { assert } from "../lib/assert.js";

export type ProgressState = "probe" | "replicate" | "snapshot";

/** Snapshot transfer to one follower: which snapshot, and how far the chunks got. */
export interface SnapshotTransfer {
  readonly index: number;
  readonly data: Uint8Array;
  /** Bytes the follower confirmed holding contiguously from the start. */
  ackedOffset: number;
  /** The next byte to send. Invariant: ackedOffset <= nextOffset <= data.byteLength. */
  nextOffset: number;
}

interface Inflight {
  readonly lastIndex: number;
  readonly bytes: number;
}

export class Progress {
  // Invariant: match < next.
  /** The highest index known to be replicated on the member (paper: matchIndex). */
  match = 0;
  /** The next index to send (paper: nextIndex). */
  next: number;
  state: ProgressState = "probe";
  /** In probe state: an AppendEntries is outstanding, wait for its answer or a heartbeat response. */
  probeSent = false;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** Non-zero when the member's last answer claimed this index, past the end of our log (it cannot be caught
   * up: it holds entries we lack; see Raft.#handleAppendResponse). */
  claimedIndex = 0;
  snapshot: SnapshotTransfer | undefined;
  #inflights: Inflight[] = [];
  #inflightBytes = 0;

  constructor(next: number) {
    assert(next >= 1, "Next index must be at least 1");
    this.next = next;
  }

  becomeProbe(): void {
    if (this.state === "snapshot" && this.snapshot !== undefined) {
      this.next = Math.max(this.match + 1, this.snapshot.index + 1);
    } else {
      this.next = this.match + 1;
    }
    this.#reset("probe");
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.#reset("replicate");
  }

  becomeSnapshot(index: number, data: Uint8Array): void {
    this.#reset("snapshot");
    this.snapshot = { index, data, ackedOffset: 0, nextOffset: 0 };
  }

  #reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.snapshot = undefined;
    this.#inflights = [];
    this.#inflightBytes = 0;
  }

  /** A successful append response up to `index`. Returns false when it told us nothing new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      this.probeSent = false;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** A rejected append at `rejected`; `matchHint` is where the logs may match. Returns false when stale. */
  maybeDecrementTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false; // stale rejection of an older message
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false; // not the probe we are waiting for
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /** Whether sending more appends must wait. */
  isPaused(inflightMessagesMax: number, inflightBytesMax: number): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.#inflights.length >= inflightMessagesMax || this.#inflightBytes >= inflightBytesMax;
      case "snapshot":
        return true;
    }
  }

  /** Records an AppendEntries sent optimistically in replicate state. */
  sentEntries(lastIndex: number, bytes: number): void {
    if (this.state === "replicate") {
      this.next = lastIndex + 1;
      this.#inflights.push({ lastIndex, bytes });
      this.#inflightBytes += bytes;
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }

  /** Frees the in-flight messages acknowledged by a response up to `index`. */
  freeInflightsUpTo(index: number): void {
    let count = 0;
    for (const inflight of this.#inflights) {
      if (inflight.lastIndex > index) break;
      this.#inflightBytes -= inflight.bytes;
      count++;
    }
    if (count > 0) this.#inflights = this.#inflights.slice(count);
  }

  inflightCount(): number {
    return this.#inflights.length;
  }
}
