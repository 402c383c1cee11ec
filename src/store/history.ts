/**
 * @module The watch history: every change the state machine applied, as events in revision order, kept beside
 * the data (written in the same atomic step) for a bounded window of recent revisions. Watches replay it from
 * a revision, then follow new applies.
 *
 * The window: `compactedRevision` is the newest revision whose events are gone. Invariant: every revision in
 * (compactedRevision, revision] that the group reached by applying a change has its events in the history (each
 * revision bump comes from at least one mutation, and each mutation is one event), and the history holds nothing
 * else. Revisions are usually consecutive, but a slot import may skip some (apply-command.ts: a key's modRevision
 * keeps growing when it moves to another shard, whose counter then jumps past the source's): a skipped revision
 * never existed, so it has no events and a watch from it sees the next change. Old revisions are dropped whole,
 * oldest first, once the window holds more than `revisionsMax` revisions or `bytesMax` bytes.
 *
 * The history is local to each replica, not replicated state: it is left out of snapshots (so a snapshot image
 * is unchanged and canonical), and a store restored from a snapshot starts its history at the snapshot's
 * revision — that replica answers COMPACTED for anything older. Different replicas may keep different windows.
 */

import { assert } from "../lib/assert.js";
import { plainBytes } from "../lib/bytes.js";
import { ShoalError } from "../lib/errors.js";
import type { StoredRecord } from "./record.js";
import { type DeferredCopy, decodeRecord, encodedRecordBytes, encodeRecordInto } from "./record-codec.js";

/** One applied change. `put` carries the key's new record; `delete` is a delete (or a put whose expiry had
 * already passed); `expire` is the leader's expiry sweep removing a key past its TTL; `flush` is FLUSHALL, every
 * key deleted at once (its `key` is empty and it concerns every prefix), first of its revision. */
export interface HistoryEvent {
  readonly revision: number;
  readonly type: "put" | "delete" | "expire" | "flush";
  readonly key: Uint8Array;
  /** The new record, for `put` only. */
  readonly record: StoredRecord | undefined;
}

export interface HistoryOptions {
  /** Keep at most this many recent revisions of events. */
  readonly historyRevisionsMax?: number;
  /** Keep at most this many bytes of encoded events (whole revisions are dropped, oldest first). */
  readonly historyBytesMax?: number;
}

export const HISTORY_DEFAULTS = {
  historyRevisionsMax: 10_000,
  historyBytesMax: 64 * 1024 * 1024,
} as const;

/** See HistoryWindow.plan: rows one batch may drop at least. */
export const HISTORY_DROP_ROWS_MIN = 4096;

const TYPE_CODES = { put: 1, delete: 2, expire: 3, flush: 4 } as const;
const TYPES_BY_CODE = new Map<number, HistoryEvent["type"]>([
  [1, "put"],
  [2, "delete"],
  [3, "expire"],
  [4, "flush"],
]);

/** type u8 | keyLength u32 | key | (put only) encoded record. The record is encoded in place (one buffer, one
 * copy of the value): `eventRecordBytes` hands that encoding to the data row, so a big value is encoded once. */
export function encodeEvent(event: HistoryEvent, deferred?: DeferredCopy[]): Uint8Array {
  assert((event.type === "put") === (event.record !== undefined), "a put event carries a record, others none");
  const recordAt = 5 + event.key.byteLength;
  const bytes = new Uint8Array(recordAt + (event.record === undefined ? 0 : encodedRecordBytes(event.record)));
  bytes[0] = TYPE_CODES[event.type];
  new DataView(bytes.buffer).setUint32(1, event.key.byteLength);
  bytes.set(event.key, 5);
  if (event.record !== undefined) encodeRecordInto(bytes, recordAt, event.record, deferred);
  return bytes;
}

/** The encoded record inside an encoded put event (a view), or undefined for other events. */
export function eventRecordBytes(encoded: Uint8Array): Uint8Array | undefined {
  if (encoded[0] !== TYPE_CODES.put) return undefined;
  const keyLength = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength).getUint32(1);
  return encoded.subarray(5 + keyLength);
}

/** Decodes what `encodeEvent` wrote; the revision comes from the row's key. Views into `bytes` (no copy). */
export function decodeEvent(revision: number, bytes: Uint8Array): HistoryEvent {
  const type = TYPES_BY_CODE.get(bytes[0] as number);
  assert(type !== undefined && bytes.length >= 5, "a history row starts with a known event type");
  const keyLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  assert(bytes.length >= 5 + keyLength, "a history row holds its key");
  const key = plainBytes(bytes.subarray(5, 5 + keyLength));
  const record = type === "put" ? decodeRecord(bytes.subarray(5 + keyLength)) : undefined;
  return { revision, type, key, record };
}

/** One revision's share of the history: how many events (rows 0..count-1) and their encoded bytes. */
export interface RevisionSummary {
  readonly revision: number;
  readonly count: number;
  readonly bytes: number;
}

/**
 * The bookkeeping of the window both stores share: which revisions are held and how big they are, so a store
 * can decide which to drop without reading them. A store calls `plan` before its atomic write and `commit`
 * after it succeeded.
 */
export interface HistoryStats {
  /** The newest revision whose events are gone; every later revision up to the store's `revision()` that some
   * change reached is held. */
  readonly compactedRevision: number;
  readonly revisionCount: number;
  readonly sizeBytes: number;
}

export class HistoryWindow {
  readonly #revisionsMax: number;
  readonly #bytesMax: number;
  /** Oldest first. Invariant: increasing revisions (consecutive but where an import skipped some), all above
   * compactedRevision. */
  #revisions: RevisionSummary[] = [];
  #head = 0;
  #bytes = 0;
  #compactedRevision: number;

  constructor(options: HistoryOptions, compactedRevision: number) {
    this.#revisionsMax = options.historyRevisionsMax ?? HISTORY_DEFAULTS.historyRevisionsMax;
    this.#bytesMax = options.historyBytesMax ?? HISTORY_DEFAULTS.historyBytesMax;
    assert(
      Number.isSafeInteger(this.#revisionsMax) && this.#revisionsMax >= 0,
      "historyRevisionsMax is an integer >= 0",
    );
    assert(Number.isSafeInteger(this.#bytesMax) && this.#bytesMax >= 0, "historyBytesMax is an integer >= 0");
    this.#compactedRevision = compactedRevision;
  }

  get compactedRevision(): number {
    return this.#compactedRevision;
  }

  /** The window as `StateMachineStore.historyStats()` reports it. */
  stats(): HistoryStats {
    return { compactedRevision: this.#compactedRevision, revisionCount: this.revisionCount, sizeBytes: this.#bytes };
  }

  get bytes(): number {
    return this.#bytes;
  }

  get revisionCount(): number {
    return this.#revisions.length - this.#head;
  }

  /** Replaces the window (a store opening its history, or restoring a snapshot with none). */
  reset(compactedRevision: number, held: readonly RevisionSummary[] = []): void {
    let last = compactedRevision;
    for (const summary of held) {
      assert(summary.revision > last, "held revisions increase, above the compacted one");
      last = summary.revision;
    }
    this.#revisions = [...held];
    this.#head = 0;
    this.#bytes = held.reduce((sum, summary) => sum + summary.bytes, 0);
    this.#compactedRevision = compactedRevision;
  }

  /** Which held revisions to drop once `added` (increasing, continuing the window) are written. Costs what
   * it drops, not the window's size: this runs for every applied batch.
   *
   * The rows dropped in one batch are bounded by HISTORY_DROP_ROWS_MIN or twice the rows the batch adds,
   * whichever is more (whole revisions, so a revision holding more goes alone): one 16 MiB event would otherwise
   * evict ~100,000 small events in the same LMDB transaction, ~200 ms on the event loop (issue 10). The window
   * may then exceed its bounds for a few batches — by about the one big event — and every later batch drops
   * more than it adds until it is back within them. */
  plan(added: readonly RevisionSummary[]): {
    readonly drop: readonly RevisionSummary[];
    readonly compactedRevision: number;
  } {
    const held = this.revisionCount;
    const total = held + added.length;
    const at = (i: number): RevisionSummary =>
      (i < held ? this.#revisions[this.#head + i] : added[i - held]) as RevisionSummary;
    let bytes = this.#bytes;
    let addedRows = 0;
    for (const summary of added) {
      bytes += summary.bytes;
      addedRows += summary.count;
    }
    const dropRowsMax = Math.max(HISTORY_DROP_ROWS_MIN, 2 * addedRows);
    let droppedRows = 0;
    const drop: RevisionSummary[] = [];
    while (drop.length < total && (total - drop.length > this.#revisionsMax || bytes > this.#bytesMax)) {
      const oldest = at(drop.length);
      if (drop.length > 0 && droppedRows + oldest.count > dropRowsMax) break;
      bytes -= oldest.bytes;
      droppedRows += oldest.count;
      drop.push(oldest);
    }
    if (drop.length === 0) return { drop, compactedRevision: this.#compactedRevision };
    const compactedRevision = drop.length === total ? at(total - 1).revision : at(drop.length).revision - 1;
    return { drop, compactedRevision };
  }

  /** Records a planned write as done. */
  commit(added: readonly RevisionSummary[], plan: ReturnType<HistoryWindow["plan"]>): void {
    for (const summary of added) {
      const last = this.#lastRevision();
      assert(summary.revision > last, `history revision ${summary.revision} continues the window after ${last}`);
      this.#revisions.push(summary);
      this.#bytes += summary.bytes;
    }
    for (const summary of plan.drop) {
      const oldest = this.#revisions[this.#head];
      assert(oldest?.revision === summary.revision, "history drops the oldest revisions first");
      this.#head++;
      this.#bytes -= summary.bytes;
    }
    this.#compactedRevision = plan.compactedRevision;
    // Trim the consumed head now and then, so the array does not grow without bound.
    if (this.#head > 1024 && this.#head * 2 > this.#revisions.length) {
      this.#revisions = this.#revisions.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The newest held revision, or the compacted one when none is held. */
  #lastRevision(): number {
    return this.revisionCount === 0
      ? this.#compactedRevision
      : (this.#revisions[this.#revisions.length - 1] as RevisionSummary).revision;
  }

  /** Throws COMPACTED when `fromRevision` is no longer held; names the oldest revision still available. */
  check(fromRevision: number): void {
    if (fromRevision > this.#compactedRevision) return;
    throw compactedError(fromRevision, this.#compactedRevision);
  }
}

export function compactedError(fromRevision: number, compactedRevision: number): ShoalError {
  const oldestRevision = compactedRevision + 1;
  return new ShoalError(
    "COMPACTED",
    `Cannot watch from revision ${fromRevision}: revisions up to ${compactedRevision} are compacted; the oldest available is ${oldestRevision}`,
    { compactedRevision, oldestRevision },
  );
}

/** Groups a batch's events into per-revision summaries (events are in revision order). */
export function summarize(events: readonly { revision: number; bytes: number }[]): RevisionSummary[] {
  const out: RevisionSummary[] = [];
  for (const { revision, bytes } of events) {
    const last = out[out.length - 1];
    if (last !== undefined && last.revision === revision) {
      out[out.length - 1] = { revision, count: last.count + 1, bytes: last.bytes + bytes };
    } else {
      assert(last === undefined || revision > last.revision, "history events come in revision order");
      out.push({ revision, count: 1, bytes });
    }
  }
  return out;
}
