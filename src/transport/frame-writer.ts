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
import { encodeFrames } from "./frame-codec.js";
import type { FrameQueue, Lane, OutboundFrame } from "./frame-queue.js";

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
    const buffer = encodeFrames(frames.map((frame) => frame.payload));
    const accepted = socket.write(buffer);
    this.#onWritten(frames, buffer.length);
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
