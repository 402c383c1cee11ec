/**
 * @module Compaction: which whole segments may go once a snapshot marker covers their entries, and how they
 * are removed so that a crash at any point leaves a recoverable directory.
 */
import type { Disk } from "../io/disk.js";
import { type Segment, segmentName, segmentPath } from "./segment.js";

/**
 * How many segments, from the oldest, may be deleted when a saved snapshot covers the log up to `index`: the
 * longest prefix whose entries are all <= `index`. The last segment (being appended to) is always kept.
 *
 * Why that is safe: recovery then starts at the first kept segment, whose header restores the hard state
 * and the snapshot marker current when it was created. Its first entries may continue entries that were in
 * the deleted segments; those are all <= `index`, hence covered by the snapshot (the latest marker, which
 * recovery meets at the latest in the last header). Every other record in the deleted segments only affected
 * entries written before it, so it no longer matters. See "missing entries" in `log-shape.ts`.
 */
export function planCompaction(segments: readonly Segment[], index: number): number {
  let deletable = 0;
  while (deletable + 1 < segments.length && (segments[deletable] as Segment).maxEntryIndex <= index) deletable++;
  return deletable;
}

/** Removes whole segments, newest first, syncing the directory after the newest: a crash midway then leaves
 * the survivors separated from the live segments by a gap in sequence numbers, which recovery recognizes
 * (`recoverWal` starts after the last gap). */
export async function removeSegments(disk: Disk, dir: string, seqs: readonly number[]): Promise<void> {
  if (seqs.length === 0) return;
  const newestFirst = [...seqs].sort((a, b) => b - a);
  await disk.remove(segmentPath(dir, segmentName(newestFirst[0] as number)));
  await disk.syncDirectory(dir);
  if (newestFirst.length === 1) return;
  for (const seq of newestFirst.slice(1)) await disk.remove(segmentPath(dir, segmentName(seq)));
  await disk.syncDirectory(dir);
}
