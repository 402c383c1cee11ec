import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ShoalError } from "../lib/errors.js";
import { encodeFrames, FRAME_HEADER_BYTES, FrameDecoder } from "./frame-codec.js";

/** Splits `bytes` at the given cut points (any order, duplicates allowed). */
function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

describe("frame codec", () => {
  it("round-trips any payloads through any chunking", () => {
    const payloads = fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(payloads, fc.array(fc.nat(), { maxLength: 40 }), (frames, cuts) => {
        const wire = encodeFrames(frames);
        const decoder = new FrameDecoder(1024);
        const decoded: Buffer[] = [];
        for (const chunk of split(wire, cuts)) decoded.push(...decoder.push(chunk));
        assert.deepEqual(
          decoded.map((payload) => [...payload]),
          frames.map((payload) => [...payload]),
        );
        assert.equal(decoder.bufferedBytes, 0);
      }),
      { numRuns: 300 },
    );
  });

  it("decodes byte by byte", () => {
    const wire = encodeFrames([Buffer.from("hello"), Buffer.from("world!")]);
    const decoder = new FrameDecoder(100);
    const decoded: string[] = [];
    for (const byte of wire) decoded.push(...decoder.push(Buffer.from([byte])).map((payload) => payload.toString()));
    assert.deepEqual(decoded, ["hello", "world!"]);
  });

  it("rejects an oversized length as soon as the header arrives, without buffering the body", () => {
    const decoder = new FrameDecoder(1000);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32BE(1001);
    assert.throws(
      () => decoder.push(header),
      (error: unknown) => error instanceof ShoalError && error.code === "TOO_LARGE",
    );
    assert.throws(() => decoder.push(Buffer.from([1])), /after a framing error/);
  });

  it("rejects a zero length", () => {
    const decoder = new FrameDecoder(1000);
    assert.throws(
      () => decoder.push(Buffer.alloc(8)),
      (error: unknown) => error instanceof ShoalError && error.code === "BAD_REQUEST",
    );
  });

  it("accepts a frame of exactly frameBytesMax", () => {
    const decoder = new FrameDecoder(10);
    const payload = Buffer.alloc(10, 7);
    assert.deepEqual(decoder.push(encodeFrames([payload])), [payload]);
  });

  it("holds at most one frame plus one chunk while a large frame trickles in", () => {
    const decoder = new FrameDecoder(1 << 20);
    const wire = encodeFrames([Buffer.alloc(1 << 20, 1), Buffer.alloc(10, 2)]);
    let maxBufferedBytes = 0;
    const decoded: Buffer[] = [];
    for (let offset = 0; offset < wire.length; offset += 4096) {
      decoded.push(...decoder.push(wire.subarray(offset, offset + 4096)));
      maxBufferedBytes = Math.max(maxBufferedBytes, decoder.bufferedBytes);
    }
    assert.equal(decoded.length, 2);
    assert.ok(maxBufferedBytes <= (1 << 20) + FRAME_HEADER_BYTES + 4096);
  });

  it("assembles big frames (at and around the assembly threshold) chunk by chunk, byte-exact, in order", () => {
    const sizes = [256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 3 * 1024 * 1024 + 7];
    const frames = sizes.flatMap((size, i) => [
      Buffer.from(Array.from({ length: size }, (_, j) => (j * 31 + i) & 0xff)),
      Buffer.from([i + 1]),
    ]);
    const wire = encodeFrames(frames);
    for (const chunkBytes of [1000, 65536, 300_001]) {
      const decoder = new FrameDecoder(4 << 20);
      const decoded: Buffer[] = [];
      for (let offset = 0; offset < wire.length; offset += chunkBytes) {
        decoded.push(...decoder.push(wire.subarray(offset, offset + chunkBytes)));
        // Held at most: one frame (in the chunks, or copied into its own buffer) plus one chunk.
        assert.ok(decoder.bufferedBytes <= 3 * 1024 * 1024 + 7 + chunkBytes + 2 * FRAME_HEADER_BYTES);
      }
      assert.equal(decoded.length, frames.length);
      for (const [i, payload] of decoded.entries()) {
        assert.ok(payload.equals(frames[i] as Buffer), `frame ${i} of ${chunkBytes}-byte chunks`);
      }
    }
  });
});
