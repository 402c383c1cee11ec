/**
 * @module Counters the transport keeps for metrics. Plain numbers, monotonically increasing except the gauges
 * (`connected`, `queuedCount`, `queuedBytes`); `http/` turns them into Prometheus series.
 */

import type { NodeId } from "../raft/types.js";

/** Counters for one remote node, mutated in place by the transport. */
export interface PeerCounters {
  /** Raft messages handed to the socket, and all frame bytes (headers, hello, requests, responses included). */
  messagesSent: number;
  bytesSent: number;
  /** Raft messages delivered to the handler, and all frame bytes received from that node. */
  messagesReceived: number;
  bytesReceived: number;
  /** Messages and requests refused because a queue was full, too large to send, or discarded by stop/removePeer. */
  drops: number;
  /** Connections established after the first one. */
  reconnects: number;
  /** Dial attempts that failed (refused, timed out) or connections lost. */
  connectFailures: number;
  requestsSent: number;
  requestsReceived: number;
}

export interface PeerStats extends Readonly<PeerCounters> {
  /** Whether the outbound connection is up (false for nodes that only dial us). */
  readonly connected: boolean;
  readonly queuedCount: number;
  readonly queuedBytes: number;
}

export interface TransportStats {
  /** Keyed by node id: configured peers, plus nodes currently connected to us that are not (yet) peers. */
  readonly peers: Readonly<Record<string, PeerStats>>;
  /** Messages for a node with no configured address (or sent while stopped). */
  readonly unroutableDrops: number;
  /** Messages received while no onMessage handler was registered. */
  readonly unhandledDrops: number;
  /** Connections closed for a framing, decoding, hello or identity error. */
  readonly protocolErrors: number;
  readonly inboundConnections: number;
}

export function newPeerCounters(): PeerCounters {
  return {
    messagesSent: 0,
    bytesSent: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    drops: 0,
    reconnects: 0,
    connectFailures: 0,
    requestsSent: 0,
    requestsReceived: 0,
  };
}

export type CountersLookup = (nodeId: NodeId) => PeerCounters;
