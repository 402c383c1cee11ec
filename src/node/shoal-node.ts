/**
 * @module A Shoal node: one Raft group (this version runs a single group; sharding comes later) with its WAL,
 * LMDB state machine and peer transport. This file is the wiring: it opens the parts in order and hands the front
 * ends one object. What the node does lives beside it, one concern each: the key-value operations
 * (client-operations.ts), getting writes and read barriers to the leader from any member (leader-forwarding.ts),
 * Redis commands and WATCH (redis-operations.ts, redis-watch.ts), requests between members (peer-rpc.ts), and
 * status and readiness (member-status.ts). Any node accepts any request: writes on a follower are forwarded to the
 * leader, linearizable reads on a follower are confirmed through ReadIndex and served from the local state machine.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { Command, CommandResult } from "../commands/command.js";
import { encodeCommand } from "../commands/command-codec.js";
import type { ScanCursors } from "../commands/redis/command-spec.js";
import type { Reply } from "../commands/redis/reply.js";
import type { ScanCursorTable } from "../commands/redis/scan-cursor-table.js";
import { NODE_CLOCK } from "../io/node/clock.js";
import { NodeDisk } from "../io/node/disk.js";
import { Prng } from "../lib/prng.js";
import { resolveRaftConfig } from "../raft/config.js";
import type { MemoryStorage } from "../raft/memory-storage.js";
import { RawNode } from "../raft/raw-node.js";
import type { NodeId } from "../raft/types.js";
import type { LmdbStore } from "../store/lmdb/lmdb-store.js";
import type { KeyValue } from "../store/record.js";
import type { StateMachineStore } from "../store/state-machine-store.js";
import { DEFAULT_TRANSPORT_BOUNDS, type PeerTransport } from "../transport/index.js";
import { Wal } from "../wal/wal.js";
import { ClientOperations } from "./client-operations.js";
import { openLmdbCommandStore } from "./command-store.js";
import { DataDirLock } from "./data-dir-lock.js";
import { ExpiryScanner } from "./expiry-scanner.js";
import type { ClusterIdentity } from "./identity.js";
import { joinCluster, membersOnly } from "./join-cluster.js";
import { type AskPeer, LeaderForwarding } from "./leader-forwarding.js";
import { checkLimitRelations } from "./limit-relations.js";
import { type MemberInfo, MemberStatus, type Readiness } from "./member-status.js";
import { NodeMetrics } from "./node-metrics.js";
import { type NodeOptions, nodeDefaults } from "./node-options.js";
import type { PeerChecks } from "./peer-checks.js";
import { answerPeerRequest } from "./peer-rpc.js";
import { PubSubHub } from "./pubsub-hub.js";
import { RaftHost } from "./raft-host.js";
import { recoverRaftStorage } from "./recover-state.js";
import { RedisOperations, type RedisOutcome } from "./redis-operations.js";
import type { WatchTicket } from "./redis-watch.js";
import { SnapshotFileStore } from "./snapshot-file.js";
import { WatchHub, watchHubDefaults } from "./watch-hub.js";

export type { MemberInfo, Readiness } from "./member-status.js";
export type { RedisOutcome } from "./redis-operations.js";
export type { WatchTicket } from "./redis-watch.js";

/** The parts #open builds before the node itself. */
interface NodeParts {
  readonly host: RaftHost;
  readonly transport: PeerTransport;
  readonly wal: Wal;
  readonly store: StateMachineStore;
  readonly watches: WatchHub;
  readonly metrics: NodeMetrics;
  readonly lock: DataDirLock;
  readonly identity: ClusterIdentity;
  readonly peerChecks: PeerChecks;
}

export class ShoalNode {
  readonly options: NodeOptions;
  readonly store: StateMachineStore;
  /** Every watch this node serves, fed by the host after each apply. */
  readonly watches: WatchHub;
  readonly metrics: NodeMetrics;
  /** Redis pub/sub: this node's subscribers, and delivery to every peer's. */
  readonly pubsub: PubSubHub;
  /** The cluster and member this node's data directory belongs to (identity.ts). */
  readonly identity: ClusterIdentity;
  /** Writes and read barriers from any member (the host's leadership changes reach it first). */
  readonly forwarding: LeaderForwarding;
  readonly client: ClientOperations;
  readonly redis: RedisOperations;
  readonly status: MemberStatus;
  readonly #host: RaftHost;
  readonly #transport: PeerTransport;
  readonly #wal: Wal;
  readonly #expiry: ExpiryScanner;
  readonly #lock: DataDirLock;
  readonly #peerChecks: PeerChecks;

  private constructor(options: NodeOptions, parts: NodeParts) {
    this.options = options;
    this.store = parts.store;
    this.watches = parts.watches;
    this.metrics = parts.metrics;
    this.identity = parts.identity;
    this.#host = parts.host;
    this.#transport = parts.transport;
    this.#wal = parts.wal;
    this.#lock = parts.lock;
    this.#peerChecks = parts.peerChecks;
    const transport = parts.transport;
    const ask: AskPeer = (to, request, timeoutMs, abandon) => transport.request(to, request, timeoutMs, abandon);
    const host = parts.host;
    this.forwarding = new LeaderForwarding({
      log: {
        status: () => host.raw.status(),
        propose: (data) => host.propose(data),
        readBarrier: () => host.readBarrier(),
      },
      ask,
      requestTimeoutMs: options.requestTimeoutMs,
      logger: options.logger,
    });
    this.client = new ClientOperations(options, parts.store, this.forwarding);
    this.redis = new RedisOperations(options, parts.store, this.client, ask);
    this.status = new MemberStatus({
      options,
      raftStatus: () => host.raw.status(),
      appliedIndex: () => parts.store.appliedIndex(),
      clusterId: () => parts.identity.clusterId,
      problems: () => parts.peerChecks.problems(),
      ask,
    });
    this.pubsub = new PubSubHub(
      {
        peerIds: () => [...options.members.keys()].filter((id) => id !== options.id),
        request: (to, payload, timeoutMs) => transport.request(to, payload, timeoutMs),
      },
      Math.min(options.requestTimeoutMs, 1000),
    );
    this.#expiry = new ExpiryScanner({
      store: parts.store,
      isLeader: () => host.raw.status().role === "leader",
      propose: (command) => host.propose(encodeCommand(command)),
      intervalMs: options.expiryScanIntervalMs,
      keysPerScanMax: options.expiryKeysPerScanMax,
    });
  }

  /**
   * Opens (or recovers) the node's data directory and joins the cluster. In this order: the directory's lock
   * (data-dir-lock.ts; nothing in the directory is read before it), the peer port, the directory's identity
   * (bootstrap.ts: a new member may wait here for the others), then the WAL, snapshots and LMDB. A failure at
   * any step undoes the steps before it, so a refused start leaves nothing running and nothing locked.
   */
  static async start(options: NodeOptions): Promise<ShoalNode> {
    await mkdir(options.dataDir, { recursive: true });
    const lock = DataDirLock.acquire(options.dataDir);
    const undo: (() => Promise<void> | void)[] = [() => lock.release()];
    try {
      return await ShoalNode.#open(options, lock, undo);
    } catch (error) {
      for (const step of undo.reverse()) await step();
      throw error;
    }
  }

  static async #open(
    options: NodeOptions,
    lock: DataDirLock,
    undo: (() => Promise<void> | void)[],
  ): Promise<ShoalNode> {
    const memberIds = [...options.members.keys()].sort((a, b) => a - b);
    const {
      transport,
      identity,
      seen,
      checks: peerChecks,
      answerIdentity,
    } = await joinCluster(options, memberIds, undo);
    const { wal, storage, snapshots, store } = await openState(options, memberIds, undo);
    const config = resolveRaftConfig({
      id: options.id,
      groupId: 1,
      electionTimeoutTicks: options.electionTimeoutTicks,
      heartbeatIntervalTicks: options.heartbeatIntervalTicks,
      ...options.raft,
    });
    checkLimitRelations(config, DEFAULT_TRANSPORT_BOUNDS);
    const raw = new RawNode(config, storage, new Prng(options.randomSeed ?? Date.now() ^ (options.id * 7919)));
    const watches = new WatchHub({
      store,
      bufferEventsMax: options.watchBufferEventsMax ?? watchHubDefaults.bufferEventsMax,
      bufferBytesMax: options.watchBufferBytesMax ?? watchHubDefaults.bufferBytesMax,
      catchUpRevisionsMax: watchHubDefaults.catchUpRevisionsMax,
      watchersMax: options.watchersMax ?? watchHubDefaults.watchersMax,
    });
    // The gauges close over `host`, declared below: they run only when scraped, long after it exists.
    const metrics = new NodeMetrics(
      {
        raftStatus: () => raw.status(),
        hostCounters: () => host.counters,
        storeStats: () => ({
          ...store.stats(),
          revision: store.revision(),
          appliedIndex: store.appliedIndex(),
          fileSizeBytes: store.fileSizeBytes(),
        }),
        historyStats: () => store.historyStats(),
        watchStats: () => watches.stats(),
        walSizeBytes: () => wal.sizeBytes,
      },
      { node: String(options.id) },
    );
    const host = new RaftHost({
      raw,
      storage,
      wal,
      store,
      network: membersOnly(transport, seen, peerChecks),
      snapshots,
      clock: NODE_CLOCK,
      tickMs: options.tickMs,
      snapshotThresholdEntries: options.snapshotThresholdEntries,
      snapshotRetainEntries: options.snapshotRetainEntries,
      proposalTimeoutMs: options.requestTimeoutMs,
      lostLeadershipGraceMs: 2 * options.tickMs * options.electionTimeoutTicks,
      campaignStaggerMs: 2 * options.tickMs,
      readTimeoutMs: options.requestTimeoutMs,
      onFatal: (error) => options.onFatal(error),
      onApplied: () => watches.notify(),
      // `node` is declared below; the host calls this only from its Ready loop, which starts after it exists.
      onLeadershipChange: (leaderId, term) => node.forwarding.leadershipMoved(leaderId, term),
      metrics,
    });
    const node = new ShoalNode(options, {
      host,
      transport,
      wal,
      store,
      watches,
      metrics,
      lock,
      identity,
      peerChecks,
    });
    const logger: Logger = options.logger;
    transport.onRequest(async (from, payload) =>
      answerPeerRequest(
        {
          propose: (data) => host.propose(data),
          info: () => node.status.memberInfo(),
          scanCursorPosition: (cursor) => node.redis.scanCursors.positionOf(cursor),
          identity: answerIdentity,
          pubsub: (request) => node.pubsub.answer(request),
        },
        logger,
        from,
        payload,
      ),
    );
    transport.onPeerRefused((peerId) => host.leaderGone(peerId));
    host.start();
    node.#expiry.start();
    peerChecks.start();
    node.status.start();
    return node;
  }

  async stop(): Promise<void> {
    this.watches.close();
    this.#expiry.stop();
    this.#peerChecks.stop();
    this.status.stop();
    await this.#host.stop();
    await this.#transport.stop();
    await this.#wal.close();
    await this.store.close();
    this.#lock.release();
  }

  // ---- What the front ends call: each is one of the parts above (kept here so they take one object). ----

  put(key: Uint8Array, value: Uint8Array, ttlMs?: number): Promise<CommandResult> {
    return this.client.put(key, value, ttlMs);
  }

  delete(key: Uint8Array): Promise<CommandResult> {
    return this.client.delete(key);
  }

  get(key: Uint8Array, stale = false): Promise<KeyValue | undefined> {
    return this.client.get(key, stale);
  }

  range(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, stale = false): Promise<KeyValue[]> {
    return this.client.range(prefix, after, limit, stale);
  }

  submit(command: Command): Promise<CommandResult> {
    return this.client.submit(command);
  }

  readBarrier(): Promise<void> {
    return this.client.readBarrier();
  }

  get scanCursors(): ScanCursorTable {
    return this.redis.scanCursors;
  }

  runRedis(argvs: readonly (readonly Uint8Array[])[], watches?: readonly WatchTicket[]): Promise<RedisOutcome> {
    return this.redis.runRedis(argvs, watches);
  }

  readRedis(argvs: readonly (readonly Uint8Array[])[], stale: boolean, cursors: ScanCursors): Promise<Reply[]> {
    return this.redis.readRedis(argvs, stale, cursors);
  }

  lendStateForRead(stale: boolean): Promise<{ readonly path: string; release(): void } | undefined> {
    return this.redis.lendStateForRead(stale);
  }

  watchRevisions(keys: readonly Uint8Array[], stale: boolean): Promise<WatchTicket[]> {
    return this.redis.watchRevisions(keys, stale);
  }

  resolveScanCursors(cursors: readonly bigint[]): Promise<void> {
    return this.redis.resolveScanCursors(cursors);
  }

  setHttpAddress(address: string): void {
    this.status.setHttpAddress(address);
  }

  memberInfo(): MemberInfo {
    return this.status.memberInfo();
  }

  peerInfo(id: NodeId, timeoutMs: number): Promise<MemberInfo | undefined> {
    return this.status.peerInfo(id, timeoutMs);
  }

  /** Every member's info by id — this node's own, the others' as they answer within `timeoutMs` (undefined when
   * they do not): what /v1/cluster and the Redis Cluster commands show. */
  async memberInfos(timeoutMs: number): Promise<Map<NodeId, MemberInfo | undefined>> {
    const self = this.memberInfo();
    const ids = [...this.options.members.keys()];
    return new Map(
      await Promise.all(
        ids.map(async (id) => [id, id === self.id ? self : await this.peerInfo(id, timeoutMs)] as const),
      ),
    );
  }

  readiness(): Promise<Readiness> {
    return this.status.readiness();
  }

  raftStatus(): ReturnType<RawNode["status"]> {
    return this.#host.raw.status();
  }

  hostCounters(): RaftHost["counters"] {
    return this.#host.counters;
  }
}

/** Opens the WAL, the snapshot files and LMDB, and rebuilds the Raft log from them (after a crash too). Each
 * opened part is pushed on `undo`, for a start that fails later. */
async function openState(
  options: NodeOptions,
  memberIds: readonly NodeId[],
  undo: (() => Promise<void> | void)[],
): Promise<{ wal: Wal; storage: MemoryStorage; snapshots: SnapshotFileStore; store: LmdbStore<CommandResult> }> {
  const opened = await Wal.open(join(options.dataDir, "wal"), {
    disk: new NodeDisk(),
    fsync: options.fsync,
    batchIntervalMs: options.fsyncBatchIntervalMs,
  });
  const { wal, state } = opened;
  undo.push(() => wal.close());
  const snapshots = new SnapshotFileStore(join(options.dataDir, "snapshots"));
  // LMDB commits are not fsynced: the WAL is the durable log (recover-state.ts says how a store that lost its
  // latest commits catches up).
  const store = openLmdbCommandStore(join(options.dataDir, "state"), {
    syncCommits: false,
    historyRevisionsMax: options.watchHistoryRevisionsMax ?? nodeDefaults.watchHistoryRevisionsMax,
    historyBytesMax: options.watchHistoryBytesMax ?? nodeDefaults.watchHistoryBytesMax,
  });
  undo.push(() => store.close());
  const storage = await recoverRaftStorage(state, snapshots, store, memberIds);
  return { wal, storage, snapshots, store };
}
