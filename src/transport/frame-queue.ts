/**
 * @module The bounded outgoing queue of one connection, in two lanes:
 *
 * - `ordinary`: every Raft message except snapshot chunks, plus requests and responses. FIFO.
 * - `bulk`: installSnapshot messages (up to frameBytesMax each). FIFO.
 *
 * A batch takes ordinary frames first, then bulk frames while the batch's byte budget lasts, so a heartbeat
 * queued behind snapshot chunks waits for at most one batch, not for the whole snapshot. Order is therefore
 * kept within a lane, not across lanes: a heartbeat may overtake an earlier snapshot chunk, which Raft
 * tolerates (it tolerates any reordering; we only avoid it where it would cost retransmissions, which is why
 * large appendEntries stay in the ordinary lane instead of being classified by size).
 *
 * A full lane refuses the frame (the caller drops it and counts the drop): Raft retransmits, and memory stays
 * bounded by countMax and bytesMax (payload bytes) per lane.
 */

import { assert } from "../lib/assert.js";
import type { FramePayload } from "./envelope.js";

export type Lane = "ordinary" | "bulk";

export interface OutboundFrame {
  readonly payload: FramePayload;
  /** True for Raft messages, which the message counters count. */
  readonly isMessage: boolean;
  /** The request id for `req` frames, so an abandoned request can be withdrawn; 0 otherwise. */
  readonly requestId: number;
}

export interface LaneBounds {
  readonly countMax: number;
  readonly bytesMax: number;
}

class LaneQueue {
  readonly bounds: LaneBounds;
  // Invariant: items[head..] are the queued frames, oldest first; bytes === sum of their payload lengths.
  #items: OutboundFrame[] = [];
  #head = 0;
  bytes = 0;

  constructor(bounds: LaneBounds) {
    assert(bounds.countMax > 0, "lane countMax must be positive");
    assert(bounds.bytesMax > 0, "lane bytesMax must be positive");
    this.bounds = bounds;
  }

  get count(): number {
    return this.#items.length - this.#head;
  }

  offer(frame: OutboundFrame): boolean {
    if (this.count >= this.bounds.countMax) return false;
    if (this.bytes + frame.payload.length > this.bounds.bytesMax) return false;
    this.#items.push(frame);
    this.bytes += frame.payload.length;
    return true;
  }

  peek(): OutboundFrame | undefined {
    return this.#items[this.#head];
  }

  shift(): OutboundFrame {
    assert(this.count > 0, "shift from an empty lane");
    const frame = this.#items[this.#head]!;
    this.#head++;
    this.bytes -= frame.payload.length;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return frame;
  }

  /** Removes the frames matching `predicate`, keeping the others in order; returns how many went. */
  removeWhere(predicate: (frame: OutboundFrame) => boolean): number {
    const kept = this.#items.slice(this.#head).filter((frame) => !predicate(frame));
    const removed = this.count - kept.length;
    this.#items = kept;
    this.#head = 0;
    this.bytes = kept.reduce((sum, frame) => sum + frame.payload.length, 0);
    return removed;
  }
}

export class FrameQueue {
  readonly #ordinary: LaneQueue;
  readonly #bulk: LaneQueue;

  constructor(ordinary: LaneBounds, bulk: LaneBounds) {
    this.#ordinary = new LaneQueue(ordinary);
    this.#bulk = new LaneQueue(bulk);
  }

  get count(): number {
    return this.#ordinary.count + this.#bulk.count;
  }

  get bytes(): number {
    return this.#ordinary.bytes + this.#bulk.bytes;
  }

  /** Queues `frame` in `lane`; false when that lane is full (the frame was not queued). */
  offer(frame: OutboundFrame, lane: Lane): boolean {
    return (lane === "bulk" ? this.#bulk : this.#ordinary).offer(frame);
  }

  /** Dequeues the next batch: ordinary frames, then bulk ones, within `bytesMax` payload bytes; always at least
   * one frame when any is queued. The caller owns the returned array. */
  takeBatch(bytesMax: number): OutboundFrame[] {
    const batch: OutboundFrame[] = [];
    let bytes = 0;
    for (const lane of [this.#ordinary, this.#bulk]) {
      for (let next = lane.peek(); next !== undefined; next = lane.peek()) {
        if (batch.length > 0 && bytes + next.payload.length > bytesMax) return batch;
        batch.push(lane.shift());
        bytes += next.payload.length;
      }
    }
    return batch;
  }

  removeWhere(predicate: (frame: OutboundFrame) => boolean): number {
    return this.#ordinary.removeWhere(predicate) + this.#bulk.removeWhere(predicate);
  }

  /** Empties both lanes; returns how many frames were discarded. */
  clear(): number {
    return this.removeWhere(() => true);
  }
}
