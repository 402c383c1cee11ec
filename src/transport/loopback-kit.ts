/**
 * @module Helpers for the transport's tests and benchmark: transports on 127.0.0.1 with ephemeral ports, a
 * capturing logger, message builders and polling. Not a test file itself (the name avoids node:test's patterns).
 */

import type { Logger } from "../io/logger.js";
import type { AppendEntriesMessage, HeartbeatMessage, InstallSnapshotMessage, Message, NodeId } from "../raft/types.js";
import { PeerTransport, type PeerTransportOptions } from "./peer-transport.js";
import type { TransportBounds } from "./transport-config.js";

export interface LogLine {
  readonly level: "info" | "warn" | "error";
  readonly message: string;
  readonly detail: Readonly<Record<string, unknown>> | undefined;
}

export interface CapturingLogger extends Logger {
  readonly lines: LogLine[];
}

export function capturingLogger(): CapturingLogger {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (detail, message) => lines.push({ level: "info", message, detail }),
    warn: (detail, message) => lines.push({ level: "warn", message, detail }),
    error: (detail, message) => lines.push({ level: "error", message, detail }),
  };
}

/** Fast reconnects so restart tests take milliseconds, not seconds. */
export const TEST_BOUNDS: Partial<TransportBounds> = {
  reconnectDelayBaseMs: 10,
  reconnectDelayMaxMs: 100,
  connectTimeoutMs: 1000,
  helloTimeoutMs: 1000,
};

export interface StartOptions extends Partial<Omit<PeerTransportOptions, "selfId">> {
  readonly logger?: Logger;
}

export async function startTransport(selfId: NodeId, options: StartOptions = {}): Promise<PeerTransport> {
  const transport = new PeerTransport({
    ...TEST_BOUNDS,
    listenHost: "127.0.0.1",
    listenPort: 0,
    peers: new Map(),
    logger: capturingLogger(),
    ...options,
    selfId,
  });
  await transport.start();
  return transport;
}

export function addressOf(transport: PeerTransport): string {
  const { host, port } = transport.listenAddress;
  return `${host}:${port}`;
}

/** Starts `count` transports (ids 1..count) and points each at all the others. */
export async function startMesh(count: number, options: StartOptions = {}): Promise<PeerTransport[]> {
  const transports: PeerTransport[] = [];
  for (let id = 1; id <= count; id++) transports.push(await startTransport(id, options));
  for (const transport of transports) {
    for (const other of transports) transport.setPeer(other.selfId, addressOf(other));
  }
  return transports;
}

export async function stopAll(transports: readonly PeerTransport[]): Promise<void> {
  await Promise.all(transports.map((transport) => transport.stop()));
}

/** Polls `condition` every few milliseconds; rejects with `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadlineMs = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadlineMs) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export function heartbeat(from: NodeId, to: NodeId, commit: number, groupId = 1): HeartbeatMessage {
  return { type: "heartbeat", groupId, from, to, term: 3, commit, readContext: "", quiesce: false };
}

export function appendEntries(from: NodeId, to: NodeId, index: number, data: Uint8Array): AppendEntriesMessage {
  return {
    type: "appendEntries",
    groupId: 7,
    from,
    to,
    term: 3,
    prevLogIndex: index - 1,
    prevLogTerm: 3,
    entries: [{ term: 3, index, type: "normal", data }],
    commit: index - 1,
  };
}

export function snapshotChunk(from: NodeId, to: NodeId, offset: number, chunk: Uint8Array): InstallSnapshotMessage {
  return {
    type: "installSnapshot",
    groupId: 7,
    from,
    to,
    term: 3,
    metadata: { index: 100, term: 3, confState: { voters: [1, 2, 3], learners: [] } },
    offset,
    totalBytes: 1 << 30,
    chunk,
  };
}

/** Collects the messages a transport receives. */
export function collect(transport: PeerTransport): Message[] {
  const received: Message[] = [];
  transport.onMessage((message) => received.push(message));
  return received;
}
