/**
 * @module Replays segment bytes into the recovered log, record by record, with the same rules the writer
 * applies (`LogShape`). Pure: no I/O; `recoverWal` feeds it the files.
 *
 * A bad record (incomplete, unknown type, checksum mismatch) is a torn write only at the tail of the LAST
 * segment, and only when no valid record starts anywhere after it: a write cut short by a crash leaves a prefix
 * of the last save, possibly followed by zeros, and nothing after. Anything else — a bad record in an older
 * segment, a bad record followed by valid ones, a record whose checksum holds but whose payload or meaning is
 * wrong — is corruption, and recovery refuses to start rather than silently drop acknowledged entries.
 * (Limitation: data that itself embeds a valid WAL record, torn right before it, would be reported as
 * corruption: a refusal, never a silent loss.)
 */
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import { runSteps, type Steps } from "../lib/steps.js";
import type { Entry, HardState, SnapshotMetadata } from "../raft/types.js";
import { LogShape } from "./log-shape.js";
import { readEntryPayload, readHardStatePayload, readSnapshotPayload } from "./payload-codec.js";
import { FrameCursor, type FrameProblem, findValidFrame, RecordType } from "./record-frame.js";
import { newSegment, type Segment } from "./segment.js";

/** What `Wal.open` recovers. The caller owns `entries`. */
export interface WalState {
  readonly hardState: HardState;
  /** The latest snapshot marker: the log starts right after its index. */
  readonly snapshot?: SnapshotMetadata | undefined;
  /** Every entry after the snapshot, in index order. */
  readonly entries: Entry[];
}

export function corruptionError(name: string, offsetBytes: number, reason: string): ShoalError {
  return new ShoalError("INTERNAL", `Cannot recover WAL: ${reason} in ${name} at offset ${offsetBytes}`, {
    file: name,
    offsetBytes,
  });
}

/** What replaying one segment found: the segment, and the length of its valid prefix. */
export interface SegmentReplay {
  readonly segment: Segment;
  readonly validBytes: number;
}

/** Replay may pause after this many bytes of records (about 10 ms of checksums and decoding here). */
const REPLAY_STEP_BYTES = 1024 * 1024;

interface Place {
  readonly name: string;
  readonly offsetBytes: number;
}

export class LogReplayer {
  readonly shape = new LogShape();
  // Invariant: #entries[k].index === shape.firstKnownIndex + k, and #entries.length ===
  // shape.lastIndex - shape.firstKnownIndex + 1 (asserted by `finish()`).
  #entries: Entry[] = [];
  /** Where the first entry was replayed (entries before it may be missing after compaction). */
  #firstEntryAt: Place | undefined = undefined;
  #lastHardStateAt: Place | undefined = undefined;
  readonly #verifyChecksums: boolean;

  constructor(verifyChecksums = true) {
    this.#verifyChecksums = verifyChecksums;
  }

  /** Replays one segment's bytes. Returns the segment and the length of its valid prefix, which is shorter
   * than `bytes` only for the last segment's torn tail. Throws a ShoalError naming the file and offset. */
  replaySegment(seq: number, name: string, bytes: Uint8Array, isLast: boolean): SegmentReplay {
    return runSteps(this.replaySegmentSteps(seq, name, bytes, isLast));
  }

  /** `replaySegment` as steps: it may pause after every `REPLAY_STEP_BYTES` of records (a 64 MiB segment of
   * small entries held a starting node's event loop ~300 ms in one piece, issue 10). The pause points depend only
   * on the bytes, so a simulated node replays the same way every run. */
  *replaySegmentSteps(seq: number, name: string, bytes: Uint8Array, isLast: boolean): Steps<SegmentReplay> {
    const segment = newSegment(seq, 0);
    if (bytes.byteLength === 0 && !isLast) throw corruptionError(name, 0, "empty segment");
    const cursor = new FrameCursor(this.#verifyChecksums);
    let offset = 0;
    let nextPauseAt = REPLAY_STEP_BYTES;
    while (offset < bytes.byteLength) {
      if (offset >= nextPauseAt) {
        yield;
        nextPauseAt = offset + REPLAY_STEP_BYTES;
      }
      const problem = cursor.read(bytes, offset);
      if (problem !== undefined) {
        this.#checkTornTail(name, bytes, offset, problem, isLast);
        break;
      }
      if (offset === 0 && cursor.type === RecordType.entry) {
        throw corruptionError(name, 0, "segment does not start with a header (snapshot marker or hard state)");
      }
      const reason = this.#apply(bytes, cursor, segment, { name, offsetBytes: offset });
      if (reason !== undefined) throw corruptionError(name, offset, reason);
      offset = cursor.end;
    }
    segment.sizeBytes = offset;
    return { segment, validBytes: offset };
  }

  /** The recovered state, once every segment was replayed. Throws when entries are missing or the commit
   * index points past the log. */
  finish(): WalState {
    const shape = this.shape;
    const missing = shape.missingProblem();
    const firstEntryAt = this.#firstEntryAt;
    if (missing !== undefined && firstEntryAt !== undefined) {
      throw corruptionError(firstEntryAt.name, firstEntryAt.offsetBytes, missing);
    }
    const commit = shape.commitProblem();
    const hardStateAt = this.#lastHardStateAt;
    if (commit !== undefined && hardStateAt !== undefined) {
      throw corruptionError(hardStateAt.name, hardStateAt.offsetBytes, commit);
    }
    const entries = this.#entries;
    assert(entries.length === shape.lastIndex - shape.snapshotIndex, "Replayed entries disagree with the log's length");
    assert(entries.length === 0 || entries[0]?.index === shape.snapshotIndex + 1, "Replayed entries start elsewhere");
    return { hardState: shape.hardState, snapshot: shape.snapshot, entries };
  }

  #checkTornTail(name: string, bytes: Uint8Array, offset: number, problem: FrameProblem, isLast: boolean): void {
    if (!isLast) throw corruptionError(name, offset, problem);
    const next = findValidFrame(bytes, offset);
    if (next >= 0) throw corruptionError(name, offset, `${problem} (a valid record follows at offset ${next})`);
  }

  /** Applies the valid frame under `cursor`; returns why it cannot be applied, or undefined. */
  #apply(bytes: Uint8Array, cursor: FrameCursor, segment: Segment, place: Place): string | undefined {
    const { payloadStart, end } = cursor;
    switch (cursor.type) {
      case RecordType.entry: {
        const entry = readEntryPayload(bytes, payloadStart, end);
        if (entry === undefined) return "malformed entry record";
        const problem = this.#applyEntry(entry, place);
        if (problem === undefined) segment.maxEntryIndex = Math.max(segment.maxEntryIndex, entry.index);
        return problem;
      }
      case RecordType.hardState: {
        const hardState = readHardStatePayload(bytes, payloadStart, end);
        if (hardState === undefined) return "malformed hard state record";
        const problem = this.shape.hardStateProblem(hardState);
        if (problem !== undefined) return problem;
        this.shape.setHardState(hardState);
        this.#lastHardStateAt = place;
        return undefined;
      }
      case RecordType.snapshot: {
        const record = readSnapshotPayload(bytes, payloadStart, end);
        if (record === undefined) return "malformed snapshot record";
        return this.#applySnapshot(record.metadata, record.keep);
      }
    }
  }

  #applyEntry(entry: Entry, place: Place): string | undefined {
    const shape = this.shape;
    const firstEntry = this.#firstEntryAt === undefined;
    const problem = shape.entryProblem(entry.index, entry.term, firstEntry);
    if (problem !== undefined) return problem;
    if (firstEntry) this.#firstEntryAt = place;
    const firstKnown = shape.firstKnownIndex;
    shape.appendEntry(entry.index, entry.term);
    // When the missing range moved (a gap opened before the first entry, or an entry replaced missing ones),
    // no known entry survives; otherwise the suffix from `entry.index` on is replaced.
    if (shape.firstKnownIndex !== firstKnown) this.#entries = [];
    else this.#entries.length = entry.index - firstKnown;
    this.#entries.push(entry);
    return undefined;
  }

  #applySnapshot(snapshot: SnapshotMetadata, keep: boolean): string | undefined {
    const shape = this.shape;
    const problem = shape.snapshotProblem(snapshot, keep);
    if (problem !== undefined) return problem;
    const firstKnown = shape.firstKnownIndex;
    shape.applySnapshot(snapshot, keep);
    const dropCount = shape.firstKnownIndex - firstKnown;
    if (shape.lastIndex < shape.firstKnownIndex) this.#entries = [];
    else if (dropCount > 0) this.#entries = this.#entries.slice(dropCount);
    return undefined;
  }
}
