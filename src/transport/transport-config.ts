/**
 * @module The transport's bounds. Every queue, buffer and retry in `transport/` is limited by a value here
 * (architecture 7.6); `resolveTransportBounds` fills defaults and checks the relationships between values.
 */

import { ShoalError } from "../lib/errors.js";

const MiB = 1024 * 1024;

export interface TransportBounds {
  /** The largest frame payload (the u32 length prefix's value) sent or accepted. A bigger incoming frame
   * closes the connection; a bigger outgoing message is dropped (and logged). */
  readonly frameBytesMax: number;
  /** Per peer and channel, the ordinary lane (every message but snapshot chunks, plus requests): count and payload
   * bytes. The two channels (envelope.ts, PeerChannel) have a lane each, so a peer may hold up to twice this. */
  readonly queueCountMax: number;
  readonly queueBytesMax: number;
  /** Per peer, the bulk lane (installSnapshot messages). Kept apart so chunks never crowd out heartbeats. */
  readonly bulkQueueCountMax: number;
  readonly bulkQueueBytesMax: number;
  /** The most payload bytes one flush hands to a socket (at least one frame is always taken). Between flushes
   * newly queued ordinary frames go first, so a heartbeat waits behind at most this much bulk data. */
  readonly flushBytesMax: number;
  readonly reconnectDelayBaseMs: number;
  readonly reconnectDelayMaxMs: number;
  /** A dial that has not connected by then is abandoned (and retried with backoff). */
  readonly connectTimeoutMs: number;
  /** An inbound connection must identify itself this soon or be closed. */
  readonly helloTimeoutMs: number;
  /** TCP keep-alive probes start after this much idle time, so a half-open connection is eventually noticed. */
  readonly keepAliveDelayMs: number;
  readonly inboundConnectionCountMax: number;
  /** Requests a single inbound connection may have in its handler at once; more are refused UNAVAILABLE. */
  readonly inboundRequestCountMax: number;
  /** Outgoing requests awaiting a response, across all peers; more are refused UNAVAILABLE. */
  readonly pendingRequestCountMax: number;
}

export const DEFAULT_TRANSPORT_BOUNDS: TransportBounds = {
  frameBytesMax: 64 * MiB,
  queueCountMax: 8192,
  queueBytesMax: 64 * MiB,
  bulkQueueCountMax: 64,
  bulkQueueBytesMax: 64 * MiB,
  flushBytesMax: 1 * MiB,
  reconnectDelayBaseMs: 50,
  reconnectDelayMaxMs: 2000,
  connectTimeoutMs: 3000,
  helloTimeoutMs: 5000,
  keepAliveDelayMs: 5000,
  inboundConnectionCountMax: 1024,
  inboundRequestCountMax: 1024,
  pendingRequestCountMax: 16384,
};

/** Fills unset bounds with defaults and validates them. Throws ShoalError BAD_REQUEST on a bad configuration. */
export function resolveTransportBounds(overrides: Partial<TransportBounds>): TransportBounds {
  const bounds: Record<string, number> = {};
  for (const [key, fallback] of Object.entries(DEFAULT_TRANSPORT_BOUNDS)) {
    const value: unknown = (overrides as Record<string, unknown>)[key];
    if (value === undefined) {
      bounds[key] = fallback;
      continue;
    }
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      throw new ShoalError("BAD_REQUEST", `Invalid transport bound ${key}: must be a positive integer`);
    }
    bounds[key] = value;
  }
  const resolved = bounds as unknown as TransportBounds;
  // A lane whose byte bound is below the frame bound would silently drop every large-but-legal frame.
  if (resolved.queueBytesMax < resolved.frameBytesMax) {
    throw new ShoalError("BAD_REQUEST", "Invalid transport bounds: queueBytesMax must be >= frameBytesMax");
  }
  if (resolved.bulkQueueBytesMax < resolved.frameBytesMax) {
    throw new ShoalError("BAD_REQUEST", "Invalid transport bounds: bulkQueueBytesMax must be >= frameBytesMax");
  }
  if (resolved.reconnectDelayMaxMs < resolved.reconnectDelayBaseMs) {
    throw new ShoalError("BAD_REQUEST", "Invalid transport bounds: reconnectDelayMaxMs must be >= the base");
  }
  return resolved;
}
