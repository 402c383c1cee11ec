/**
 * @module What the node's host loop needs from the layers below, as narrow interfaces: the WAL (durable Raft
 * log), the peer transport and the snapshot files. The real implementations live in wal/, transport/ and
 * node/snapshot-file.ts; tests may substitute their own.
 */
import type { Entry, HardState, Message, NodeId, Snapshot, SnapshotMetadata } from "../raft/types.js";

export interface RaftLogWriter {
  /** Persists, in one write covered by one fsync (per the node's fsync policy), the given hard state, entries
   * (an entry at an existing index replaces that suffix) and snapshot marker. Resolves once durable. */
  save(batch: { hardState?: HardState; entries: readonly Entry[]; snapshot?: SnapshotMetadata }): Promise<void>;
  /** Drops whole segments covered by a snapshot at or above `index`. */
  compact(index: number): Promise<void>;
  close(): Promise<void>;
}

export interface PeerNetwork {
  send(messages: readonly Message[]): void;
  onMessage(handler: (message: Message) => void): void;
  request(to: NodeId, payload: unknown, timeoutMs: number): Promise<unknown>;
  onRequest(handler: (from: NodeId, payload: unknown) => Promise<unknown>): void;
}

export interface SnapshotFiles {
  /** Writes the snapshot durably (fsync) before resolving. Older files stay until `prune`. */
  save(snapshot: Snapshot): Promise<void>;
  /** Removes every snapshot file but the one at `keepIndex`. Called only once the WAL's marker naming
   * `keepIndex` is durable: until then, after a crash, the WAL still names an older file, which must exist. */
  prune(keepIndex: number): Promise<void>;
  /** The snapshot at exactly `index`, or undefined. */
  load(index: number): Promise<Snapshot | undefined>;
}
