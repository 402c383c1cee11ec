/**
 * @module Recovery: reads every segment in order, replays it, cuts a torn tail off the last segment and
 * removes segments left behind by an interrupted compaction. Refuses to start (throws the replayer's
 * ShoalError, naming the file and byte offset) on corruption anywhere else.
 */
import type { Disk } from "../io/disk.js";
import { removeSegments } from "./compaction.js";
import { LogReplayer, type WalState } from "./log-replayer.js";
import type { LogShape } from "./log-shape.js";
import { parseSegmentName, type Segment, segmentName, segmentPath } from "./segment.js";

export interface Recovery {
  readonly state: WalState;
  /** The log's shape after replay; the writer continues from it. */
  readonly shape: LogShape;
  /** The live segments in order (possibly none); appends continue in the last one. */
  readonly segments: Segment[];
}

/** `verifyChecksums` is false only under the simulator's `wal-no-checksum` mutation (WalUnsafe). `pause` runs
 * between slices of a segment's replay (WalOptions.pause). */
export async function recoverWal(
  disk: Disk,
  dir: string,
  pause: () => Promise<void>,
  verifyChecksums = true,
): Promise<Recovery> {
  const seqs = (await disk.list(dir))
    .map(parseSegmentName)
    .filter((seq): seq is number => seq !== undefined)
    .sort((a, b) => a - b);
  const liveFrom = firstLiveSegment(seqs);
  const replayer = new LogReplayer(verifyChecksums);
  const segments: Segment[] = [];
  for (let i = liveFrom; i < seqs.length; i++) {
    const seq = seqs[i] as number;
    const name = segmentName(seq);
    const bytes = await disk.readFile(segmentPath(dir, name));
    const steps = replayer.replaySegmentSteps(seq, name, bytes, i === seqs.length - 1);
    let step = steps.next();
    while (step.done !== true) {
      await pause();
      step = steps.next();
    }
    const { segment, validBytes } = step.value;
    if (validBytes < bytes.byteLength) await cutTornTail(disk, segmentPath(dir, name), validBytes);
    segments.push(segment);
  }
  const state = replayer.finish();
  // Only now that the live segments replayed cleanly is it safe to delete what came before them.
  await removeSegments(disk, dir, seqs.slice(0, liveFrom));
  return { state, shape: replayer.shape, segments };
}

/**
 * Compaction deletes a prefix of the segments, newest first, and syncs the directory after the newest one
 * (see `removeSegments` in compaction.ts). A crash in between leaves older segments separated from the live
 * ones by a gap in the sequence numbers; the live segments start after the last gap. A segment deleted by
 * hand also leaves a gap, but then no snapshot covers the entries it held and replay reports them missing.
 */
function firstLiveSegment(seqs: readonly number[]): number {
  for (let i = seqs.length - 1; i > 0; i--) {
    if ((seqs[i] as number) !== (seqs[i - 1] as number) + 1) return i;
  }
  return 0;
}

/** Truncates a torn tail and makes the cut durable before anything new is appended after it. */
async function cutTornTail(disk: Disk, path: string, validBytes: number): Promise<void> {
  const file = await disk.open(path, "existing");
  try {
    await file.truncate(validBytes);
    await file.sync();
  } finally {
    await file.close();
  }
}
