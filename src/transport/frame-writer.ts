/**
 * @module Batched, backpressure-aware writing of queued frames to one socket.
 *
 * Frames queued during one turn of the event loop are written together on `setImmediate`: one Buffer, one
 * `socket.write`, so a Raft host that sends to many groups in one tick costs one syscall per peer. When
 * `write()` returns false the writer stops until 'drain' and frames keep accumulating in the bounded
 * `FrameQueue` (which refuses, rather than grows, when full). At most `flushBytesMax` is handed to the socket
 * per flush, so newly queued ordinary frames get ahead of a backlog of snapshot chunks.
 *
 * The queue outlives sockets: an outbound link detaches on disconnect and attaches the next connection, and what
 * was queued meanwhile is written then.
 */

import type { Socket } from "node:net";
import { assert } from "../lib/assert.js";
import { type FramePayload, payloadParts } from "./envelope.js";
import { encodeFrames, FRAME_HEADER_BYTES, FRAME_PAYLOAD_BYTES_LIMIT } from "./frame-codec.js";
import type { FrameQueue, Lane, OutboundFrame } from "./frame-queue.js";

/** A batch holding a payload this large (big entries, a snapshot chunk) is written frame by frame instead of copied
 * into one buffer: one fresh 16 MiB copy costs tens of milliseconds here (page faults), on the event loop. */
const LARGE_PAYLOAD_BYTES = 256 * 1024;

/** Writes each payload with its length prefix beside it, corked into one writev; false when the socket is full.
 * The payloads (and their parts) are not copied, so they must not change afterwards: envelopes are freshly encoded
 * per frame, and an attachment is an entry's or a command's bytes, which nothing mutates once proposed. */
function writeEach(socket: Socket, payloads: readonly FramePayload[]): boolean {
  socket.cork();
  let accepted = true;
  for (const payload of payloads) {
    assert(payload.length > 0 && payload.length <= FRAME_PAYLOAD_BYTES_LIMIT, "A frame payload fits its prefix");
    const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    head.writeUInt32BE(payload.length);
    accepted = socket.write(head) && accepted;
    for (const part of payloadParts(payload)) accepted = socket.write(part) && accepted;
  }
  socket.uncork();
  return accepted;
}

/** Told, synchronously, which frames one flush handed to the socket and how many bytes that was. */
export type WrittenCallback = (frames: readonly OutboundFrame[], bytes: number) => void;

export class FrameWriter {
  readonly queue: FrameQueue;
  readonly #flushBytesMax: number;
  readonly #onWritten: WrittenCallback;
  #socket: Socket | undefined = undefined;
  #awaitingDrain = false;
  #flushScheduled = false;

  constructor(queue: FrameQueue, flushBytesMax: number, onWritten: WrittenCallback) {
    assert(flushBytesMax > 0, "flushBytesMax must be positive");
    this.queue = queue;
    this.#flushBytesMax = flushBytesMax;
    this.#onWritten = onWritten;
  }

  get attached(): boolean {
    return this.#socket !== undefined;
  }

  /** Starts writing to `socket`, first `preamble` (the hello frame) if given, then whatever is queued. */
  attach(socket: Socket, preamble?: Buffer): void {
    assert(this.#socket === undefined, "FrameWriter attached twice");
    this.#socket = socket;
    this.#awaitingDrain = false;
    if (preamble !== undefined && !socket.write(preamble)) this.#awaitDrain(socket);
    this.#scheduleFlush();
  }

  /** Stops writing to the current socket (which the caller closes); queued frames stay queued. */
  detach(): void {
    this.#socket?.off("drain", this.#onDrain);
    this.#socket = undefined;
    this.#awaitingDrain = false;
  }

  /** Queues a frame for the next flush; false when its lane is full (the caller drops and counts it). */
  enqueue(frame: OutboundFrame, lane: Lane): boolean {
    if (!this.queue.offer(frame, lane)) return false;
    this.#scheduleFlush();
    return true;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#socket === undefined || this.#awaitingDrain) return;
    if (this.queue.count === 0) return;
    this.#flushScheduled = true;
    setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const socket = this.#socket;
    if (socket === undefined || this.#awaitingDrain || socket.destroyed) return;
    const frames = this.queue.takeBatch(this.#flushBytesMax);
    if (frames.length === 0) return;
    const payloads = frames.map((frame) => frame.payload);
    let bytes = 0;
    let large = false;
    for (const payload of payloads) {
      bytes += FRAME_HEADER_BYTES + payload.length;
      large ||= payload.length >= LARGE_PAYLOAD_BYTES || !(payload instanceof Uint8Array);
    }
    const accepted = large ? writeEach(socket, payloads) : socket.write(encodeFrames(payloads as Buffer[]));
    this.#onWritten(frames, bytes);
    if (accepted) this.#scheduleFlush();
    else this.#awaitDrain(socket);
  };

  #awaitDrain(socket: Socket): void {
    this.#awaitingDrain = true;
    socket.once("drain", this.#onDrain);
  }

  readonly #onDrain = (): void => {
    this.#awaitingDrain = false;
    this.#scheduleFlush();
  };
}
