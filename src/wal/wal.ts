/**
 * @module The durable Raft log: entries, hard state and snapshot markers in append-only, CRC-framed segment
 * files (see `record-frame.ts`, `payload-codec.ts`, `segment.ts`), with group commit and crash recovery.
 *
 * Use:
 *   const { wal, state } = await Wal.open(dir, { disk: new NodeDisk(), fsync: "always" });
 *   ...rebuild MemoryStorage from state (snapshot, entries, hardState)...
 *   per Ready: await wal.save({ snapshot, entries, hardState });   // then send the Ready's messages
 *   after a snapshot marker was saved: await wal.compact(index);
 *   await wal.close();
 *
 * One save is one buffer, one write and (per the fsync policy) one fsync covering everything in it; concurrent
 * saves share fsyncs (see `commit-queue.ts` for exactly when a save is durable). Within a save the records are
 * written in the order snapshot marker, entries, hard state — Ready's order — so a torn save can lose its hard
 * state but never keep a commit index without the entries it covers.
 */
import type { DiskFile } from "../io/disk.js";
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import type { Entry, HardState, SnapshotMetadata } from "../raft/types.js";
import { CommitQueue } from "./commit-queue.js";
import { planCompaction, removeSegments } from "./compaction.js";
import type { WalState } from "./log-replayer.js";
import type { LogShape } from "./log-shape.js";
import { encodeSnapshotPayload } from "./payload-codec.js";
import {
  entryPartBytes,
  entryRecordBytes,
  HARD_STATE_RECORD_BYTES,
  RecordEncoder,
  snapshotRecordBytes,
} from "./record-encoder.js";
import { RECORD_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX } from "./record-frame.js";
import { recoverWal } from "./recover-wal.js";
import { newSegment, type Segment, segmentPath } from "./segment.js";
import { type ResolvedWalOptions, resolveWalOptions, type WalOptions } from "./wal-options.js";

export type { WalState } from "./log-replayer.js";
export type { WalOptions } from "./wal-options.js";

/** What one `save` persists. An entry at an index the log already holds replaces it and every later entry. */
export interface WalSave {
  /** Persisted first: the log now starts after its index (see `LogShape` for which entries survive). */
  readonly snapshot?: SnapshotMetadata | undefined;
  /** Consecutive indexes; the first at most one past the last index, and above the committed index. */
  readonly entries: readonly Entry[];
  /** Persisted last. */
  readonly hardState?: HardState | undefined;
}

export class Wal {
  readonly #dir: string;
  readonly #options: ResolvedWalOptions;
  readonly #queue: CommitQueue;
  /** The log as it will be once every queued save is written (validation runs against it, synchronously). */
  readonly #shape: LogShape;
  // Invariant: non-empty, consecutive sequence numbers; saves append to the last segment.
  readonly #segments: Segment[];
  /** The latest snapshot marker's payload (with keep=true: re-applying it keeps the log), encoded once and
   * repeated in every segment header. */
  #headerSnapshotPayload: Uint8Array | undefined;
  #closed = false;

  private constructor(
    dir: string,
    options: ResolvedWalOptions,
    queue: CommitQueue,
    shape: LogShape,
    segments: Segment[],
  ) {
    assert(segments.length > 0, "A WAL needs a segment to append to");
    this.#dir = dir;
    this.#options = options;
    this.#queue = queue;
    this.#shape = shape;
    this.#segments = segments;
    this.#headerSnapshotPayload = headerSnapshotPayload(shape);
  }

  /** Recovers the log in `dir` (created when missing) and opens it for appending. Rejects with a ShoalError
   * naming the file and byte offset when the log is corrupt anywhere but a torn tail (which is cut off). */
  static async open(dir: string, options: WalOptions): Promise<{ wal: Wal; state: WalState }> {
    const resolved = resolveWalOptions(options);
    const { disk, fsync, batchIntervalMs, delay, pause, unsafe } = resolved;
    await disk.makeDirectory(dir);
    const { state, shape, segments } = await recoverWal(disk, dir, pause, unsafe.skipChecksum !== true);
    const file = await openLastSegment(dir, resolved, segments, shape);
    const queue = new CommitQueue(
      { disk, dir, fsync, batchIntervalMs, delay, skipSync: unsafe.skipSync === true },
      file,
    );
    return { wal: new Wal(dir, resolved, queue, shape, segments), state };
  }

  get lastIndex(): number {
    return this.#shape.lastIndex;
  }

  get hardState(): HardState {
    return this.#shape.hardState;
  }

  get snapshot(): SnapshotMetadata | undefined {
    return this.#shape.snapshot;
  }

  /** Bytes in the segment files, counting saves queued but not yet written (for /metrics). */
  get sizeBytes(): number {
    return this.#segments.reduce((sum, segment) => sum + segment.sizeBytes, 0);
  }

  /**
   * Persists `save`; resolves once it is durable per the fsync policy (exactly when: `commit-queue.ts`). The
   * bytes are encoded, checked and ordered synchronously, so saves may be issued without awaiting earlier
   * ones, and the caller may reuse the entries' buffers as soon as this returns. Throws an AssertionError
   * (synchronously) when `save` breaks the log's rules — a bug in the caller; rejects with TOO_LARGE for an
   * entry whose payload exceeds the record frame's u32 length (an entry larger than a segment gets one of its own), and with INTERNAL once an I/O error has poisoned the WAL.
   */
  save(save: WalSave): Promise<void> {
    assert(!this.#closed, "Cannot save to a closed WAL");
    const failure = this.#queue.failure;
    if (failure !== undefined) return Promise.reject(failure);
    const snapshot = save.snapshot;
    const keep = snapshot === undefined ? false : this.#shape.keepsEntriesAfter(snapshot);
    const snapshotPayload = snapshot === undefined ? undefined : encodeSnapshotPayload(snapshot, keep);
    const saveBytes = this.#measure(save, snapshotPayload);
    if (saveBytes instanceof ShoalError) return Promise.reject(saveBytes);
    let segment = this.#segments[this.#segments.length - 1] as Segment;
    const opensSegment =
      saveBytes > 0 &&
      segment.sizeBytes > segment.headerBytes &&
      segment.sizeBytes + saveBytes > this.#options.segmentBytesMax;
    const headerBytes = opensSegment ? segmentHeaderBytes(this.#headerSnapshotPayload) : 0;
    const encoder = new RecordEncoder(headerBytes + saveBytes - entryPartBytes(save.entries));
    if (opensSegment) {
      // The header carries the state as it was before this save; the save's own records follow it.
      encodeSegmentHeader(encoder, this.#shape.hardState, this.#headerSnapshotPayload);
      segment = newSegment(segment.seq + 1, headerBytes);
      this.#segments.push(segment);
    }
    this.#apply(save, keep, snapshotPayload, encoder);
    const parts = encoder.finish();
    const positionBytes = segment.sizeBytes;
    segment.sizeBytes += headerBytes + saveBytes;
    const lastEntry = save.entries[save.entries.length - 1];
    if (lastEntry !== undefined) segment.maxEntryIndex = Math.max(segment.maxEntryIndex, lastEntry.index);
    return this.#queue.write(parts, positionBytes, opensSegment ? segment.name : undefined);
  }

  /**
   * Deletes the oldest segments whose entries are all <= `index` (see `planCompaction` for the exact rule).
   * A snapshot marker covering `index` must have been saved (not necessarily awaited: compaction runs after
   * every earlier save is durable). Segments are whole files, so up to a segment's worth of entries at or
   * below `index` may remain.
   */
  compact(index: number): Promise<void> {
    assert(!this.#closed, "Cannot compact a closed WAL");
    const snapshotIndex = this.#shape.snapshotIndex;
    assert(index <= snapshotIndex, `Cannot compact to ${index}: the latest snapshot marker is at ${snapshotIndex}`);
    const count = planCompaction(this.#segments, index);
    if (count === 0) return Promise.resolve();
    const seqs = this.#segments.splice(0, count).map((segment) => segment.seq);
    const { disk } = this.#options;
    return this.#queue.task(() => removeSegments(disk, this.#dir, seqs));
  }

  /** Waits for every queued save, syncs (whatever the policy) and closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.close();
  }

  /** The encoded size of `save`, or TOO_LARGE when one of its entries could never fit a segment. */
  #measure(save: WalSave, snapshotPayload: Uint8Array | undefined): number | ShoalError {
    let bytes = snapshotPayload === undefined ? 0 : snapshotRecordBytes(snapshotPayload);
    if (save.hardState !== undefined) bytes += HARD_STATE_RECORD_BYTES;
    // segmentBytesMax is where a segment is closed, not a bound on one record: an entry larger than it is written
    // into a fresh segment of its own (as etcd's WAL does), because by the time Raft hands an entry to the WAL it
    // is already in the leader's log, and refusing it would stop the node. The only hard bound is the record
    // frame's u32 length.
    for (const entry of save.entries) {
      const entryBytes = entryRecordBytes(entry);
      if (entryBytes - RECORD_HEADER_BYTES > RECORD_PAYLOAD_BYTES_MAX) {
        const message = `Cannot save entry ${entry.index}: its record of ${entryBytes} bytes exceeds the record frame's ${RECORD_PAYLOAD_BYTES_MAX}`;
        return new ShoalError("TOO_LARGE", message);
      }
      bytes += entryBytes;
    }
    return bytes;
  }

  /** Validates each record against the log (asserting: a violation is the caller's bug), updates the log's
   * shape and encodes the record, in the order records are written. */
  #apply(save: WalSave, keep: boolean, snapshotPayload: Uint8Array | undefined, encoder: RecordEncoder): void {
    const shape = this.#shape;
    if (save.snapshot !== undefined && snapshotPayload !== undefined) {
      const problem = shape.snapshotProblem(save.snapshot, keep);
      assert(problem === undefined, `Cannot save: ${problem}`);
      shape.applySnapshot(save.snapshot, keep);
      encoder.appendSnapshot(snapshotPayload);
      this.#headerSnapshotPayload = headerSnapshotPayload(shape);
    }
    const entries = save.entries;
    const firstIndex = entries[0]?.index ?? 0;
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[k] as Entry;
      assert(entry.index === firstIndex + k, "Cannot save entries whose indexes are not consecutive");
      const problem = shape.entryProblem(entry.index, entry.term);
      assert(problem === undefined, `Cannot save: ${problem}`);
      shape.appendEntry(entry.index, entry.term);
      encoder.appendEntry(entry);
    }
    if (save.hardState !== undefined) {
      const problem = shape.hardStateProblem(save.hardState);
      assert(problem === undefined, `Cannot save: ${problem}`);
      shape.setHardState(save.hardState);
      encoder.appendHardState(save.hardState);
    }
    const problem = shape.commitProblem();
    assert(problem === undefined, `Cannot save: ${problem}`);
  }
}

function headerSnapshotPayload(shape: LogShape): Uint8Array | undefined {
  return shape.snapshot === undefined ? undefined : encodeSnapshotPayload(shape.snapshot, true);
}

function segmentHeaderBytes(snapshotPayload: Uint8Array | undefined): number {
  return (snapshotPayload === undefined ? 0 : snapshotRecordBytes(snapshotPayload)) + HARD_STATE_RECORD_BYTES;
}

/** Snapshot marker first, then hard state: replaying from this segment alone then meets the commit index only
 * after the snapshot that makes it valid. */
function encodeSegmentHeader(encoder: RecordEncoder, hardState: HardState, snapshotPayload: Uint8Array | undefined) {
  if (snapshotPayload !== undefined) encoder.appendSnapshot(snapshotPayload);
  encoder.appendHardState(hardState);
}

/** Opens the last segment for appending. In a fresh directory, or when the last segment was torn before its
 * header became durable (it is empty after recovery), writes a header first and makes it durable. */
async function openLastSegment(
  dir: string,
  options: ResolvedWalOptions,
  segments: Segment[],
  shape: LogShape,
): Promise<DiskFile> {
  const { disk } = options;
  const last = segments[segments.length - 1];
  if (last !== undefined && last.sizeBytes > 0) {
    const file = await disk.open(segmentPath(dir, last.name), "existing");
    // Where replayed records become durable: the last segment's tail may be only in the page cache (a kill -9
    // keeps unsynced writes there, and recovery reads them back). Raft acts on what it recovers — it votes by its
    // term and acknowledges its entries — so all of it is made durable before the WAL is handed over. (Found by
    // the node simulation: a member acknowledged recovered, never-synced entries.)
    await file.sync();
    await disk.syncDirectory(dir);
    return file;
  }
  const snapshotPayload = headerSnapshotPayload(shape);
  const headerBytes = segmentHeaderBytes(snapshotPayload);
  const encoder = new RecordEncoder(headerBytes);
  encodeSegmentHeader(encoder, shape.hardState, snapshotPayload);
  const segment = newSegment(last?.seq ?? 1, headerBytes);
  segment.sizeBytes = headerBytes;
  if (last === undefined) segments.push(segment);
  else segments[segments.length - 1] = segment;
  const file = await disk.open(segmentPath(dir, segment.name), last === undefined ? "create" : "existing");
  const [headerRecords] = encoder.finish(); // a segment header has no entries: one part
  assert(headerRecords !== undefined, "a segment header encodes to one part");
  await file.write(headerRecords, 0);
  await file.sync();
  await disk.syncDirectory(dir);
  // A fresh WAL directory must itself survive a crash, not only the file in it.
  if (last === undefined) await disk.syncDirectory(parentDirectory(dir));
  return file;
}

function parentDirectory(dir: string): string {
  const trimmed = dir.replace(/\/+$/, "");
  const slash = trimmed.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : trimmed.slice(0, slash);
}
