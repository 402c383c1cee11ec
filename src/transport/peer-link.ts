/**
 * @module The outbound side of the connection to one peer: dialling, the hello frame, reconnecting with capped
 * exponential backoff and jitter, and the peer's bounded outgoing queue (which survives reconnects, so Raft
 * messages sent while the peer is briefly away are delivered when it is back, and dropped once the bound is hit).
 *
 * Only responses to our requests arrive on this connection; the peer's own messages come on the connection it
 * dials to us (see inbound-connection.ts). A node keeps two links per peer, one per channel (envelope.ts,
 * PeerChannel); the data link counts its traffic but leaves connection events and outage logs to the control
 * link, which reaches the same process.
 */

import { connect, type Socket } from "node:net";
import type { Logger } from "../io/logger.js";
import { assert } from "../lib/assert.js";
import type { NodeId } from "../raft/types.js";
import { ANY_MEMBER_ID, formatPeerAddress, type PeerAddress } from "./address.js";
import { reconnectDelayMs } from "./backoff.js";
import { decodeEnvelope, encodeEnvelope, helloEnvelope, type PeerChannel, type ResponseEnvelope } from "./envelope.js";
import { encodeFrames, FrameDecoder } from "./frame-codec.js";
import { FrameQueue, type Lane, type OutboundFrame } from "./frame-queue.js";
import { FrameWriter } from "./frame-writer.js";
import type { TransportBounds } from "./transport-config.js";
import type { PeerCounters } from "./transport-stats.js";

export interface PeerLinkEvents {
  onResponse(peerId: NodeId, response: ResponseEnvelope): void;
  /** Frames were handed to the socket: requests among them may now be executed by the peer. */
  onWritten(peerId: NodeId, frames: readonly OutboundFrame[]): void;
  /** A dial failed or the connection dropped; queued requests were already withdrawn from the queue. */
  onDown(peerId: NodeId): void;
  /** A dial was refused (ECONNREFUSED): nothing listens at the peer's address — its process is gone. A paused or
   * partitioned peer never causes this, only a dead (or not yet started) one. */
  onRefused(peerId: NodeId): void;
  onProtocolError(): void;
}

export interface PeerLinkOptions {
  readonly selfId: NodeId;
  readonly peerId: NodeId;
  readonly address: PeerAddress;
  readonly bounds: TransportBounds;
  readonly counters: PeerCounters;
  readonly events: PeerLinkEvents;
  readonly logger: Logger;
  /** A draw in [0, 1) for backoff jitter. */
  readonly random: () => number;
  /** Which of the peer's two connections this is; "control" when not given. */
  readonly channel?: PeerChannel;
}

/** idle: not started. connecting: a dial is in flight. backoff: waiting to redial. closed: removed or stopped. */
export type LinkState = "idle" | "connecting" | "connected" | "backoff" | "closed";

export class PeerLink {
  readonly peerId: NodeId;
  readonly channel: PeerChannel;
  readonly #options: PeerLinkOptions;
  readonly #writer: FrameWriter;
  #address: PeerAddress;
  #state: LinkState = "idle";
  // Invariant: #socket is set exactly when #state is "connecting" or "connected".
  #socket: Socket | undefined = undefined;
  #retryTimer: NodeJS.Timeout | undefined = undefined;
  #attempt = 0;
  #connectedAtMs = 0;
  #everConnected = false;
  /** Failures are logged once per outage, not once per retry. */
  #outageLogged = false;

  constructor(options: PeerLinkOptions) {
    this.peerId = options.peerId;
    this.channel = options.channel ?? "control";
    this.#options = options;
    this.#address = options.address;
    const { bounds } = options;
    const queue = new FrameQueue(
      { countMax: bounds.queueCountMax, bytesMax: bounds.queueBytesMax },
      { countMax: bounds.bulkQueueCountMax, bytesMax: bounds.bulkQueueBytesMax },
    );
    this.#writer = new FrameWriter(queue, bounds.flushBytesMax, (frames, bytes) => {
      options.counters.bytesSent += bytes;
      for (const frame of frames) if (frame.isMessage) options.counters.messagesSent++;
      options.events.onWritten(this.peerId, frames);
    });
  }

  get state(): LinkState {
    return this.#state;
  }

  get address(): PeerAddress {
    return this.#address;
  }

  get queuedCount(): number {
    return this.#writer.queue.count;
  }

  get queuedBytes(): number {
    return this.#writer.queue.bytes;
  }

  /** False while the peer is known to be unreachable (backing off after a failure), so requests fail fast. */
  get reachable(): boolean {
    return this.#state === "connecting" || this.#state === "connected";
  }

  start(): void {
    assert(this.#state === "idle", "PeerLink started twice");
    this.#dial();
  }

  /** Queues a frame; false when the lane is full or the link is closed (the caller counts the drop). */
  enqueue(frame: OutboundFrame, lane: Lane): boolean {
    if (this.#state === "closed") return false;
    return this.#writer.enqueue(frame, lane);
  }

  /** Removes a request that was abandoned (timed out) before it was written. */
  withdrawRequest(requestId: number): void {
    this.#writer.queue.removeWhere((frame) => frame.requestId === requestId);
  }

  /** Points the link at a new address: the current connection (if any) is dropped and a dial starts now. */
  setAddress(address: PeerAddress): void {
    if (address.host === this.#address.host && address.port === this.#address.port) return;
    this.#address = address;
    if (this.#state === "idle" || this.#state === "closed") return;
    this.#abandonSocket();
    this.#withdrawRequests();
    this.#options.events.onDown(this.peerId);
    clearTimeout(this.#retryTimer);
    this.#attempt = 0;
    this.#dial();
  }

  /** Closes for good; returns how many queued frames were discarded. */
  close(): number {
    this.#state = "closed";
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#abandonSocket();
    const discarded = this.#writer.queue.clear();
    this.#options.events.onDown(this.peerId);
    return discarded;
  }

  #dial(): void {
    this.#retryTimer = undefined;
    this.#state = "connecting";
    const { host, port } = this.#address;
    const socket = connect({ host, port });
    this.#socket = socket;
    const decoder = new FrameDecoder(this.#options.bounds.frameBytesMax);
    const timeoutMs = this.#options.bounds.connectTimeoutMs;
    const connectTimer = setTimeout(
      () => socket.destroy(new Error(`connect timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    let lastError: Error | undefined;
    socket.once("connect", () => {
      clearTimeout(connectTimer);
      this.#onConnected(socket);
    });
    socket.on("data", (chunk: Buffer) => this.#onData(socket, decoder, chunk));
    socket.on("error", (error) => {
      lastError = error;
    });
    socket.once("close", () => {
      clearTimeout(connectTimer);
      this.#onClosed(socket, lastError);
    });
  }

  #onConnected(socket: Socket): void {
    if (socket !== this.#socket) return;
    const options = this.#options;
    this.#state = "connected";
    this.#connectedAtMs = performance.now();
    socket.setNoDelay(true); // we batch per flush ourselves; Nagle would only add latency to heartbeats
    socket.setKeepAlive(true, options.bounds.keepAliveDelayMs);
    const control = this.channel === "control";
    if (this.#everConnected && control) options.counters.reconnects++;
    this.#everConnected = true;
    this.#outageLogged = false;
    if (control) {
      options.logger.info(
        { peer: peerName(this.peerId), address: formatPeerAddress(this.#address) },
        "Connected to peer",
      );
    }
    const hello = encodeFrames([encodeEnvelope(helloEnvelope(options.selfId, this.peerId, this.channel))]);
    options.counters.bytesSent += hello.length;
    this.#writer.attach(socket, hello);
  }

  #onData(socket: Socket, decoder: FrameDecoder, chunk: Buffer): void {
    if (socket !== this.#socket || socket.destroyed) return;
    this.#options.counters.bytesReceived += chunk.length;
    try {
      for (const payload of decoder.push(chunk)) {
        const envelope = decodeEnvelope(payload);
        if (envelope.k !== "res") throw new Error(`unexpected ${envelope.k} frame on an outbound connection`);
        this.#options.events.onResponse(this.peerId, envelope);
      }
    } catch (error) {
      this.#options.logger.error(
        {
          peer: this.peerId,
          error: error instanceof Error ? error.message : String(error),
        },
        "Closing connection to peer after a protocol error",
      );
      this.#options.events.onProtocolError();
      socket.destroy();
    }
  }

  #onClosed(socket: Socket, lastError: Error | undefined): void {
    if (socket !== this.#socket) return; // replaced by setAddress, or closed on purpose
    const wasConnected = this.#state === "connected";
    this.#socket = undefined;
    this.#writer.detach();
    const control = this.channel === "control";
    if (control) {
      this.#options.counters.connectFailures++;
      this.#logOutage(wasConnected, lastError);
    }
    this.#withdrawRequests();
    this.#options.events.onDown(this.peerId);
    if (control && (lastError as NodeJS.ErrnoException | undefined)?.code === "ECONNREFUSED") {
      this.#options.events.onRefused(this.peerId);
    }
    const { bounds } = this.#options;
    // A connection that stayed up for a while proves the peer healthy: start the backoff over. One that
    // drops at once (the peer refuses our hello) keeps backing off, so it cannot become a tight loop.
    if (wasConnected && performance.now() - this.#connectedAtMs >= bounds.reconnectDelayMaxMs) this.#attempt = 0;
    const delayMs = reconnectDelayMs(this.#attempt, bounds, this.#options.random());
    this.#attempt = Math.min(this.#attempt + 1, 64);
    this.#state = "backoff";
    this.#retryTimer = setTimeout(() => this.#dial(), delayMs);
  }

  #logOutage(wasConnected: boolean, lastError: Error | undefined): void {
    const detail = {
      peer: peerName(this.peerId),
      address: formatPeerAddress(this.#address),
      error: lastError?.message ?? "closed by peer",
    };
    if (wasConnected) this.#options.logger.warn(detail, "Lost connection to peer; reconnecting");
    else if (!this.#outageLogged) this.#options.logger.warn(detail, "Cannot connect to peer; retrying with backoff");
    this.#outageLogged = true;
  }

  #abandonSocket(): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    this.#socket = undefined;
    this.#writer.detach();
    socket.destroy();
  }

  /** Requests must not linger in the queue once their callers have been told the peer is unavailable. */
  #withdrawRequests(): void {
    this.#writer.queue.removeWhere((frame) => frame.requestId !== 0);
  }
}

/** A peer as logs name it: its id, or "any member" for the link a joining node opens before it knows one. */
function peerName(peerId: NodeId): NodeId | string {
  return peerId === ANY_MEMBER_ID ? "any member" : peerId;
}
