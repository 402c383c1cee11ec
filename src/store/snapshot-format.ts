/**
 * @module The serialized image of a store, shared by every implementation (an LMDB node can install a memory
 * store's snapshot and back): a byte stream cut into chunks of a bounded size, independent of record
 * boundaries, so a chunk maps directly onto an InstallSnapshot message.
 *
 *   stream = magic "SHOALSS1" | frame...
 *   frame  = kind u8 | payloadLength u32 | payload | crc32c u32 (over kind, length and payload)
 *   kinds  = 1 header (payload: encoded StoreMeta), exactly once, first
 *            2 record (payload: keyLength u32 | key | encoded record), keys strictly ascending
 *            4 row    (payload: collectionId u64 | rowKeyLength u32 | rowKey | value): the rows of the
 *                     table-encoded record just before, row keys strictly ascending, all of them
 *            3 end    (payload: recordCount u32 | recordCount high u32), exactly once, last
 *
 * Rows follow their owner, so an image holds exactly the rows of live collections (dropped ones awaiting
 * reclaim are never reachable from a record) and a reader checks each collection whole with O(1) memory.
 * The reader checks every CRC, the key and row order, that each collection's rows add up to its header's
 * `rowBytes`, and that the records add up to the header's counts, so a truncated or corrupted image is refused
 * instead of being installed.
 */
import { crc32c } from "@node-rs/crc32";
import { assert } from "../lib/assert.js";
import { compareBytes, plainBytes } from "../lib/bytes.js";
import { ShoalError } from "../lib/errors.js";
import { recordSizeBytes } from "./batch-plan.js";
import { type CollectionHeader, collectionOf, collectionRowBytes } from "./collection.js";
import type { StoredRecord } from "./record.js";
import {
  decodeRecord,
  encodedRecordBytes,
  encodeRecordHeaderInto,
  encodeRecordInto,
  RECORD_HEADER_BYTES,
} from "./record-codec.js";
import { decodeMeta, encodeMeta, type StoreMeta } from "./store-meta.js";

const MAGIC = new TextEncoder().encode("SHOALSS1");
const FRAME_HEADER = 1;
const FRAME_RECORD = 2;
const FRAME_END = 3;
const FRAME_ROW = 4;
/** A record frame holds one key and one value; anything larger is corruption, not data. */
const FRAME_PAYLOAD_BYTES_MAX = 64 * 1024 * 1024;

/** Each chunk is produced in one synchronous step (~20 µs a record of 100 bytes here): 64 KiB keeps a step to a
 * few milliseconds, and to tens on a node busy with a 1 M-field hash and two peers on two cores (256 KiB chunks
 * made 100–200 ms turns there), so producing a snapshot of a big store never holds the event loop long (issue 10). */
export const SNAPSHOT_CHUNK_SIZE_BYTES_DEFAULT = 64 * 1024;

export interface SnapshotRecord {
  readonly key: Uint8Array;
  readonly record: StoredRecord;
}

export interface SnapshotRow {
  readonly collectionId: number;
  readonly rowKey: Uint8Array;
  readonly value: Uint8Array;
}

/** What an image holds after its header, in order: each record, followed by its collection's rows if any. */
export type SnapshotEntry = ({ readonly kind: "record" } & SnapshotRecord) | ({ readonly kind: "row" } & SnapshotRow);

/**
 * Serializes `meta` and `entries` (records in ascending key order, each table-encoded one followed by its rows
 * in ascending row-key order) into chunks of exactly `chunkSizeBytes` (the last one shorter). Entries are
 * pulled lazily, one chunk's worth at a time.
 */
export function* snapshotChunks(
  meta: StoreMeta,
  entries: Iterable<SnapshotEntry>,
  chunkSizeBytes: number,
): Generator<Uint8Array> {
  const out = new ChunkWriter(chunkSizeBytes);
  out.write(MAGIC);
  yield* writeFrame(out, FRAME_HEADER, [encodeMeta(meta)]);
  let recordCount = 0;
  for (const entry of entries) {
    if (entry.kind === "row") {
      yield* writeFrame(out, FRAME_ROW, [encodeRowFrame(entry)]);
    } else {
      yield* writeFrame(out, FRAME_RECORD, recordFrameParts(entry));
      recordCount++;
    }
  }
  assert(recordCount === meta.keyCount, "a snapshot holds exactly the meta's key count");
  const end = new Uint8Array(8);
  new DataView(end.buffer).setUint32(0, recordCount % 2 ** 32);
  new DataView(end.buffer).setUint32(4, Math.floor(recordCount / 2 ** 32));
  yield* writeFrame(out, FRAME_END, [end]);
  const last = out.takeRest();
  if (last !== undefined) yield last;
}

/** A record frame's payload: key length, key, the record's encoding. A big value stays a part of its own, so it
 * is never copied into one buffer of its size (a 16 MiB copy is tens of milliseconds of page faults, issue 10). */
function recordFrameParts({ key, record }: SnapshotRecord): Uint8Array[] {
  const big = record.value.byteLength >= SEPARATE_VALUE_BYTES_MIN;
  const head = new Uint8Array(4 + key.byteLength + (big ? RECORD_HEADER_BYTES : encodedRecordBytes(record)));
  new DataView(head.buffer).setUint32(0, key.byteLength);
  head.set(key, 4);
  if (!big) {
    encodeRecordInto(head, 4 + key.byteLength, record);
    return [head];
  }
  encodeRecordHeaderInto(head, 4 + key.byteLength, record);
  return [head, record.value];
}

/** Values this big are written into the image from their own bytes (recordFrameParts). */
const SEPARATE_VALUE_BYTES_MIN = 64 * 1024;

function encodeRowFrame({ collectionId, rowKey, value }: SnapshotRow): Uint8Array {
  const payload = new Uint8Array(12 + rowKey.byteLength + value.byteLength);
  const view = new DataView(payload.buffer);
  view.setBigUint64(0, BigInt(collectionId));
  view.setUint32(8, rowKey.byteLength);
  payload.set(rowKey, 12);
  payload.set(value, 12 + rowKey.byteLength);
  return payload;
}

/** Scratch for frame heads and checksums: a snapshot writes one frame per record, so these are reused. */
const frameHead = new Uint8Array(5);
const frameHeadView = new DataView(frameHead.buffer);
const frameCrc = new Uint8Array(4);
const frameCrcView = new DataView(frameCrc.buffer);

/** Writes one frame (head, the payload's parts, checksum) and yields each chunk as soon as it is full, so a
 * frame of a 16 MiB value is copied one chunk per pull, never all in one turn. */
function* writeFrame(out: ChunkWriter, kind: number, parts: readonly Uint8Array[]): Generator<Uint8Array> {
  let length = 0;
  for (const part of parts) length += part.byteLength;
  frameHead[0] = kind;
  frameHeadView.setUint32(1, length);
  let crc = crc32c(frameHead);
  for (const part of parts) crc = crc32c(part, crc);
  out.write(frameHead);
  for (const part of parts) {
    if (part.byteLength <= out.chunkSizeBytes) {
      out.write(part); // a record of a few bytes: no view made for it (a snapshot writes millions)
      yield* out.takeFull();
      continue;
    }
    for (let at = 0; at < part.byteLength; at += out.chunkSizeBytes) {
      out.write(part.subarray(at, at + out.chunkSizeBytes));
      yield* out.takeFull();
    }
  }
  // Set and written with no pause between: another snapshot's frames may run while this one's parts were pulled.
  frameCrcView.setUint32(0, crc);
  out.write(frameCrc);
  yield* out.takeFull();
}

class ChunkWriter {
  readonly chunkSizeBytes: number;
  #current: Uint8Array;
  #filled = 0;
  #full: Uint8Array[] = [];

  constructor(chunkSizeBytes: number) {
    assert(Number.isSafeInteger(chunkSizeBytes) && chunkSizeBytes > 0, "chunk size is a positive integer");
    this.chunkSizeBytes = chunkSizeBytes;
    this.#current = new Uint8Array(chunkSizeBytes);
  }

  write(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.length) {
      const count = Math.min(bytes.length - offset, this.chunkSizeBytes - this.#filled);
      this.#current.set(bytes.subarray(offset, offset + count), this.#filled);
      this.#filled += count;
      offset += count;
      if (this.#filled === this.chunkSizeBytes) {
        this.#full.push(this.#current);
        this.#current = new Uint8Array(this.chunkSizeBytes);
        this.#filled = 0;
      }
    }
  }

  takeFull(): Uint8Array[] {
    const full = this.#full;
    this.#full = [];
    return full;
  }

  takeRest(): Uint8Array | undefined {
    return this.#filled === 0 ? undefined : this.#current.subarray(0, this.#filled);
  }
}

/** What a parsed image yields: its meta first, then every record in key order, each followed by its rows. */
export type SnapshotItem = { readonly kind: "header"; readonly meta: StoreMeta } | SnapshotEntry;

/**
 * Parses an image, validating it as it goes. Only when the generator COMPLETES has the whole image been
 * verified: a consumer must not install anything before that. Throws ShoalError BAD_REQUEST on any defect.
 */
export async function* parseSnapshot(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<SnapshotItem, StoreMeta> {
  const input = new ByteQueue(chunks);
  try {
    return yield* parseFrames(input);
  } finally {
    await input.close();
  }
}

async function* parseFrames(input: ByteQueue): AsyncGenerator<SnapshotItem, StoreMeta> {
  const magic = await input.take(MAGIC.length);
  if (magic === undefined || compareBytes(magic, MAGIC) !== 0) throw corrupt("it does not start with the magic");
  const header = await readFrame(input);
  if (header?.kind !== FRAME_HEADER) throw corrupt("the first frame is not a header");
  const meta = decodeMetaFrame(header.payload);
  yield { kind: "header", meta };
  let previousKey: Uint8Array | undefined;
  let recordCount = 0;
  let sizeBytes = 0;
  const rows = new RowChecker(meta);
  for (;;) {
    const frame = await readFrame(input);
    if (frame === undefined) throw corrupt("it ends before its end frame");
    if (frame.kind === FRAME_END) {
      rows.finishCollection();
      checkEnd(frame.payload, recordCount, sizeBytes, meta);
      break;
    }
    if (frame.kind === FRAME_ROW) {
      const row = decodeRowFrame(frame.payload);
      rows.check(row);
      yield { kind: "row", ...row };
      continue;
    }
    if (frame.kind !== FRAME_RECORD) throw corrupt(`unexpected frame kind ${frame.kind}`);
    const item = decodeRecordFrame(frame.payload);
    if (previousKey !== undefined && compareBytes(previousKey, item.key) >= 0) throw corrupt("keys out of order");
    previousKey = item.key;
    recordCount++;
    sizeBytes += recordSizeBytes(item.key, item.record);
    rows.startRecord(item.record);
    yield { kind: "record", ...item };
  }
  if (!(await input.atEnd())) throw corrupt("bytes follow the end frame");
  return meta;
}

/** Checks that rows follow the record owning their collection, in order, adding up to its header's rowBytes. */
class RowChecker {
  readonly #meta: StoreMeta;
  #owner: CollectionHeader | undefined;
  #rowBytes = 0;
  #previousRowKey: Uint8Array | undefined;

  constructor(meta: StoreMeta) {
    this.#meta = meta;
  }

  startRecord(record: StoredRecord): void {
    this.finishCollection();
    try {
      this.#owner = collectionOf(record);
    } catch (error) {
      throw corrupt((error as Error).message);
    }
    if (this.#owner !== undefined && this.#owner.collectionId >= this.#meta.nextCollectionId) {
      throw corrupt(`collection ${this.#owner.collectionId} is not below the counter ${this.#meta.nextCollectionId}`);
    }
    this.#rowBytes = 0;
    this.#previousRowKey = undefined;
  }

  check(row: SnapshotRow): void {
    if (this.#owner?.collectionId !== row.collectionId) {
      throw corrupt(`a row of collection ${row.collectionId} does not follow its owner`);
    }
    if (this.#previousRowKey !== undefined && compareBytes(this.#previousRowKey, row.rowKey) >= 0) {
      throw corrupt("rows out of order");
    }
    this.#previousRowKey = row.rowKey;
    this.#rowBytes += collectionRowBytes(row.rowKey, row.value);
  }

  finishCollection(): void {
    if (this.#owner !== undefined && this.#owner.rowBytes !== this.#rowBytes) {
      const { collectionId, rowBytes } = this.#owner;
      throw corrupt(`collection ${collectionId} holds ${this.#rowBytes} row bytes, its header says ${rowBytes}`);
    }
    this.#owner = undefined;
  }
}

function decodeMetaFrame(payload: Uint8Array): StoreMeta {
  try {
    return decodeMeta(payload);
  } catch (error) {
    throw corrupt((error as Error).message);
  }
}

function decodeRecordFrame(payload: Uint8Array): SnapshotRecord {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  if (payload.length < 4) throw corrupt("a record frame is too short");
  const keyLength = view.getUint32(0);
  if (payload.length < 4 + keyLength) throw corrupt("a record's key overruns its frame");
  const key = plainBytes(payload.subarray(4, 4 + keyLength));
  try {
    return { key, record: decodeRecord(payload.subarray(4 + keyLength)) };
  } catch (error) {
    throw corrupt((error as Error).message);
  }
}

function decodeRowFrame(payload: Uint8Array): SnapshotRow {
  if (payload.length < 12) throw corrupt("a row frame is too short");
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const collectionId = Number(view.getBigUint64(0));
  const rowKeyLength = view.getUint32(8);
  if (payload.length < 12 + rowKeyLength) throw corrupt("a row's key overruns its frame");
  return {
    collectionId,
    rowKey: plainBytes(payload.subarray(12, 12 + rowKeyLength)),
    value: plainBytes(payload.subarray(12 + rowKeyLength)),
  };
}

function checkEnd(payload: Uint8Array, recordCount: number, sizeBytes: number, meta: StoreMeta): void {
  if (payload.length !== 8) throw corrupt("the end frame has the wrong size");
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const declared = view.getUint32(0) + view.getUint32(4) * 2 ** 32;
  if (declared !== recordCount || recordCount !== meta.keyCount) {
    throw corrupt(`it holds ${recordCount} records, the end frame says ${declared}, the header ${meta.keyCount}`);
  }
  if (sizeBytes !== meta.sizeBytes) throw corrupt(`its records hold ${sizeBytes} bytes, the header ${meta.sizeBytes}`);
}

async function readFrame(input: ByteQueue): Promise<{ kind: number; payload: Uint8Array } | undefined> {
  if (await input.atEnd()) return undefined;
  const head = await input.take(5);
  if (head === undefined) throw corrupt("it ends inside a frame header");
  const length = new DataView(head.buffer, head.byteOffset, 5).getUint32(1);
  if (length > FRAME_PAYLOAD_BYTES_MAX) throw corrupt(`a frame claims ${length} bytes`);
  const rest = await input.take(length + 4);
  if (rest === undefined) throw corrupt("it ends inside a frame");
  const payload = rest.subarray(0, length);
  const crc = new DataView(rest.buffer, rest.byteOffset + length, 4).getUint32(0);
  if (crc32c(payload, crc32c(head)) !== crc) throw corrupt("a frame's checksum does not match");
  return { kind: head[0] as number, payload };
}

function corrupt(why: string): ShoalError {
  return new ShoalError("BAD_REQUEST", `Cannot restore snapshot: ${why}`);
}

/** Pulls chunks on demand and hands out exact byte counts, copying each byte once (a frame may span many
 * chunks, and a chunk may hold many frames). */
class ByteQueue {
  readonly #source: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  #parts: Uint8Array[] = [];
  #available = 0;
  #done = false;

  constructor(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.#source = Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]();
  }

  /** Exactly `count` bytes, or undefined when the stream ends first. */
  async take(count: number): Promise<Uint8Array | undefined> {
    while (this.#available < count) if (!(await this.#pull())) return undefined;
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const part = this.#parts[0] as Uint8Array;
      const used = Math.min(part.length, count - filled);
      out.set(part.subarray(0, used), filled);
      filled += used;
      if (used === part.length) this.#parts.shift();
      else this.#parts[0] = part.subarray(used);
    }
    this.#available -= count;
    return out;
  }

  async atEnd(): Promise<boolean> {
    while (this.#available === 0) if (!(await this.#pull())) return true;
    return false;
  }

  /** Lets the source release its resources when parsing stops early. */
  async close(): Promise<void> {
    if (!this.#done) await this.#source.return?.();
    this.#done = true;
  }

  async #pull(): Promise<boolean> {
    if (this.#done) return false;
    const next = await this.#source.next();
    if (next.done === true) {
      this.#done = true;
      return false;
    }
    if (next.value.length > 0) {
      this.#parts.push(next.value);
      this.#available += next.value.length;
    }
    return true;
  }
}
