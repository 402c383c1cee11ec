/**
 * @module A queue of received chunks read front to back without copying. Chunks handed to `push` are
 * borrowed: the queue never writes into them, so a `take` that falls inside one chunk returns a view of it.
 * The caller must not reuse a pushed chunk's memory afterwards (Node's socket chunks are never reused).
 */

const SMALL_CHUNK_BYTES_MAX = 512;
const TAIL_CAPACITY_BYTES = 4096;

export class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** Offset of the first unread byte in chunks[0]. Invariant: chunks[0] is non-empty past headOffset. */
  private headOffset = 0;
  /** The queue-owned buffer the last chunk views, while small chunks are being coalesced into it. */
  private tail: Buffer | undefined;
  private tailEntryStart = 0;
  private tailUsedBytes = 0;
  /** Unread bytes across all chunks. */
  private lengthBytesValue = 0;

  get lengthBytes(): number {
    return this.lengthBytesValue;
  }

  /**
   * Small chunks are appended into a queue-owned tail buffer, so byte-at-a-time input leaves few chunks and
   * searches stay linear. Only bytes past those already written are ever written, so views handed out earlier
   * never change.
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.lengthBytesValue += chunk.length;
    if (chunk.length > SMALL_CHUNK_BYTES_MAX) {
      this.chunks.push(chunk);
      this.tail = undefined;
      return;
    }
    const last = this.chunks.length - 1;
    if (this.tail !== undefined && last >= 0 && this.tailUsedBytes + chunk.length <= this.tail.length) {
      this.tail.set(chunk, this.tailUsedBytes);
      this.tailUsedBytes += chunk.length;
      this.chunks[last] = this.tail.subarray(this.tailEntryStart, this.tailUsedBytes);
      return;
    }
    this.tail = Buffer.allocUnsafe(TAIL_CAPACITY_BYTES);
    this.tail.set(chunk, 0);
    this.tailEntryStart = 0;
    this.tailUsedBytes = chunk.length;
    this.chunks.push(this.tail.subarray(0, this.tailUsedBytes));
  }

  clear(): void {
    this.chunks = [];
    this.tail = undefined;
    this.headOffset = 0;
    this.lengthBytesValue = 0;
  }

  /** The byte at `index` (0 = first unread byte); the caller ensures index < lengthBytes. */
  byteAt(index: number): number {
    let i = index + this.headOffset;
    for (const chunk of this.chunks) {
      if (i < chunk.length) return chunk[i] as number;
      i -= chunk.length;
    }
    return -1;
  }

  /** Index of the first `byte` at or after `from`, or -1. Work is proportional to the bytes searched. */
  indexOf(byte: number, from: number): number {
    let base = -this.headOffset; // queue index of the current chunk's byte 0
    for (const chunk of this.chunks) {
      const end = base + chunk.length;
      if (from < end) {
        const found = chunk.indexOf(byte, Math.max(from - base, 0));
        if (found >= 0) return base + found;
      }
      base = end;
    }
    return -1;
  }

  /** Removes and returns the first `count` bytes: a view when they lie in one chunk, else a copy. */
  take(count: number): Uint8Array {
    const head = this.chunks[0];
    if (count === 0 || head === undefined) return new Uint8Array(0);
    if (this.headOffset + count <= head.length) {
      const view = head.subarray(this.headOffset, this.headOffset + count);
      this.skip(count);
      return view;
    }
    const out = Buffer.allocUnsafe(count);
    this.takeInto(out, 0, count);
    return out;
  }

  /** Removes the first `count` bytes (count <= lengthBytes), copying them into `target` at `offset`. */
  takeInto(target: Uint8Array, offset: number, count: number): void {
    let written = 0;
    while (written < count) {
      const chunk = this.chunks[0] as Uint8Array;
      const n = Math.min(chunk.length - this.headOffset, count - written);
      target.set(chunk.subarray(this.headOffset, this.headOffset + n), offset + written);
      written += n;
      this.skip(n);
    }
  }

  /** Drops the first `count` bytes (count <= lengthBytes). */
  skip(count: number): void {
    this.lengthBytesValue -= count;
    let left = count;
    while (left > 0) {
      const head = this.chunks[0] as Uint8Array;
      const available = head.length - this.headOffset;
      if (left < available) {
        this.headOffset += left;
        return;
      }
      left -= available;
      this.chunks.shift();
      this.headOffset = 0;
    }
    if (this.chunks.length > 0 && this.headOffset === (this.chunks[0] as Uint8Array).length) {
      this.chunks.shift();
      this.headOffset = 0;
    }
  }
}
