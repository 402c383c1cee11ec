/**
 * @module A batch's LMDB rows packed into one transferable buffer, for the writer thread (env-writer.ts): the
 * event loop only collects and copies bytes — a slice at a time — and the thread makes the LMDB calls. Layout,
 * row after row: an op byte (1 put, 0 remove), the key's length (u16) and bytes, and for a put the value's length
 * (u32) and bytes. Keys are LMDB keys (at most 1,978 bytes, well within u16).
 */
import type { Steps } from "../../lib/steps.js";

const PUT = 1;
const REMOVE = 0;

/** Rows are copied into chunks of this size as they come. */
const CHUNK_BYTES_DEFAULT = 1024 * 1024;

/**
 * Collects rows (the store's RowWriter shape) and packs them. Each row's bytes are copied into a chunk as it is
 * put, so the key and value arrays the caller made die young: holding ~300,000 of them until the batch was packed
 * kept them alive through every scavenge of a 100,000-key MSET, which grew the heap ~2 KB per key and made
 * scavenges of 30-150 ms (issue 10).
 */
export class PackedRowsBuilder {
  readonly #chunkBytes: number;
  readonly #full: Uint8Array[] = [];
  #chunk: Uint8Array;
  #view: DataView;
  #at = 0;
  #bytes = 0;
  #rows = 0;

  constructor(chunkBytes = CHUNK_BYTES_DEFAULT) {
    this.#chunkBytes = chunkBytes;
    this.#chunk = new Uint8Array(chunkBytes);
    this.#view = new DataView(this.#chunk.buffer);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    const at = this.#reserve(1 + 2 + key.byteLength + 4 + value.byteLength);
    this.#chunk[at] = PUT;
    this.#view.setUint16(at + 1, key.byteLength);
    this.#chunk.set(key, at + 3);
    const valueAt = at + 3 + key.byteLength;
    this.#view.setUint32(valueAt, value.byteLength);
    this.#chunk.set(value, valueAt + 4);
  }

  remove(key: Uint8Array): void {
    const at = this.#reserve(1 + 2 + key.byteLength);
    this.#chunk[at] = REMOVE;
    this.#view.setUint16(at + 1, key.byteLength);
    this.#chunk.set(key, at + 3);
  }

  get rowCount(): number {
    return this.#rows;
  }

  /** The rows in one buffer: the chunks copied one per step. */
  *packSteps(): Steps<ArrayBuffer> {
    const buffer = new ArrayBuffer(this.#bytes);
    const bytes = new Uint8Array(buffer);
    let at = 0;
    for (const chunk of [...this.#full, this.#chunk.subarray(0, this.#at)]) {
      bytes.set(chunk, at);
      at += chunk.byteLength;
      yield;
    }
    if (at !== buffer.byteLength) throw new Error("packed rows: the size counted and the bytes written differ");
    return buffer;
  }

  /** Room for a row of `length` bytes in the current chunk (a new one when it is full); returns where it starts. */
  #reserve(length: number): number {
    if (this.#at + length > this.#chunk.byteLength) {
      this.#full.push(this.#chunk.subarray(0, this.#at));
      this.#chunk = new Uint8Array(Math.max(this.#chunkBytes, length));
      this.#view = new DataView(this.#chunk.buffer);
      this.#at = 0;
    }
    const at = this.#at;
    this.#at += length;
    this.#bytes += length;
    this.#rows++;
    return at;
  }
}

/** Calls `put` or `remove` for each packed row, in order; the views share `buffer`. */
export function unpackRows(
  buffer: ArrayBuffer,
  visit: { put(key: Uint8Array, value: Uint8Array): void; remove(key: Uint8Array): void },
): number {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  let at = 0;
  let rows = 0;
  while (at < bytes.byteLength) {
    const op = bytes[at];
    const keyLength = view.getUint16(at + 1);
    const key = bytes.subarray(at + 3, at + 3 + keyLength);
    at += 3 + keyLength;
    if (op === PUT) {
      const valueLength = view.getUint32(at);
      visit.put(key, bytes.subarray(at + 4, at + 4 + valueLength));
      at += 4 + valueLength;
    } else if (op === REMOVE) {
      visit.remove(key);
    } else {
      throw new Error(`packed rows: unknown op ${op} at byte ${at}`);
    }
    rows++;
  }
  return rows;
}
