/**
 * @module Segment files: their names and what the writer and compaction need to know about each one.
 *
 * A WAL directory holds segments named by a sequence number, `%016x.wal` (`0000000000000001.wal`, ...), so
 * name order is log order. Every segment starts with a header: the latest snapshot marker (once one was saved)
 * and then the hard state. The header repeats state that older segments hold, so once a snapshot covers every
 * entry of the older segments they may be deleted and recovery starts at the header (see `planCompaction`).
 */

const NAME_PATTERN = /^[0-9a-f]{16}\.wal$/;

export interface Segment {
  readonly seq: number;
  readonly name: string;
  /** Bytes written or queued for writing; where the next save starts. */
  sizeBytes: number;
  /** Bytes of the header the WAL wrote itself (0 for a segment found on disk). A segment holding nothing else
   * is never rolled over: a save too large for any segment goes into a fresh one whole. */
  headerBytes: number;
  /** The highest index of any entry record in the segment, 0 when it holds none. */
  maxEntryIndex: number;
}

export function segmentName(seq: number): string {
  return `${seq.toString(16).padStart(16, "0")}.wal`;
}

/** The sequence number of a segment file name, or undefined for any other file. */
export function parseSegmentName(name: string): number | undefined {
  return NAME_PATTERN.test(name) ? Number.parseInt(name.slice(0, 16), 16) : undefined;
}

export function segmentPath(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

export function newSegment(seq: number, headerBytes: number): Segment {
  return { seq, name: segmentName(seq), sizeBytes: 0, headerBytes, maxEntryIndex: 0 };
}
