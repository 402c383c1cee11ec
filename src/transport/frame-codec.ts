/**
 * @module Length-prefixed framing: each frame is [u32 big-endian payload length][payload]. `encodeFrames` joins
 * a batch into one Buffer (one socket write per flush); `FrameDecoder` reassembles frames from chunks split
 * anywhere, holding at most one frame (plus the chunk being read) in memory.
 */

import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";

export const FRAME_HEADER_BYTES = 4;

/** Frames this large are assembled chunk by chunk as they arrive (see FrameDecoder). */
const ASSEMBLE_BYTES_MIN = 256 * 1024;

/** The largest payload the u32 length prefix can describe. */
export const FRAME_PAYLOAD_BYTES_LIMIT = 0xffff_ffff;

/** Concatenates `payloads` into one buffer of frames. Copies once; the payloads may be reused afterwards. */
export function encodeFrames(payloads: readonly Uint8Array[]): Buffer {
  let totalBytes = 0;
  for (const payload of payloads) totalBytes += FRAME_HEADER_BYTES + payload.length;
  const out = Buffer.allocUnsafe(totalBytes);
  let offset = 0;
  for (const payload of payloads) {
    assert(payload.length > 0, "A frame payload must not be empty");
    assert(payload.length <= FRAME_PAYLOAD_BYTES_LIMIT, "A frame payload must fit the u32 length prefix");
    out.writeUInt32BE(payload.length, offset);
    out.set(payload, offset + FRAME_HEADER_BYTES);
    offset += FRAME_HEADER_BYTES + payload.length;
  }
  assert(offset === totalBytes, "encodeFrames wrote a different size than it allocated");
  return out;
}

/**
 * Streaming decoder for one connection. `push` returns the payloads completed by a chunk, in order; the returned
 * buffers may be views of the pushed chunks, so decode them before the chunks are reused.
 *
 * A frame of ASSEMBLE_BYTES_MIN or more that has not fully arrived gets its own buffer once half of it is here,
 * and each later chunk is copied into it as it comes: the copy (and the page faults of a fresh multi-megabyte buffer, tens of milliseconds
 * here) is spread over the socket reads instead of falling on the event loop in one piece when the last chunk
 * lands. Such a payload is never a view of a chunk, so what is decoded from it may keep views of it.
 *
 * A length of zero or above `frameBytesMax` throws ShoalError (TOO_LARGE or BAD_REQUEST) and poisons the decoder:
 * the stream can no longer be resynchronised, so the caller must close the connection.
 */
export class FrameDecoder {
  readonly frameBytesMax: number;
  // Invariant: bufferedBytes === sum of chunks[head..].length - consumedInFirst
  #chunks: Buffer[] = [];
  #head = 0;
  #consumedInFirst = 0;
  #bufferedBytes = 0;
  /** The payload length of the frame being read, or -1 while its header is still incomplete. */
  #payloadBytes = -1;
  /** The buffer a big frame is being copied into, and how much of it is filled. */
  #assembly: Buffer | undefined;
  #assembled = 0;
  #failed = false;

  constructor(frameBytesMax: number) {
    assert(Number.isSafeInteger(frameBytesMax) && frameBytesMax > 0, "frameBytesMax must be a positive integer");
    assert(frameBytesMax <= FRAME_PAYLOAD_BYTES_LIMIT, "frameBytesMax must fit the u32 length prefix");
    this.frameBytesMax = frameBytesMax;
  }

  /** Bytes held but not yet returned: at most frameBytesMax + header + one chunk. */
  get bufferedBytes(): number {
    return this.#bufferedBytes + (this.#assembly === undefined ? 0 : this.#assembled);
  }

  push(chunk: Buffer): Buffer[] {
    assert(!this.#failed, "FrameDecoder used after a framing error");
    const payloads: Buffer[] = [];
    if (chunk.length === 0) return payloads;
    this.#chunks.push(chunk);
    this.#bufferedBytes += chunk.length;
    for (;;) {
      const assembly = this.#assembly;
      if (assembly !== undefined) {
        // The bytes held when the assembly began (half the frame) are copied a little per chunk, not all at once:
        // at most twice the chunk that arrived, so the backlog is gone as the frame's second half arrives, and the
        // event loop never copies megabytes (page faults included) in one turn (issue 10). The frame's last chunk
        // takes whatever remains.
        const remaining = assembly.length - this.#assembled;
        const available = Math.min(this.#bufferedBytes, remaining);
        const count = available === remaining ? available : Math.min(available, 2 * chunk.length);
        this.#copyOut(assembly, this.#assembled, count);
        this.#assembled += count;
        if (this.#assembled < assembly.length) break;
        payloads.push(assembly);
        this.#assembly = undefined;
        this.#payloadBytes = -1;
        continue;
      }
      if (this.#payloadBytes < 0) {
        if (this.#bufferedBytes < FRAME_HEADER_BYTES) break;
        this.#payloadBytes = this.#checkLength(this.#take(FRAME_HEADER_BYTES).readUInt32BE(0));
      }
      if (this.#bufferedBytes < this.#payloadBytes) {
        // Only once half the frame is here, so what is held stays within twice what was received.
        if (this.#payloadBytes < ASSEMBLE_BYTES_MIN || this.#bufferedBytes * 2 < this.#payloadBytes) break;
        this.#assembly = Buffer.allocUnsafe(this.#payloadBytes);
        this.#assembled = 0;
        continue;
      }
      payloads.push(this.#take(this.#payloadBytes));
      this.#payloadBytes = -1;
    }
    return payloads;
  }

  #checkLength(length: number): number {
    if (length === 0) {
      this.#failed = true;
      throw new ShoalError("BAD_REQUEST", "Cannot decode frame: length is zero");
    }
    if (length > this.frameBytesMax) {
      this.#failed = true;
      throw new ShoalError("TOO_LARGE", `Cannot decode frame: length ${length} exceeds ${this.frameBytesMax}`);
    }
    return length;
  }

  /** Removes and returns the next `count` buffered bytes (a view when they lie in one chunk, else a copy). */
  #take(count: number): Buffer {
    assert(count <= this.#bufferedBytes, "take beyond buffered bytes");
    const first = this.#chunks[this.#head]!;
    const availableInFirst = first.length - this.#consumedInFirst;
    if (count <= availableInFirst) {
      this.#bufferedBytes -= count;
      const view = first.subarray(this.#consumedInFirst, this.#consumedInFirst + count);
      this.#consumedInFirst += count;
      if (this.#consumedInFirst === first.length) this.#dropFirst();
      return view;
    }
    const out = Buffer.allocUnsafe(count);
    this.#copyOut(out, 0, count);
    return out;
  }

  /** Moves the next `count` buffered bytes into `out` at `at`. */
  #copyOut(out: Buffer, at: number, count: number): void {
    assert(count <= this.#bufferedBytes, "copy beyond buffered bytes");
    this.#bufferedBytes -= count;
    let written = 0;
    while (written < count) {
      const chunk = this.#chunks[this.#head]!;
      const n = Math.min(count - written, chunk.length - this.#consumedInFirst);
      chunk.copy(out, at + written, this.#consumedInFirst, this.#consumedInFirst + n);
      written += n;
      this.#consumedInFirst += n;
      if (this.#consumedInFirst === chunk.length) this.#dropFirst();
    }
  }

  #dropFirst(): void {
    this.#chunks[this.#head] = EMPTY;
    this.#head++;
    this.#consumedInFirst = 0;
    // Compact now and then instead of shift()ing, which would copy the array on every chunk.
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head >= 64 && this.#head * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}

const EMPTY = Buffer.alloc(0);
