/**
 * @module A Shoal member inside an application's process: `startNode(options)` starts a full member (the same
 * start as `shoal start`, through start-member.ts), with the HTTP API and the Redis protocol only when asked for,
 * and hands back a small typed API — linearizable get, put and delete from any member — and `stop()`.
 * docs/embedding.md is the guide.
 */

import pino, { type Logger } from "pino";
import type { CommandResult } from "../commands/command.js";
import { ShoalError } from "../lib/errors.js";
import { isMemberId, MEMBER_ID_MAX } from "../lib/replica-id.js";
import { type FsyncPolicy, type MemberAddress, nodeDefaults } from "../node/node-options.js";
import type { NodeId } from "../raft/types.js";
import type { KeyValue } from "../store/record.js";
import { type ListenAddress, type RespOptions, startMember } from "./start-member.js";

/** How a member is started. Only `id`, `dataDir` and `peers` are required; the rest take `shoal start`'s defaults. */
export interface EmbeddedNodeOptions {
  /** This member's id: a positive integer, one of `peers`' keys. */
  readonly id: number;
  /** Where the WAL, snapshots and LMDB state live; created if missing; locked while the member runs. */
  readonly dataDir: string;
  /** Every member's peer address ("host:port"), this one included, by id. Every member must be given the same
   * list, and a new cluster starts only when all of them are up (start them together, not one after another). */
  readonly peers: Readonly<Record<number, string>> | ReadonlyMap<number, string>;
  /** Serve the HTTP API (and the dashboard) here; off when absent. Port 0 picks a free one. */
  readonly http?: Partial<ListenAddress>;
  /** Speak the Redis protocol here; off when absent. Port 0 picks a free one. */
  readonly resp?: Partial<ListenAddress> & Omit<RespOptions, "host" | "port">;
  /** always (default): acknowledged means on disk on a majority; batch: group commit; never: replication only. */
  readonly fsync?: FsyncPolicy;
  /** One Raft tick in ms (default 50); the election timeout is `electionTimeoutTicks` ticks (default 6). */
  readonly tickMs?: number;
  readonly electionTimeoutTicks?: number;
  /** How long an operation may wait for a leader, a commit or a read confirmation (default 5,000 ms). */
  readonly requestTimeoutMs?: number;
  /** Snapshot and compact the log every this many applied entries (default 10,000). */
  readonly snapshotThresholdEntries?: number;
  /** Tells apart new clusters with the same member ids (default "shoal"); read only when the data directory is new. */
  readonly clusterName?: string;
  /** A pino logger; silent when absent. */
  readonly logger?: Logger;
  /** What the member is waiting for while it starts (a new member waits for every other member to answer). */
  readonly onStartupProgress?: (message: string) => void;
  /** Called when the member found its data damaged or an invariant broken; it has already begun stopping (see
   * docs/embedding.md). Logged at fatal when absent. */
  readonly onFatal?: (error: Error) => void;
}

export type KeyInput = string | Uint8Array;

/** A key's value and its revisions, as a linearizable read saw it. */
export interface StoredValue {
  readonly value: Uint8Array;
  /** The value as UTF-8 text. */
  readonly text: string;
  /** The revision of the key's last write (etcd's mod_revision). */
  readonly modRevision: number;
  /** The revision of the write that created it. */
  readonly createRevision: number;
  /** Writes since it was created. */
  readonly version: number;
  /** When the key expires (ms since the epoch on the leader's clock), or 0 for never. */
  readonly expiresAtMs: number;
}

/** This member's view of the cluster. */
export interface MemberView {
  readonly id: NodeId;
  readonly role: string;
  /** The leader this member knows; 0 when none is known (an election is running). */
  readonly leader: NodeId;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

export interface EmbeddedNode {
  readonly id: NodeId;
  /** Where this member listens: its peer port, and the HTTP and Redis ports when they were asked for. */
  readonly addresses: { readonly peer: string; readonly http?: string; readonly resp?: string };
  /** Writes `value` at `key` through the leader (forwarded from a follower); resolves once it is committed and
   * applied on the leader. `ttlMs` expires the key. */
  put(key: KeyInput, value: KeyInput, options?: { readonly ttlMs?: number }): Promise<{ readonly revision: number }>;
  /** Reads `key`: linearizable (it sees every write acknowledged before the call, on any member) unless `stale`,
   * which answers from this member's state without asking the leader. Undefined when the key is absent. */
  get(key: KeyInput, options?: { readonly stale?: boolean }): Promise<StoredValue | undefined>;
  /** Deletes `key`; `deleted` is false when there was nothing to delete. */
  delete(key: KeyInput): Promise<{ readonly revision: number; readonly deleted: boolean }>;
  status(): MemberView;
  /** Resolves with the leader's id once this member knows one; rejects with TIMEOUT after `timeoutMs`. */
  waitForLeader(timeoutMs?: number): Promise<NodeId>;
  /** Stops the front ends, then the member: the peer port closes, the WAL and LMDB are closed, the data
   * directory is unlocked. Operations still running fail. Safe to call more than once. */
  stop(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LEADER_POLL_MS = 20;

export async function startNode(options: EmbeddedNodeOptions): Promise<EmbeddedNode> {
  const members = memberAddresses(options);
  if (!members.has(options.id)) {
    throw new ShoalError(
      "BAD_REQUEST",
      `Node ${options.id} is not among the peers (${[...members.keys()].join(", ")})`,
    );
  }
  const logger = options.logger ?? pino({ level: "silent" });
  let member: Awaited<ReturnType<typeof startMember>> | undefined;
  const running = await startMember({
    node: {
      ...nodeDefaults,
      id: options.id,
      dataDir: options.dataDir,
      members,
      ...definedOnly({
        fsync: options.fsync,
        tickMs: options.tickMs,
        electionTimeoutTicks: options.electionTimeoutTicks,
        requestTimeoutMs: options.requestTimeoutMs,
        snapshotThresholdEntries: options.snapshotThresholdEntries,
        clusterName: options.clusterName,
        onStartupProgress: options.onStartupProgress,
      }),
      logger,
      onFatal: (error) => {
        // The node must not go on serving from state it cannot trust; the application decides what else to do.
        logger.fatal({ err: error }, "Stopping the embedded node");
        void member?.stop().catch(() => undefined);
        options.onFatal?.(error);
      },
    },
    ...(options.http === undefined ? {} : { http: { host: "127.0.0.1", port: 0, ...definedOnly(options.http) } }),
    ...(options.resp === undefined ? {} : { resp: { host: "127.0.0.1", port: 0, ...definedOnly(options.resp) } }),
  });
  member = running;
  const node = running.node;
  const status = (): MemberView => {
    const raft = node.raftStatus();
    return {
      id: raft.id,
      role: raft.role,
      leader: raft.leaderId,
      term: raft.term,
      commitIndex: raft.commitIndex,
      appliedIndex: node.store.appliedIndex(),
    };
  };
  return {
    id: options.id,
    addresses: {
      peer: members.get(options.id)?.peer ?? "",
      ...(running.http === undefined ? {} : { http: running.http }),
      ...(running.resp === undefined ? {} : { resp: running.resp }),
    },
    put: async (key, value, putOptions) => {
      const result = settled(await node.put(bytesOf(key), bytesOf(value), putOptions?.ttlMs));
      return { revision: result.revision };
    },
    get: async (key, getOptions) => storedValue(await node.get(bytesOf(key), getOptions?.stale === true)),
    delete: async (key) => {
      const result = settled(await node.delete(bytesOf(key)));
      return { revision: result.revision, deleted: result.kind === "delete" && result.prev !== undefined };
    },
    status,
    waitForLeader: async (timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { leader } = status();
        if (leader !== 0) return leader;
        if (Date.now() >= deadline) throw new ShoalError("TIMEOUT", `No leader known within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, LEADER_POLL_MS));
      }
    },
    stop: () => running.stop(),
  };
}

function memberAddresses(options: EmbeddedNodeOptions): Map<NodeId, MemberAddress> {
  const entries: Array<[number, string]> =
    options.peers instanceof Map
      ? [...(options.peers as ReadonlyMap<number, string>)]
      : Object.entries(options.peers).map(([id, address]) => [Number(id), address]);
  const members = new Map<NodeId, MemberAddress>();
  for (const [id, address] of entries) {
    if (!isMemberId(id))
      throw new ShoalError("BAD_REQUEST", `Peer id ${id} is not an integer from 1 to ${MEMBER_ID_MAX}`);
    // Port 0 cannot be a peer address: the other members could not know which port it picked.
    const port = typeof address === "string" ? Number(/^.+:(\d{1,5})$/.exec(address)?.[1]) : Number.NaN;
    if (!(port >= 1 && port <= 65535)) {
      throw new ShoalError("BAD_REQUEST", `Peer ${id}'s address "${address}" is not host:port (port 1-65535)`);
    }
    members.set(id, { peer: address, http: "" });
  }
  return members;
}

/** A write's result, or the error it was refused with. */
function settled(result: CommandResult): CommandResult {
  if (result.kind === "error") throw new ShoalError(result.code, result.message);
  return result;
}

function storedValue(kv: KeyValue | undefined): StoredValue | undefined {
  if (kv === undefined) return undefined;
  if (kv.type !== "string") throw new ShoalError("WRONG_TYPE", `The key holds a ${kv.type}, not a string value`);
  return {
    value: kv.value,
    text: decoder.decode(kv.value),
    modRevision: kv.modRevision,
    createRevision: kv.createRevision,
    version: kv.version,
    expiresAtMs: kv.expiresAtMs,
  };
}

function bytesOf(input: KeyInput): Uint8Array {
  return typeof input === "string" ? encoder.encode(input) : input;
}

/** The object without its undefined properties (so they do not override defaults when spread). */
function definedOnly<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}
