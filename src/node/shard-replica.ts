/**
 * @module This node's replica of one Raft group (a shard of the keyspace): its WAL, snapshot files and LMDB state
 * machine, the RaftHost that runs the group's loop, its watch hub and TTL expiry, and what clients call on it —
 * writes through the group's leader from any member (leader-forwarding.ts), reads behind the group's ReadIndex
 * (client-operations.ts), Redis commands (redis-operations.ts). A node (shoal-node.ts) hosts one replica per group
 * over one peer transport; everything per group lives here, everything per node there.
 *
 * Group 1 keeps the data directory's top-level `wal/`, `snapshots/` and `state/` (a node written before groups
 * existed opens unchanged); group g > 1 lives under `groups/<g>/`.
 */
import { join } from "node:path";
import type { CommandResult } from "../commands/command.js";
import { encodeCommand } from "../commands/command-codec.js";
import { NODE_CLOCK } from "../io/node/clock.js";
import { NodeDisk } from "../io/node/disk.js";
import { Prng } from "../lib/prng.js";
import { resolveRaftConfig } from "../raft/config.js";
import type { MemoryStorage } from "../raft/memory-storage.js";
import { RawNode } from "../raft/raw-node.js";
import type { ConfState, GroupId, NodeId } from "../raft/types.js";
import type { LmdbStore } from "../store/lmdb/lmdb-store.js";
import { DEFAULT_TRANSPORT_BOUNDS } from "../transport/index.js";
import { Wal } from "../wal/wal.js";
import { ClientOperations } from "./client-operations.js";
import { openLmdbCommandStore } from "./command-store.js";
import { Evictor } from "./eviction/evictor.js";
import type { NodeCache } from "./eviction/node-cache.js";
import { ExpiryScanner } from "./expiry-scanner.js";
import type { GroupNetwork } from "./group-router.js";
import { type AskPeer, LeaderForwarding } from "./leader-forwarding.js";
import { checkLimitRelations } from "./limit-relations.js";
import { type NodeOptions, nodeDefaults } from "./node-options.js";
import type { HostMetrics } from "./raft-host.js";
import { RaftHost } from "./raft-host.js";
import { recoverRaftStorage } from "./recover-state.js";
import { RedisOperations } from "./redis-operations.js";
import { adoptReplicaId, groupDataDir } from "./replica-files.js";
import { SnapshotFileStore } from "./snapshot-file.js";
import { WatchHub, watchHubDefaults } from "./watch-hub.js";

/** What a replica needs of its node. */
export interface ReplicaContext {
  readonly options: NodeOptions;
  readonly groupId: GroupId;
  /** The node's peer network as this group sees it: its own Raft messages only. */
  readonly network: GroupNetwork;
  /** Asks a member, the request tagged with this group where it names one (a forwarded write). */
  readonly ask: AskPeer;
  /** Set for the group whose figures the node's metrics report. */
  readonly metrics?: HostMetrics;
  /** Called once the node exists, when the group's leader or term changes. */
  readonly onLeadershipChange?: (leaderId: NodeId, term: number) => void;
  /** Node-level liveness (node-liveness.ts): with it, the group goes quiet while idle (RaftConfig.quiesce). */
  readonly peerLive?: (id: NodeId) => boolean;
  /** This replica's Raft id: the member's id, or a later incarnation's (lib/replica-id.ts). */
  readonly replicaId?: NodeId;
  /** The node's cache mode, for a data shard: its leader evicts over maxmemory (eviction/evictor.ts). */
  readonly cache?: NodeCache;
}

/** How often a shard leader checks memory without a write kicking it (a CONFIG SET lowering maxmemory, keys
 * given a TTL that a volatile policy may now evict). */
const EVICTION_INTERVAL_MS = 100;

export class ShardReplica {
  readonly groupId: GroupId;
  /** Its Raft id (lib/replica-id.ts). */
  readonly replicaId: NodeId;
  readonly store: LmdbStore<CommandResult>;
  /** Every watch this replica serves, fed by the host after each apply. */
  readonly watches: WatchHub;
  /** Writes and read barriers from any member (the host's leadership changes reach it first). */
  readonly forwarding: LeaderForwarding;
  readonly client: ClientOperations;
  readonly redis: RedisOperations;
  readonly host: RaftHost;
  readonly #wal: Wal;
  readonly #expiry: ExpiryScanner;
  readonly #evictor: { readonly evictor: Evictor; readonly cache: NodeCache } | undefined;
  #unregisterEvictor: (() => void) | undefined;

  private constructor(
    context: ReplicaContext,
    parts: { wal: Wal; storage: MemoryStorage; snapshots: SnapshotFileStore; store: LmdbStore<CommandResult> },
  ) {
    const { options, groupId } = context;
    this.groupId = groupId;
    this.#wal = parts.wal;
    const store = parts.store;
    this.store = store;
    this.replicaId = context.replicaId ?? options.id;
    const config = resolveRaftConfig({
      id: this.replicaId,
      groupId,
      electionTimeoutTicks: options.electionTimeoutTicks,
      heartbeatIntervalTicks: options.heartbeatIntervalTicks,
      // Idle groups go quiet when the node can tell a silent leader apart (lease-based reads need heartbeats).
      quiesce: context.peerLive !== undefined && options.raft?.readOnlyOption !== "leaseBased",
      ...options.raft,
    });
    checkLimitRelations(config, DEFAULT_TRANSPORT_BOUNDS);
    const seed = options.randomSeed ?? Date.now() ^ (options.id * 7919);
    const raw = new RawNode(config, parts.storage, new Prng(seed + (groupId - 1) * 104729));
    this.watches = new WatchHub({
      store,
      bufferEventsMax: options.watchBufferEventsMax ?? watchHubDefaults.bufferEventsMax,
      bufferBytesMax: options.watchBufferBytesMax ?? watchHubDefaults.bufferBytesMax,
      catchUpRevisionsMax: watchHubDefaults.catchUpRevisionsMax,
      watchersMax: options.watchersMax ?? watchHubDefaults.watchersMax,
    });
    const watches = this.watches;
    this.host = new RaftHost({
      raw,
      storage: parts.storage,
      wal: parts.wal,
      store,
      network: context.network,
      snapshots: parts.snapshots,
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
      logger: options.logger,
      onLeadershipChange: (leaderId, term) => {
        this.forwarding.leadershipMoved(leaderId, term);
        context.onLeadershipChange?.(leaderId, term);
      },
      ...(context.metrics === undefined ? {} : { metrics: context.metrics }),
      ...(context.peerLive === undefined ? {} : { peerLive: context.peerLive }),
    });
    const host = this.host;
    this.forwarding = new LeaderForwarding({
      log: {
        status: () => host.raw.status(),
        propose: (data) => host.propose(data),
        readBarrier: () => host.readBarrier(),
      },
      ask: context.ask,
      requestTimeoutMs: options.requestTimeoutMs,
      logger: options.logger,
    });
    this.client = new ClientOperations(options, store, this.forwarding);
    this.redis = new RedisOperations(options, store, this.client, context.ask);
    this.#expiry = new ExpiryScanner({
      store,
      isLeader: () => host.raw.status().role === "leader",
      propose: (command) => host.propose(encodeCommand(command)),
      intervalMs: options.expiryScanIntervalMs,
      keysPerScanMax: options.expiryKeysPerScanMax,
    });
    const cache = context.cache;
    if (cache !== undefined) {
      const evictor = new Evictor({
        store,
        isLeader: () => host.raw.status().role === "leader",
        propose: (command) => host.propose(encodeCommand(command)),
        limits: cache.limits,
        tracker: cache.tracker,
        overBy: () => cache.overBy(),
        random: Math.random,
        intervalMs: EVICTION_INTERVAL_MS,
        onRound: (evicted, starved) => cache.onRound(evicted, starved),
      });
      this.#evictor = { evictor, cache };
    }
  }

  /** Opens (or recovers) the group's WAL, snapshot files and LMDB store, and rebuilds its Raft log from them.
   * Each opened part is pushed on `undo`, for a start that fails later. */
  static async open(
    context: ReplicaContext,
    membership: readonly NodeId[] | ConfState,
    undo: (() => Promise<void> | void)[],
  ): Promise<ShardReplica> {
    const { options, groupId } = context;
    const dir = groupDataDir(options.dataDir, groupId);
    // Files of an earlier incarnation of this member's replica are deleted first (replica-files.ts).
    if (await adoptReplicaId(options.dataDir, groupId, options.id, context.replicaId ?? options.id)) {
      options.logger.info({ shard: groupId, replica: context.replicaId }, "Deleted an earlier replica of this shard");
    }
    const opened = await Wal.open(join(dir, "wal"), {
      disk: new NodeDisk(),
      fsync: options.fsync,
      batchIntervalMs: options.fsyncBatchIntervalMs,
    });
    const { wal, state } = opened;
    undo.push(() => wal.close());
    const snapshots = new SnapshotFileStore(join(dir, "snapshots"));
    // LMDB commits are not fsynced: the WAL is the durable log (recover-state.ts says how a store that lost its
    // latest commits catches up).
    const store = openLmdbCommandStore(join(dir, "state"), {
      syncCommits: false,
      historyRevisionsMax: options.watchHistoryRevisionsMax ?? nodeDefaults.watchHistoryRevisionsMax,
      historyBytesMax: options.watchHistoryBytesMax ?? nodeDefaults.watchHistoryBytesMax,
    });
    undo.push(() => store.close());
    const storage = await recoverRaftStorage(state, snapshots, store, membership);
    return new ShardReplica(context, { wal, storage, snapshots, store });
  }

  /** Bytes in the group's WAL segment files. */
  get walSizeBytes(): number {
    return this.#wal.sizeBytes;
  }

  /** Ticks the group and starts its TTL expiry. */
  start(): void {
    this.host.start();
    this.#expiry.start();
    if (this.#evictor !== undefined) {
      const { evictor, cache } = this.#evictor;
      evictor.start();
      this.#unregisterEvictor = cache.addEvictor(() => evictor.kick());
    }
  }

  /** Stops the group; the node's transport is stopped after every group (shoal-node.ts). */
  async stop(): Promise<void> {
    this.watches.close();
    this.#expiry.stop();
    this.#evictor?.evictor.stop();
    this.#unregisterEvictor?.();
    await this.host.stop();
  }

  /** Closes the group's files once the transport is down. */
  async close(): Promise<void> {
    await this.#wal.close();
    await this.store.close();
  }
}
