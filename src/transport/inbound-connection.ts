/**
 * @module A connection another node dialled to us. Its first frame must be a hello naming the sender (and us as
 * the intended receiver); after that it carries the sender's Raft messages and requests, and we write the
 * responses back on it. Anything malformed — a bad frame, an undecodable envelope, a message claiming another
 * sender — closes the connection with a logged error; the sender reconnects with backoff.
 */

import type { Socket } from "node:net";
import type { Logger } from "../io/logger.js";
import { ReadPacer } from "../io/node/read-pacer.js";
import { ShoalError } from "../lib/errors.js";
import { memberOfReplica } from "../lib/replica-id.js";
import { type Message, NO_NODE, type NodeId } from "../raft/types.js";
import { ANY_MEMBER_ID } from "./address.js";
import {
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  encodeEnvelopeParts,
  type FramePayload,
  helloChannel,
  type PeerChannel,
  PROTOCOL_VERSION,
  type ResponseEnvelope,
} from "./envelope.js";
import { FRAME_HEADER_BYTES, FrameDecoder } from "./frame-codec.js";
import { FrameQueue } from "./frame-queue.js";
import { FrameWriter } from "./frame-writer.js";
import type { TransportBounds } from "./transport-config.js";
import type { CountersLookup } from "./transport-stats.js";

/** Until the sender has identified itself it may not make us buffer more than this (a hello is ~20 bytes):
 * otherwise any process that can reach the port could pin frameBytesMax per connection. */
const PRE_HELLO_BUFFERED_BYTES_MAX = 4096;

export interface InboundEvents {
  onIdentified(connection: InboundConnection, from: NodeId): void;
  /** Runs synchronously in the socket's data event. Exceptions are not caught: they are programmer errors. */
  onMessage(message: Message): void;
  onRequest(from: NodeId, payload: unknown): Promise<unknown>;
  onClosed(connection: InboundConnection): void;
  onProtocolError(): void;
  /** A hello from node `from` named node `to`, not us: `from` dials a wrong address for `to`. */
  onMisdirected(from: NodeId, to: NodeId): void;
}

export interface InboundOptions {
  readonly selfId: NodeId;
  readonly bounds: TransportBounds;
  readonly events: InboundEvents;
  readonly logger: Logger;
  readonly countersFor: CountersLookup;
}

export class InboundConnection {
  readonly #socket: Socket;
  readonly #options: InboundOptions;
  readonly #decoder: FrameDecoder;
  readonly #writer: FrameWriter;
  readonly #helloTimer: NodeJS.Timeout;
  readonly #pacer: ReadPacer;
  /** The sender, once its hello arrived. */
  #peerId: NodeId | undefined = undefined;
  /** Which of the sender's two connections this is (envelope.ts, PeerChannel), once its hello arrived. */
  #channel: PeerChannel = "control";
  #requestsInFlight = 0;
  #closed = false;

  constructor(socket: Socket, options: InboundOptions) {
    const { bounds } = options;
    this.#socket = socket;
    this.#options = options;
    this.#decoder = new FrameDecoder(bounds.frameBytesMax);
    // Responses only: the bulk lane is never used, so it gets the smallest legal bounds.
    const queue = new FrameQueue(
      { countMax: bounds.queueCountMax, bytesMax: bounds.queueBytesMax },
      { countMax: 1, bytesMax: 1 },
    );
    this.#writer = new FrameWriter(queue, bounds.flushBytesMax, (_frames, bytes) => {
      if (this.#peerId !== undefined) options.countersFor(this.#peerId).bytesSent += bytes;
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, bounds.keepAliveDelayMs);
    this.#helloTimer = setTimeout(
      () => this.#protocolError(new Error(`no hello within ${bounds.helloTimeoutMs} ms`)),
      bounds.helloTimeoutMs,
    );
    this.#writer.attach(socket);
    this.#pacer = new ReadPacer(() => {
      if (!this.#closed) socket.resume();
    });
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", () => {}); // the 'close' that follows does the cleanup
    socket.once("close", () => this.#onClose());
  }

  get peerId(): NodeId | undefined {
    return this.#peerId;
  }

  get channel(): PeerChannel {
    return this.#channel;
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    if (this.#pacer.consumed(chunk.length)) this.#socket.pause();
    let payloads: Buffer[];
    try {
      payloads = this.#decoder.push(chunk);
    } catch (error) {
      this.#protocolError(error);
      return;
    }
    for (const payload of payloads) {
      let envelope: Envelope;
      try {
        envelope = decodeEnvelope(payload);
      } catch (error) {
        this.#protocolError(error);
        return;
      }
      this.#dispatch(envelope, FRAME_HEADER_BYTES + payload.length);
      if (this.#closed) return;
    }
    if (this.#peerId === undefined && this.#decoder.bufferedBytes > PRE_HELLO_BUFFERED_BYTES_MAX) {
      this.#protocolError(new Error(`${this.#decoder.bufferedBytes} bytes buffered before a hello`));
    }
  }

  #dispatch(envelope: Envelope, frameBytes: number): void {
    if (this.#peerId === undefined) {
      this.#onHello(envelope, frameBytes);
      return;
    }
    const counters = this.#options.countersFor(this.#peerId);
    counters.bytesReceived += frameBytes;
    switch (envelope.k) {
      case "raft":
        // Raft ids are replica ids (lib/replica-id.ts): each must be a replica of this connection's two ends.
        if (
          memberOfReplica(envelope.m.from) !== this.#peerId ||
          memberOfReplica(envelope.m.to) !== this.#options.selfId
        ) {
          this.#protocolError(new Error(`message from ${envelope.m.from} to ${envelope.m.to} on this connection`));
          return;
        }
        counters.messagesReceived++;
        this.#options.events.onMessage(envelope.m);
        return;
      case "req":
        counters.requestsReceived++;
        this.#startRequest(this.#peerId, envelope.id, envelope.p);
        return;
      case "hello":
      case "res":
        this.#protocolError(new Error(`unexpected ${envelope.k} frame on an inbound connection`));
        return;
    }
  }

  #onHello(envelope: Envelope, frameBytes: number): void {
    if (envelope.k !== "hello") {
      this.#protocolError(new Error(`expected a hello frame, got ${envelope.k}`));
      return;
    }
    if (envelope.v !== PROTOCOL_VERSION) {
      this.#protocolError(new Error(`unsupported protocol version ${envelope.v}`));
      return;
    }
    // A node joining the cluster knows a member's address, not its id: it names ANY_MEMBER_ID instead.
    const forUs = envelope.to === this.#options.selfId || envelope.to === ANY_MEMBER_ID;
    if (!forUs && envelope.from !== NO_NODE && envelope.from !== this.#options.selfId) {
      this.#options.events.onMisdirected(envelope.from, envelope.to);
    }
    if (!forUs || envelope.from === NO_NODE || envelope.from === this.#options.selfId) {
      this.#protocolError(
        new Error(`hello from ${envelope.from} for node ${envelope.to} (this is node ${this.#options.selfId})`),
      );
      return;
    }
    clearTimeout(this.#helloTimer);
    this.#peerId = envelope.from;
    this.#channel = helloChannel(envelope);
    this.#options.countersFor(envelope.from).bytesReceived += frameBytes;
    this.#options.events.onIdentified(this, envelope.from);
  }

  #startRequest(from: NodeId, id: number, payload: unknown): void {
    if (this.#requestsInFlight >= this.#options.bounds.inboundRequestCountMax) {
      this.#reply(from, { k: "res", id, ok: false, code: "UNAVAILABLE", msg: "Too many requests in flight" });
      return;
    }
    this.#requestsInFlight++;
    void this.#options.events.onRequest(from, payload).then(
      (value) => this.#finishRequest(from, { k: "res", id, ok: true, p: value }),
      (error: unknown) => this.#finishRequest(from, this.#errorResponse(id, error)),
    );
  }

  #finishRequest(from: NodeId, response: ResponseEnvelope): void {
    this.#requestsInFlight--;
    this.#reply(from, response);
  }

  #errorResponse(id: number, error: unknown): ResponseEnvelope {
    if (error instanceof ShoalError) return { k: "res", id, ok: false, code: error.code, msg: error.message };
    const message = error instanceof Error ? error.message : String(error);
    this.#options.logger.error({ peer: this.#peerId, error: message }, "Request handler failed");
    return { k: "res", id, ok: false, code: "INTERNAL", msg: `Request handler failed: ${message}` };
  }

  /** Queues a response. If the connection closed meanwhile the response is lost; the requester learns of it
   * from its own connection dropping. */
  #reply(from: NodeId, response: ResponseEnvelope): void {
    if (this.#closed) return;
    let payload: FramePayload;
    try {
      payload = encodeEnvelopeParts(response);
    } catch (error) {
      const msg = `Cannot encode the response: ${error instanceof Error ? error.message : String(error)}`;
      payload = encodeEnvelope({ k: "res", id: response.id, ok: false, code: "INTERNAL", msg });
    }
    if (payload.length > this.#options.bounds.frameBytesMax) {
      const msg = `Response of ${payload.length} bytes exceeds frameBytesMax`;
      payload = encodeEnvelope({ k: "res", id: response.id, ok: false, code: "TOO_LARGE", msg });
    }
    if (!this.#writer.enqueue({ payload, isMessage: false, requestId: 0 }, "ordinary")) {
      this.#options.countersFor(from).drops++;
      this.#options.logger.warn({ peer: from }, "Dropping a response: the connection's queue is full");
    }
  }

  #protocolError(error: unknown): void {
    if (this.#closed) return;
    this.#options.logger.error(
      {
        peer: this.#peerId,
        remote: `${this.#socket.remoteAddress}:${this.#socket.remotePort}`,
        error: error instanceof Error ? error.message : String(error),
      },
      "Closing inbound connection after a protocol error",
    );
    this.#options.events.onProtocolError();
    this.#closed = true;
    this.#socket.destroy();
  }

  #onClose(): void {
    this.#closed = true;
    clearTimeout(this.#helloTimer);
    this.#writer.detach();
    this.#writer.queue.clear();
    this.#options.events.onClosed(this);
  }
}
