/**
 * @module PeerTransport: one per node process, carrying Raft messages for every group between nodes over TCP,
 * plus a request/response RPC (a follower forwarding a client request to the leader).
 *
 * Connections: this node dials two outbound connections to each peer, a control and a data channel (envelope.ts,
 * PeerChannel: appendEntries, snapshot chunks and big requests on data, everything else on control, so a
 * heartbeat never waits behind a 16 MiB entry); peers dial us likewise, and a hello frame names them and the
 * channel. Responses return on the connection the request came in on. Each outbound link has a bounded two-lane
 * queue (frame-queue.ts), flushed once per event-loop turn with one socket write (frame-writer.ts), and reconnects
 * with capped, jittered exponential backoff (peer-link.ts).
 *
 * Delivery is best effort, as Raft expects: messages to a peer that is down are queued up to the bound and then
 * dropped (counted in stats). Per peer and channel, messages arrive in the order sent, except that snapshot chunks
 * travel in a lane of their own and may be overtaken by later appends; across channels there is no order (a
 * heartbeat may overtake an earlier append, which Raft tolerates: its commit index is capped at what the
 * follower acknowledged).
 */

import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../io/logger.js";
import { stderrLogger } from "../io/node/logger.js";
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import { memberOfReplica } from "../lib/replica-id.js";
import type { Message, NodeId } from "../raft/types.js";
import { formatPeerAddress, type PeerAddress, parsePeerAddress } from "./address.js";
import { encodeEnvelopeParts, type FramePayload, type PeerChannel, type ResponseEnvelope } from "./envelope.js";
import type { OutboundFrame } from "./frame-queue.js";
import { InboundConnection, type InboundEvents } from "./inbound-connection.js";
import { PeerLink, type PeerLinkEvents } from "./peer-link.js";
import { RequestTracker } from "./request-tracker.js";
import { resolveTransportBounds, type TransportBounds } from "./transport-config.js";
import { newPeerCounters, type PeerCounters, type PeerStats, type TransportStats } from "./transport-stats.js";

export interface PeerTransportOptions extends Partial<TransportBounds> {
  readonly selfId: NodeId;
  readonly listenHost: string;
  /** 0 picks an ephemeral port; read it back from `listenAddress` after `start()`. */
  readonly listenPort: number;
  /** The other members' addresses, "host:port". An entry for `selfId` is ignored. */
  readonly peers: ReadonlyMap<NodeId, string>;
  readonly logger?: Logger;
  /** Node `from` dialled us under node `to`'s id: its address for `to` is wrong (the connection is refused). */
  readonly onMisdirectedHello?: (from: NodeId, to: NodeId) => void;
}

/** Receives every Raft message addressed to this node, synchronously, in arrival order per sender. */
export type MessageHandler = (message: Message) => void;
/** Told that a peer refused a connection: its process is not running (see PeerLinkEvents.onRefused). */
export type RefusedHandler = (peerId: NodeId) => void;
/** Answers a peer's request; a rejection with a ShoalError reaches the requester with the same code. */
export type RequestHandler = (from: NodeId, payload: unknown) => Promise<unknown>;

type TransportState = "new" | "starting" | "running" | "stopped";

/** A request this big (a forwarded big write) goes on the data channel: on control it would hold back heartbeats. */
const DATA_REQUEST_BYTES_MIN = 64 * 1024;

/** The two links to one peer (envelope.ts, PeerChannel). */
interface PeerLinks {
  readonly control: PeerLink;
  readonly data: PeerLink;
}

/** Drops are counted always but logged at most this often per peer: a dead peer would otherwise flood the log. */
const DROP_LOG_INTERVAL_MS = 10_000;

export class PeerTransport {
  readonly selfId: NodeId;
  readonly bounds: TransportBounds;
  readonly #logger: Logger;
  readonly #listenHost: string;
  readonly #listenPort: number;
  #state: TransportState = "new";
  #server: Server | undefined = undefined;
  readonly #links = new Map<NodeId, PeerLinks>();
  /** Invariant: holds an entry for every configured peer and every node with an identified inbound connection. */
  readonly #counters = new Map<NodeId, PeerCounters>();
  readonly #inbound = new Set<InboundConnection>();
  /** The identified inbound connection per peer and channel (inboundKey). */
  readonly #inboundByPeer = new Map<string, InboundConnection>();
  readonly #tracker = new RequestTracker();
  readonly #dropLoggedAtMs = new Map<NodeId, number>();
  #messageHandler: MessageHandler | undefined = undefined;
  #requestHandler: RequestHandler | undefined = undefined;
  readonly #onMisdirectedHello: ((from: NodeId, to: NodeId) => void) | undefined;
  #refusedHandler: RefusedHandler | undefined = undefined;
  #unroutableDrops = 0;
  #unhandledDrops = 0;
  #protocolErrors = 0;

  constructor(options: PeerTransportOptions) {
    if (!isNodeId(options.selfId)) throw new ShoalError("BAD_REQUEST", "selfId must be a positive integer");
    this.selfId = options.selfId;
    this.bounds = resolveTransportBounds(options);
    this.#logger = options.logger ?? stderrLogger("transport");
    this.#listenHost = options.listenHost;
    this.#listenPort = options.listenPort;
    this.#onMisdirectedHello = options.onMisdirectedHello;
    for (const [id, address] of options.peers) this.setPeer(id, address);
  }

  /** Listens, then starts dialling every peer. Rejects with ShoalError UNAVAILABLE if it cannot listen. */
  async start(): Promise<void> {
    assert(this.#state === "new", "PeerTransport.start called twice");
    this.#state = "starting";
    const server = createServer((socket) => this.#accept(socket));
    this.#server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(this.#listenPort, this.#listenHost, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      this.#state = "stopped";
      const reason = error instanceof Error ? error.message : String(error);
      throw new ShoalError("UNAVAILABLE", `Cannot listen on ${this.#listenHost}:${this.#listenPort}: ${reason}`);
    }
    if (this.#state !== "starting") return; // stop() ran while we were binding; it closes the server
    server.on("error", (error) => this.#logger.error({ error: error.message }, "Listener error"));
    this.#state = "running";
    for (const { control, data } of this.#links.values()) {
      control.start();
      data.start();
    }
  }

  /** Closes every connection and the listener, discards queued messages and fails pending requests. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    for (const [id, { control, data }] of this.#links) this.#countersFor(id).drops += control.close() + data.close();
    this.#tracker.failAll("The transport stopped");
    for (const connection of this.#inbound) connection.close();
    const server = this.#server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The address the listener is bound to (reveals the port when listenPort was 0). Only after start(). */
  get listenAddress(): PeerAddress {
    const address = this.#server?.address();
    assert(address !== undefined && address !== null && typeof address === "object", "listenAddress before start");
    return { host: address.address, port: address.port };
  }

  /** Adds a peer or changes its address (a changed address drops the current connection and redials now). */
  setPeer(id: NodeId, address: string): void {
    if (!isNodeId(id)) throw new ShoalError("BAD_REQUEST", `Peer id ${id} must be a positive integer`);
    const parsed = parsePeerAddress(address);
    if (id === this.selfId || this.#state === "stopped") return;
    const existing = this.#links.get(id);
    if (existing !== undefined) {
      existing.control.setAddress(parsed);
      existing.data.setAddress(parsed);
      return;
    }
    const link = (channel: PeerChannel): PeerLink =>
      new PeerLink({
        selfId: this.selfId,
        peerId: id,
        address: parsed,
        bounds: this.bounds,
        counters: this.#countersFor(id),
        events: this.#linkEvents,
        logger: this.#logger,
        random: Math.random, // jitter only; this is the I/O edge, nothing here needs to replay
        channel,
      });
    const links = { control: link("control"), data: link("data") };
    this.#links.set(id, links);
    if (this.#state === "running") {
      links.control.start();
      links.data.start();
    }
  }

  /** Forgets a peer: closes its connection, drops what is queued for it and fails its pending requests. */
  removePeer(id: NodeId): void {
    const links = this.#links.get(id);
    if (links === undefined) return;
    this.#links.delete(id);
    this.#dropLoggedAtMs.delete(id);
    this.#countersFor(id).drops += links.control.close() + links.data.close();
    if (!this.#hasInbound(id)) this.#counters.delete(id);
  }

  /** Queues each message for its `to` node; written on the next flush. Never blocks and never throws for an
   * unreachable peer: what cannot be queued is dropped and counted. The caller keeps ownership of the array. */
  send(messages: readonly Message[]): void {
    for (const message of messages) this.#sendOne(message);
  }

  onMessage(handler: MessageHandler): void {
    this.#messageHandler = handler;
  }

  onRequest(handler: RequestHandler): void {
    this.#requestHandler = handler;
  }

  /** Called each time a dial to a peer is refused: nothing listens at its address (its process is gone). */
  onPeerRefused(handler: RefusedHandler): void {
    this.#refusedHandler = handler;
  }

  /**
   * Sends `payload` (anything msgpack encodes) to node `to` and resolves with its handler's answer. Rejects with
   * ShoalError: UNAVAILABLE when the request certainly did not run there (peer unknown or unreachable, queue
   * full, or `signal` aborted before it was written: it is withdrawn), TIMEOUT when it was sent but no answer
   * came within `timeoutMs`, UNKNOWN_OUTCOME when it was sent and then the connection dropped or `signal`
   * aborted, TOO_LARGE / BAD_REQUEST when the payload cannot be sent, or the handler's own code.
   * Requests go on the control channel, or on data when big; `ordered` sends one on data whatever its size, so
   * the ordered requests to a peer arrive in the order they were made (a client's pipelined writes forwarded to
   * the leader: node/write-order.ts).
   */
  async request(
    to: NodeId,
    payload: unknown,
    timeoutMs: number,
    signal?: AbortSignal,
    ordered = false,
  ): Promise<unknown> {
    assert(Number.isFinite(timeoutMs) && timeoutMs > 0, "timeoutMs must be a positive number");
    if (signal?.aborted === true) {
      throw new ShoalError("UNAVAILABLE", `${abandonMessage(to, signal.reason)} (it was not sent)`, { to });
    }
    const links = this.#links.get(to);
    if (this.#state !== "running" || links === undefined) {
      throw new ShoalError("UNAVAILABLE", `No route to node ${to}`, { to });
    }
    if (this.#tracker.size >= this.bounds.pendingRequestCountMax) {
      throw new ShoalError("UNAVAILABLE", "Too many requests awaiting responses", { to });
    }
    const id = this.#tracker.allocateId();
    const encoded = this.#encodeRequest(id, payload);
    const link = ordered || encoded.length >= DATA_REQUEST_BYTES_MIN ? links.data : links.control;
    if (!link.reachable) throw new ShoalError("UNAVAILABLE", `Node ${to} is unreachable; reconnecting`, { to });
    const promise = this.#tracker.begin(id, to, timeoutMs, (requestId) => link.withdrawRequest(requestId));
    const counters = this.#countersFor(to);
    if (link.enqueue({ payload: encoded, isMessage: false, requestId: id }, "ordinary")) {
      counters.requestsSent++;
    } else {
      counters.drops++;
      this.#tracker.failUnsent(id, `The queue to node ${to} is full`);
    }
    if (signal !== undefined) {
      const abandon = () => this.#tracker.abandon(id, abandonMessage(to, signal.reason));
      signal.addEventListener("abort", abandon, { once: true });
      void promise.catch(() => {}).finally(() => signal.removeEventListener("abort", abandon));
    }
    return promise;
  }

  stats(): TransportStats {
    const peers: Record<string, PeerStats> = {};
    for (const [id, counters] of this.#counters) {
      const links = this.#links.get(id);
      peers[String(id)] = {
        ...counters,
        connected: links?.control.state === "connected" && links.data.state === "connected",
        queuedCount: (links?.control.queuedCount ?? 0) + (links?.data.queuedCount ?? 0),
        queuedBytes: (links?.control.queuedBytes ?? 0) + (links?.data.queuedBytes ?? 0),
      };
    }
    return {
      peers,
      unroutableDrops: this.#unroutableDrops,
      unhandledDrops: this.#unhandledDrops,
      protocolErrors: this.#protocolErrors,
      inboundConnections: this.#inbound.size,
    };
  }

  #encodeRequest(id: number, payload: unknown): FramePayload {
    let encoded: FramePayload;
    try {
      encoded = encodeEnvelopeParts({ k: "req", id, p: payload });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ShoalError("BAD_REQUEST", `Cannot encode the request payload: ${reason}`);
    }
    if (encoded.length > this.bounds.frameBytesMax) {
      throw new ShoalError("TOO_LARGE", `Request of ${encoded.length} bytes exceeds frameBytesMax`);
    }
    return encoded;
  }

  #sendOne(message: Message): void {
    assert(memberOfReplica(message.from) === this.selfId, "Message.from must be a replica of this node");
    // Raft ids are replica ids (lib/replica-id.ts): the link is the member's.
    const to = memberOfReplica(message.to);
    const links = this.#links.get(to);
    if (links === undefined || this.#state === "stopped") {
      this.#unroutableDrops++;
      return;
    }
    const payload = encodeEnvelopeParts({ k: "raft", m: message });
    const counters = this.#countersFor(to);
    if (payload.length > this.bounds.frameBytesMax) {
      counters.drops++;
      // A Raft size bound above frameBytesMax is a configuration error: say so loudly, but not per message.
      this.#logDrop(to, `a ${message.type} of ${payload.length} bytes exceeds frameBytesMax`);
      return;
    }
    const lane = message.type === "installSnapshot" ? "bulk" : "ordinary";
    const link = message.type === "installSnapshot" || message.type === "appendEntries" ? links.data : links.control;
    if (!link.enqueue({ payload, isMessage: true, requestId: 0 }, lane)) {
      counters.drops++;
      this.#logDrop(to, `the ${lane} queue to the peer is full`);
    }
  }

  #logDrop(peerId: NodeId, reason: string): void {
    const nowMs = performance.now();
    const lastMs = this.#dropLoggedAtMs.get(peerId);
    if (lastMs !== undefined && nowMs - lastMs < DROP_LOG_INTERVAL_MS) return;
    this.#dropLoggedAtMs.set(peerId, nowMs);
    const link = this.#links.get(peerId)?.control;
    this.#logger.warn(
      {
        peer: peerId,
        address: link === undefined ? undefined : formatPeerAddress(link.address),
        drops: this.#countersFor(peerId).drops,
      },
      `Dropping messages: ${reason}`,
    );
  }

  #hasInbound(id: NodeId): boolean {
    return this.#inboundByPeer.has(inboundKey(id, "control")) || this.#inboundByPeer.has(inboundKey(id, "data"));
  }

  #countersFor(id: NodeId): PeerCounters {
    let counters = this.#counters.get(id);
    if (counters === undefined) {
      counters = newPeerCounters();
      this.#counters.set(id, counters);
    }
    return counters;
  }

  #accept(socket: Socket): void {
    if (this.#state !== "running" || this.#inbound.size >= this.bounds.inboundConnectionCountMax) {
      this.#logger.warn(
        {
          remote: `${socket.remoteAddress}:${socket.remotePort}`,
          reason: this.#state === "running" ? "inboundConnectionCountMax reached" : "not running",
        },
        "Refusing an inbound connection",
      );
      socket.destroy();
      return;
    }
    const connection = new InboundConnection(socket, {
      selfId: this.selfId,
      bounds: this.bounds,
      events: this.#inboundEvents,
      logger: this.#logger,
      countersFor: (id) => this.#countersFor(id),
    });
    this.#inbound.add(connection);
  }

  readonly #linkEvents: PeerLinkEvents = {
    onResponse: (peerId: NodeId, response: ResponseEnvelope) => this.#tracker.settle(peerId, response),
    onWritten: (_peerId: NodeId, frames: readonly OutboundFrame[]) => {
      for (const frame of frames) if (frame.requestId !== 0) this.#tracker.markWritten(frame.requestId);
    },
    onDown: (peerId: NodeId) =>
      this.#tracker.failPeer(peerId, `Connection to node ${peerId} closed before a response arrived`),
    onRefused: (peerId: NodeId) => this.#refusedHandler?.(peerId),
    onProtocolError: () => {
      this.#protocolErrors++;
    },
  };

  readonly #inboundEvents: InboundEvents = {
    onIdentified: (connection, from) => {
      const key = inboundKey(from, connection.channel);
      const previous = this.#inboundByPeer.get(key);
      this.#inboundByPeer.set(key, connection);
      // A node keeps one outbound connection per channel to us; a newer one means the older is dead (the node
      // restarted or reconnected before we noticed), so close the older rather than keep a half-open socket.
      if (previous !== undefined && previous !== connection) previous.close();
    },
    onMessage: (message) => {
      if (this.#messageHandler === undefined) this.#unhandledDrops++;
      else this.#messageHandler(message);
    },
    onRequest: async (from, payload) => {
      const handler = this.#requestHandler;
      if (handler === undefined) throw new ShoalError("UNAVAILABLE", `Node ${this.selfId} serves no requests yet`);
      return handler(from, payload);
    },
    onClosed: (connection) => {
      this.#inbound.delete(connection);
      const peerId = connection.peerId;
      if (peerId === undefined) return;
      const key = inboundKey(peerId, connection.channel);
      if (this.#inboundByPeer.get(key) !== connection) return;
      this.#inboundByPeer.delete(key);
      if (!this.#links.has(peerId) && !this.#hasInbound(peerId)) this.#counters.delete(peerId);
    },
    onProtocolError: () => {
      this.#protocolErrors++;
    },
    onMisdirected: (from, to) => this.#onMisdirectedHello?.(from, to),
  };
}

function inboundKey(peerId: NodeId, channel: PeerChannel): string {
  return `${peerId}/${channel}`;
}

function abandonMessage(to: NodeId, reason: unknown): string {
  const why = reason instanceof Error ? reason.message : typeof reason === "string" ? reason : "it was abandoned";
  return `Request to node ${to} abandoned: ${why}`;
}

function isNodeId(value: unknown): value is NodeId {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}
