/**
 * @module Payload layouts of the three record types (all integers little-endian; u64 values are JavaScript
 * safe integers, so the high word is below 2^21):
 *
 *   entry      [term u64][index u64][entryType u8: 0 normal, 1 confChange][data: the rest]
 *   hardState  [term u64][vote u64][commit u64]
 *   snapshot   msgpack { index, term, confState: { voters, learners }, keep: boolean }
 *
 * A snapshot marker's `keep` records the writer's decision whether the entries after the snapshot survive it
 * (the log held the snapshot's index with its term) or the whole log was discarded. Recovery obeys the flag
 * rather than re-deriving it, because after compaction it may replay from a segment whose older entries —
 * the ones the decision was based on — are deleted.
 *
 * Entries and hard states use a fixed hand layout because they are on the write hot path: the encoder writes
 * them straight into the one buffer of a save, with no intermediate object or buffer per entry, and decoding
 * never guesses a number's msgpack width. Snapshot markers are rare and their `ConfState` is the part of the
 * format most likely to grow (joint consensus adds outgoing voters), so they use msgpack and a shape check.
 */
import { Packr } from "msgpackr";
import type { ConfState, Entry, EntryType, HardState, NodeId, SnapshotMetadata } from "../raft/types.js";
import { readU32, writeU32 } from "./record-frame.js";

export const ENTRY_FIXED_BYTES = 17;
export const HARD_STATE_BYTES = 24;

const WORD = 0x1_0000_0000;
const HIGH_WORD_MAX = 0x1f_ffff;

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function writeU64(bytes: Uint8Array, offset: number, value: number): void {
  writeU32(bytes, offset, value >>> 0);
  writeU32(bytes, offset + 4, Math.floor(value / WORD));
}

/** A u64 as a safe integer, or -1 when it is not one (the caller reports a malformed payload). */
export function readU64(bytes: Uint8Array, offset: number): number {
  const high = readU32(bytes, offset + 4);
  if (high > HIGH_WORD_MAX) return -1;
  return high * WORD + readU32(bytes, offset);
}

/** Writes an entry's payload at `offset`; returns the offset past it. */
export function writeEntryPayload(bytes: Uint8Array, offset: number, entry: Entry): number {
  const fixedEnd = writeEntryFixed(bytes, offset, entry);
  bytes.set(entry.data, fixedEnd);
  return fixedEnd + entry.data.byteLength;
}

/** Writes the fixed fields that open an entry's payload (its data follows them); returns the offset past them. */
export function writeEntryFixed(bytes: Uint8Array, offset: number, entry: Entry): number {
  writeU64(bytes, offset, entry.term);
  writeU64(bytes, offset + 8, entry.index);
  bytes[offset + 16] = entry.type === "normal" ? 0 : 1;
  return offset + ENTRY_FIXED_BYTES;
}

/** Decodes `bytes[start, end)`; undefined when malformed. `data` is a copy, so the caller may drop `bytes`. */
export function readEntryPayload(bytes: Uint8Array, start: number, end: number): Entry | undefined {
  if (end - start < ENTRY_FIXED_BYTES) return undefined;
  const term = readU64(bytes, start);
  const index = readU64(bytes, start + 8);
  const typeCode = bytes[start + 16];
  if (term < 0 || index < 0 || (typeCode !== 0 && typeCode !== 1)) return undefined;
  const type: EntryType = typeCode === 0 ? "normal" : "confChange";
  // A copy (Buffer#slice would share the segment's memory and keep the whole file alive).
  return { term, index, type, data: new Uint8Array(bytes.subarray(start + ENTRY_FIXED_BYTES, end)) };
}

export function writeHardStatePayload(bytes: Uint8Array, offset: number, hardState: HardState): number {
  writeU64(bytes, offset, hardState.term);
  writeU64(bytes, offset + 8, hardState.vote);
  writeU64(bytes, offset + 16, hardState.commit);
  return offset + HARD_STATE_BYTES;
}

export function readHardStatePayload(bytes: Uint8Array, start: number, end: number): HardState | undefined {
  if (end - start !== HARD_STATE_BYTES) return undefined;
  const term = readU64(bytes, start);
  const vote = readU64(bytes, start + 8);
  const commit = readU64(bytes, start + 16);
  if (term < 0 || vote < 0 || commit < 0) return undefined;
  return { term, vote, commit };
}

/** The msgpack payload of a snapshot marker (copied out of msgpackr's shared buffer). */
export function encodeSnapshotPayload(metadata: SnapshotMetadata, keep: boolean): Uint8Array {
  const { index, term, confState } = metadata;
  const voters = [...confState.voters];
  const learners = [...confState.learners];
  return Uint8Array.from(packr.pack({ index, term, confState: { voters, learners }, keep }));
}

export interface SnapshotRecord {
  readonly metadata: SnapshotMetadata;
  /** Whether the entries after the snapshot's index survived it. */
  readonly keep: boolean;
}

export function readSnapshotPayload(bytes: Uint8Array, start: number, end: number): SnapshotRecord | undefined {
  let value: unknown;
  try {
    value = packr.unpack(bytes.subarray(start, end));
  } catch {
    return undefined;
  }
  if (!isObject(value) || !isSafeCount(value.index) || !isSafeCount(value.term)) return undefined;
  if (typeof value.keep !== "boolean") return undefined;
  const confState = value.confState;
  if (!isObject(confState) || !isNodeIds(confState.voters) || !isNodeIds(confState.learners)) return undefined;
  const checked: ConfState = { voters: confState.voters, learners: confState.learners };
  return { metadata: { index: value.index, term: value.term, confState: checked }, keep: value.keep };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isSafeCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isNodeIds(value: unknown): value is NodeId[] {
  return Array.isArray(value) && value.every(isSafeCount);
}
