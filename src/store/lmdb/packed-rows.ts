/**
 * @module A batch's LMDB rows packed into one transferable buffer, for the writer thread (env-writer.ts): the
 * event loop only collects and copies bytes — a slice at a time — and the thread makes the LMDB calls. Layout,
 * row after row: an op byte (1 put, 0 remove), the key's length (u16) and bytes, and for a put the value's length
 * (u32) and bytes. Keys are LMDB keys (at most 1,978 bytes, well within u16).
 */
import type { Steps } from "../../lib/steps.js";

const PUT = 1;
const REMOVE = 0;
/** Rows copied between pauses of packSteps. */
const ROWS_PER_STEP = 256;

/** Collects rows (the store's RowWriter shape) and packs them. */
export class PackedRowsBuilder {
  readonly #keys: Uint8Array[] = [];
  readonly #values: (Uint8Array | undefined)[] = [];
  #bytes = 0;

  put(key: Uint8Array, value: Uint8Array): void {
    this.#keys.push(key);
    this.#values.push(value);
    this.#bytes += 1 + 2 + key.byteLength + 4 + value.byteLength;
  }

  remove(key: Uint8Array): void {
    this.#keys.push(key);
    this.#values.push(undefined);
    this.#bytes += 1 + 2 + key.byteLength;
  }

  get rowCount(): number {
    return this.#keys.length;
  }

  /** The rows in one buffer, copied ROWS_PER_STEP rows per step. */
  *packSteps(): Steps<ArrayBuffer> {
    const buffer = new ArrayBuffer(this.#bytes);
    const bytes = new Uint8Array(buffer);
    const view = new DataView(buffer);
    let at = 0;
    for (let i = 0; i < this.#keys.length; i++) {
      const key = this.#keys[i] as Uint8Array;
      const value = this.#values[i];
      bytes[at] = value === undefined ? REMOVE : PUT;
      view.setUint16(at + 1, key.byteLength);
      bytes.set(key, at + 3);
      at += 3 + key.byteLength;
      if (value !== undefined) {
        view.setUint32(at, value.byteLength);
        bytes.set(value, at + 4);
        at += 4 + value.byteLength;
      }
      if ((i + 1) % ROWS_PER_STEP === 0) yield;
    }
    if (at !== buffer.byteLength) throw new Error("packed rows: the size counted and the bytes written differ");
    return buffer;
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
