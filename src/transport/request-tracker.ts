/**
 * @module Outgoing requests awaiting their response. Every request ends exactly once: with the response, with
 * a timeout, or when its peer goes down — never a hang.
 *
 * The error code tells the caller whether the request may have run on the peer:
 * - never written to a socket (peer unknown, unreachable, queue full, dropped or abandoned before sending):
 *   UNAVAILABLE, which is safe to retry;
 * - written but unanswered: the outcome is unknown — TIMEOUT when no answer came in time, UNKNOWN_OUTCOME when
 *   the answer can no longer come (the connection dropped, or the caller abandoned the request).
 */

import { assert } from "../lib/assert.js";
import { type ErrorCode, ShoalError } from "../lib/errors.js";
import type { NodeId } from "../raft/types.js";
import type { ResponseEnvelope } from "./envelope.js";

interface PendingRequest {
  readonly to: NodeId;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: ShoalError) => void;
  readonly timer: NodeJS.Timeout;
  written: boolean;
  readonly onTimeout: (id: number) => void;
}

export class RequestTracker {
  readonly #pending = new Map<number, PendingRequest>();
  #nextId = 1;

  get size(): number {
    return this.#pending.size;
  }

  /** A fresh request id (ids wrap long before a pending one could be reused). */
  allocateId(): number {
    const id = this.#nextId;
    this.#nextId = this.#nextId >= Number.MAX_SAFE_INTEGER ? 1 : this.#nextId + 1;
    return id;
  }

  /** Registers request `id` and returns the promise its caller awaits. `onTimeout` runs after the promise
   * rejected (by its timer or by `abandon`), so the transport can withdraw the request from the peer's queue. */
  begin(id: number, to: NodeId, timeoutMs: number, onTimeout: (id: number) => void): Promise<unknown> {
    assert(Number.isFinite(timeoutMs), "timeoutMs must be finite");
    assert(timeoutMs > 0, "timeoutMs must be positive");
    assert(!this.#pending.has(id), "request id reused while pending");
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        const request = this.#pending.get(id);
        if (request === undefined) return;
        this.#fail(id, request, `Request to node ${to} got no response within ${timeoutMs} ms`, "TIMEOUT");
        onTimeout(id);
      }, timeoutMs);
      this.#pending.set(id, { to, resolve, reject, timer, written: false, onTimeout });
    });
  }

  markWritten(id: number): void {
    const request = this.#pending.get(id);
    if (request !== undefined) request.written = true;
  }

  /** Settles the request a response answers. A response from the wrong node, or for a request that already
   * ended (timed out), is ignored. */
  settle(from: NodeId, response: ResponseEnvelope): void {
    const request = this.#pending.get(response.id);
    if (request === undefined || request.to !== from) return;
    this.#pending.delete(response.id);
    clearTimeout(request.timer);
    if (response.ok) request.resolve(response.p);
    else request.reject(new ShoalError(response.code, response.msg, { from }));
  }

  /** Fails one request that never left this node. */
  failUnsent(id: number, message: string): void {
    const request = this.#pending.get(id);
    if (request === undefined) return;
    assert(!request.written, "failUnsent on a request that was written");
    this.#fail(id, request, message);
  }

  /** Ends a request its caller no longer waits for (e.g. the node it went to lost leadership): withdrawn from
   * the queue if it was not written yet (UNAVAILABLE), otherwise UNKNOWN_OUTCOME. */
  abandon(id: number, message: string): void {
    const request = this.#pending.get(id);
    if (request === undefined) return;
    this.#fail(id, request, message);
    request.onTimeout(id);
  }

  /** Fails every request to `to` (its connection is gone, or it was removed). */
  failPeer(to: NodeId, message: string): void {
    for (const [id, request] of this.#pending) {
      if (request.to === to) this.#fail(id, request, message);
    }
  }

  failAll(message: string): void {
    for (const [id, request] of this.#pending) this.#fail(id, request, message);
  }

  #fail(id: number, request: PendingRequest, message: string, writtenCode: ErrorCode = "UNKNOWN_OUTCOME"): void {
    this.#pending.delete(id);
    clearTimeout(request.timer);
    const code = request.written ? writtenCode : "UNAVAILABLE";
    const suffix = request.written ? " (the outcome is unknown)" : " (it was not sent)";
    request.reject(new ShoalError(code, message + suffix, { to: request.to }));
  }
}
