/**
 * @module A Shoal node: a replica of each shard's Raft group that placement gives it (slots/placement.ts; every
 * shard when each is replicated on every member) — shard-replica.ts: its WAL, LMDB state machine, host loop — over
 * one peer transport (group-router.ts). This file is the wiring: it opens the parts in order, routes each request
 * to the shard its keys hash to (shard-routing.ts; keyless reads see every shard) — answered by this node's replica
 * or asked of a member holding one (shard-access.ts, remote-shard.ts) — and hands the front ends one object. What a
 * replica does lives beside it, one concern each: the key-value operations (client-operations.ts), getting writes and read barriers to the leader from any member (leader-forwarding.ts),
 * Redis commands and WATCH (redis-operations.ts, redis-watch.ts), requests between members (peer-rpc.ts), and
 * status and readiness (member-status.ts). Any node accepts any request: writes on a follower are forwarded to the
 * shard's leader, linearizable reads on a follower are confirmed through ReadIndex and served from the local state.
 */
import { mkdir } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Command, CommandResult } from "../commands/command.js";
import { checkKeySize } from "../commands/limits.js";
import type { ScanCursors } from "../commands/redis/command-spec.js";
import { executeCommands } from "../commands/redis/execute.js";
import type { Reply } from "../commands/redis/reply.js";
import type { ScanCursorTable } from "../commands/redis/scan-cursor-table.js";
import { keysOfArgvs } from "../commands/slot-ownership.js";
import { NODE_CLOCK } from "../io/node/clock.js";
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import { Prng } from "../lib/prng.js";
import { memberOfReplica } from "../lib/replica-id.js";
import type { RaftStatus, RawNode } from "../raft/raw-node.js";
import { type GroupId, NO_NODE, type NodeId } from "../raft/types.js";
import { ClusterLayout } from "../slots/cluster-layout.js";
import {
  type ClusterMap,
  emptyRetiringShard,
  withReplicaLeft,
  withReplicaMoved,
  withShardMerged,
  withShardRemoved,
  withShardSplit,
  withSlotsMigrating,
  withSlotsMoved,
} from "../slots/cluster-map.js";
import { commonSlot, hashSlot } from "../slots/hash-slot.js";
import { withMemberDraining, withRebalancePaused } from "../slots/membership.js";
import { Placement, placementProblem } from "../slots/placement.js";
import { type RebalanceDecision, type RebalancePlan, rebalancePlan } from "../slots/rebalance-plan.js";
import { SlotMap, type SlotRange } from "../slots/slot-map.js";
import { mergedKeyspaceReader } from "../store/merged-keyspace-reader.js";
import { mergedRange } from "../store/merged-range.js";
import type { KeyValue } from "../store/record.js";
import { askTarget, slotMigrating } from "../store/slot-states.js";
import type { StateMachineStore } from "../store/state-machine-store.js";
import type { PeerTransport } from "../transport/index.js";
import type { ClientOperations } from "./client-operations.js";
import { ClusterMapKeeper, META_GROUP_ID } from "./cluster-map-keeper.js";
import { DataDirLock } from "./data-dir-lock.js";
import { NO_MEMORY_LIMIT } from "./eviction/eviction-policy.js";
import { usedMemoryBytes } from "./eviction/memory-estimate.js";
import { addsMemory, NodeCache } from "./eviction/node-cache.js";
import { GroupRouter, groupTagged } from "./group-router.js";
import type { ClusterIdentity } from "./identity.js";
import { writeKnownMembers } from "./identity.js";
import { joinCluster, membersOnly } from "./join-cluster.js";
import { admitMember } from "./join-request.js";
import { keylessReadOverShards } from "./keyless-reads.js";
import { LeaderBalancer } from "./leader-balancer.js";
import type { AskPeer, LeaderForwarding } from "./leader-forwarding.js";
import { type MemberInfo, MemberStatus, type Readiness, shardLagOf } from "./member-status.js";
import { memberView } from "./member-view.js";
import { NodeLiveness } from "./node-liveness.js";
import { NodeMetrics } from "./node-metrics.js";
import type { MemberAddress, NodeOptions } from "./node-options.js";
import type { PeerChecks } from "./peer-checks.js";
import { answerPeerRequest } from "./peer-rpc.js";
import { PubSubHub } from "./pubsub-hub.js";
import type { RaftHost } from "./raft-host.js";
import { Rebalancer, type ShardFigures } from "./rebalancer.js";
import { liveReader, type RedisOperations, type RedisOutcome } from "./redis-operations.js";
import type { WatchTicket } from "./redis-watch.js";
import { answerShardCall, assertMajorityLive, RemoteShard } from "./remote-shard.js";
import { ReplicaMover } from "./replica-mover.js";
import {
  type HeavyReadRunner,
  type KeyRead,
  LocalShard,
  type ReplyProtocol,
  type ShardAccess,
} from "./shard-access.js";
import { ShardReplica } from "./shard-replica.js";
import { onlyFlushes, routeBatch, shardOfCommand } from "./shard-routing.js";
import { ShardSet } from "./shard-set.js";
import { isSlotLoadReport, mergeSlotLoads, SLOT_LOAD_WINDOW_MS, SlotLoad, type SlotLoadReport } from "./slot-load.js";
import { SlotMover } from "./slot-mover.js";
import type { WatchHub } from "./watch-hub.js";
import type { WriteOrder } from "./write-order.js";

export type { MemberInfo, Readiness } from "./member-status.js";
export type { RedisOutcome } from "./redis-operations.js";
export type { WatchTicket } from "./redis-watch.js";

/** The parts #open builds before the node itself. */
interface NodeParts {
  readonly meta: ShardReplica;
  readonly cache: NodeCache;
  readonly mapKeeper: ClusterMapKeeper;
  readonly layout: ClusterLayout;
  /** The replicas opened at start. */
  readonly replicas: Map<GroupId, ShardReplica>;
  /** Opens (or recovers) this node's replica of a shard, not started. */
  readonly openReplica: (groupId: GroupId) => Promise<ShardReplica>;
  readonly transport: PeerTransport;
  readonly metrics: NodeMetrics;
  readonly lock: DataDirLock;
  readonly identity: ClusterIdentity;
  readonly peerChecks: PeerChecks;
  readonly ask: AskPeer;
  readonly placement: Placement;
  readonly liveness: NodeLiveness;
  /** Every member's addresses (`options.members` is this map): members join and leave it. */
  readonly addressBook: Map<NodeId, MemberAddress>;
}
/** A shard as this node sees it (ShoalNode.shardStatuses). */
export interface ShardStatus {
  readonly id: GroupId;
  readonly slots: SlotRange[];
  /** The members that should hold it (the cluster map). */
  readonly replicaIds: readonly NodeId[];
  /** Members being moved off it, still holding a replica. */
  readonly leavingIds: readonly NodeId[];
  /** Its leader as this node knows it, 0 when unknown. */
  readonly leaderId: NodeId;
  /** Its group's term; 0 when this node holds no replica of it. */
  readonly term: number;
  /** Its group's Raft status, when this node holds a replica. */
  readonly raft: RaftStatus | undefined;
}

/** The members holding shard `id` now: those it should have and those still leaving it. */
function holdersOf(layout: ClusterLayout, id: GroupId): readonly NodeId[] {
  const leaving = layout.leavingOf(id);
  return leaving.length === 0 ? layout.replicasOf(id) : [...layout.replicasOf(id), ...leaving];
}

/** The cluster's placement (bootstrap.ts refused one that leaves a member without a shard before recording it). */
function placementOf(memberIds: readonly NodeId[], shardCount: number, replicationFactor: number): Placement {
  const problem = placementProblem(memberIds, shardCount, replicationFactor);
  if (problem !== undefined) throw new ShoalError("BAD_REQUEST", problem);
  return new Placement(memberIds, shardCount, replicationFactor);
}

/** How often the leader balancer looks (leader-balancer.ts). */
const LEADER_BALANCE_INTERVAL_MS = 1_000;
/** How often the rebalancer looks (rebalancer.ts). */
const REBALANCE_INTERVAL_MS = 1_000;
/** How long the rebalancer waits for the members' key counts. */
const SHARD_KEYS_TIMEOUT_MS = 1_000;
/** How often removed members are looked for (ShoalNode.#tidyMembers), and how long a removed node waits for the
 * meta group to stop counting it before it stops anyway. */
const MEMBERSHIP_CHECK_MS = 500;
const REMOVED_GRACE_MS = 10_000;
/** How long a keyed request waits for a slot being moved to take writes again (its keys are read-only while they
 * are copied to the new shard) before it answers SLOT_MIGRATING (Redis's TRYAGAIN, which cluster clients retry). */
const SLOT_MOVE_WAIT_MS = 2000;
const SLOT_MOVE_PAUSE_MS = 5;
/** How many times one request follows ASK to a next shard before it waits for the map (a slot moving on). */
const ASK_HOPS_MAX = 3;
/** How often the slot mover looks for a slot to move. */
const SLOT_MOVE_INTERVAL_MS = 100;
/** How often the replica mover looks (replica-mover.ts). */
const REPLICA_MOVE_INTERVAL_MS = 250;

export class ShoalNode {
  readonly options: NodeOptions;
  /** Which members held each shard when the cluster was created (epoch 1). */
  readonly placement: Placement;
  /** Which members hold each shard now: the newest cluster map this node follows. */
  readonly layout: ClusterLayout;
  readonly metrics: NodeMetrics;
  /** Cache mode: maxmemory, the eviction policy, and write admission over the limit (eviction/node-cache.ts). */
  readonly cache: NodeCache;
  /** Redis pub/sub: this node's subscribers, and delivery to every peer's. */
  readonly pubsub: PubSubHub;
  /** The cluster and member this node's data directory belongs to (identity.ts). */
  readonly identity: ClusterIdentity;
  readonly status: MemberStatus;
  readonly #shardSet: ShardSet;
  readonly #mover: ReplicaMover;
  /** Moves the slots the cluster map lists as moving, for the shards this node leads (slot-mover.ts). */
  readonly slotMover: SlotMover;
  readonly #rebalancer: Rebalancer;
  /** The keys this node routes per slot (slot-load.ts), its window ended by #slotLoadTimer. */
  readonly #slotLoad = new SlotLoad(Date.now());
  #slotLoadTimer: NodeJS.Timeout | undefined;
  readonly #addressBook: Map<NodeId, MemberAddress>;
  /** The rebalance plan of the map it was made from (rebalanceStatus). */
  #plan:
    | {
        readonly map: ClusterMap;
        readonly keys: ReadonlyMap<number, number> | undefined;
        readonly plan: RebalancePlan;
      }
    | undefined;
  #membershipTimer: NodeJS.Timeout | undefined;
  #removedAtMs: number | undefined;
  readonly #transport: PeerTransport;
  readonly #lock: DataDirLock;
  readonly #peerChecks: PeerChecks;
  readonly #liveness: NodeLiveness;
  readonly #balancer: LeaderBalancer | undefined;
  readonly #meta: ShardReplica;
  readonly #mapKeeper: ClusterMapKeeper;
  #heavyReads: HeavyReadRunner | undefined;

  private constructor(options: NodeOptions, parts: NodeParts) {
    this.options = options;
    this.cache = parts.cache;
    this.placement = parts.placement;
    this.layout = parts.layout;
    this.#meta = parts.meta;
    this.#mapKeeper = parts.mapKeeper;
    const liveness = parts.liveness;
    const layout = parts.layout;
    this.#shardSet = new ShardSet(
      {
        selfId: options.id,
        dataDir: options.dataDir,
        layout,
        open: parts.openReplica,
        local: (replica) => new LocalShard(replica, () => this.#heavyReads),
        remote: (id) =>
          new RemoteShard({
            id,
            replicaIds: () => holdersOf(layout, id),
            ask: parts.ask,
            isLive: (member) => liveness.isLive(member),
            requestTimeoutMs: options.requestTimeoutMs,
            slotsText: () => this.#slotsText(id),
          }),
        logger: options.logger,
      },
      parts.replicas,
    );
    const shardSet = this.#shardSet;
    const hosts = {
      *[Symbol.iterator](): Generator<readonly [GroupId, RaftHost]> {
        for (const [groupId, replica] of shardSet.replicas) yield [groupId, replica.host];
      },
    };
    this.#balancer =
      layout.shardCount > 1
        ? new LeaderBalancer(
            hosts,
            LEADER_BALANCE_INTERVAL_MS,
            (id) => liveness.isLive(memberOfReplica(id)),
            (groupId) => layout.preferredLeaderReplica(groupId),
          )
        : undefined;
    const meta = parts.meta;
    this.#mover = new ReplicaMover({
      layout,
      hosts: () => [[META_GROUP_ID, meta.host] as const, ...hosts],
      markLeft: (shardId, member) => this.#mapKeeper.update((map) => withReplicaLeft(map, shardId, member)),
      intervalMs: REPLICA_MOVE_INTERVAL_MS,
      logger: options.logger,
    });
    this.slotMover = new SlotMover({
      map: () => layout.map,
      replicaOf: (id) => shardSet.replicas.get(id),
      submitTo: (id, command) => this.#shard(id).submit(command),
      recordMoved: (slots) => this.#mapKeeper.update((map) => withSlotsMoved(map, slots)),
      // A shard merged away is dropped from the map once it holds no slot (by the meta group's leader).
      whenIdle: async () => {
        if (meta.host.raw.status().role !== "leader") return;
        const empty = emptyRetiringShard(layout.map);
        if (empty !== undefined) await this.#mapKeeper.update((map) => withShardRemoved(map, empty));
      },
      intervalMs: SLOT_MOVE_INTERVAL_MS,
      logger: options.logger,
    });
    this.#rebalancer = new Rebalancer({
      shardFigures: () => this.#shardFigures(),
      leadsMeta: () => meta.host.raw.status().role === "leader",
      map: () => layout.map,
      leaderOf: layout.leaderOf,
      update: (change) => this.#mapKeeper.update(change),
      intervalMs: REBALANCE_INTERVAL_MS,
      logger: options.logger,
    });
    this.metrics = parts.metrics;
    this.identity = parts.identity;
    this.#transport = parts.transport;
    this.#addressBook = parts.addressBook;
    this.#lock = parts.lock;
    this.#peerChecks = parts.peerChecks;
    this.#liveness = parts.liveness;
    const transport = parts.transport;
    this.status = new MemberStatus({
      options,
      raftStatus: () => memberView(this.#primary.host.raw.status()),
      appliedIndex: () => this.#primary.store.appliedIndex(),
      clusterId: () => parts.identity.clusterId,
      problems: () => [...parts.peerChecks.problems(), ...parts.mapKeeper.problems()],
      shardLag: () => (this.layout.shardCount === 1 ? undefined : shardLagOf(this.shardStatuses())),
      shardKeys: () => (this.layout.shardCount === 1 ? undefined : this.#ledShardKeys()),
      slotLoad: () => this.#slotLoadReport(),
      otherShards: () =>
        [...this.replicas.values()]
          .filter((replica) => replica !== this.#primary)
          .map((replica) => {
            const raft = memberView(replica.host.raw.status());
            return {
              id: replica.groupId,
              leaderId: raft.leaderId,
              commitIndex: raft.commitIndex,
              appliedIndex: replica.store.appliedIndex(),
            };
          }),
      ask: parts.ask,
    });
    this.pubsub = new PubSubHub(
      {
        peerIds: () => [...options.members.keys()].filter((id) => id !== options.id),
        request: (to, payload, timeoutMs) => transport.request(to, payload, timeoutMs),
      },
      Math.min(options.requestTimeoutMs, 1000),
    );
  }

  /**
   * Opens (or recovers) the node's data directory and joins the cluster. In this order: the directory's lock
   * (data-dir-lock.ts; nothing in the directory is read before it), the peer port, the directory's identity
   * (bootstrap.ts: a new member may wait here for the others), then each group's WAL, snapshots and LMDB
   * (shard-replica.ts). A failure at any step undoes the steps before it, so a refused start leaves nothing
   * running and nothing locked.
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

  static async #open(given: NodeOptions, lock: DataDirLock, undo: (() => Promise<void> | void)[]): Promise<ShoalNode> {
    const {
      transport,
      identity,
      members,
      seen,
      checks: peerChecks,
      answerIdentity,
    } = await joinCluster(
      given,
      [...given.members.keys()].sort((a, b) => a - b),
      undo,
    );
    // The node's own address book: members that join later are added to it (#learnMembers), and every part that
    // reads `options.members` (status, pub/sub, Redis Cluster replies) sees them.
    const addressBook = new Map(members);
    const options: NodeOptions = { ...given, members: addressBook };
    const peerNetwork = membersOnly(transport, seen, peerChecks);
    const liveness = new NodeLiveness({
      selfId: options.id,
      peerIds: [...addressBook.keys()].filter((id) => id !== options.id),
      clock: NODE_CLOCK,
      pingIntervalMs: options.tickMs * options.heartbeatIntervalTicks,
      silentAfterMs: options.tickMs * options.electionTimeoutTicks,
      send: (messages) => peerNetwork.send(messages),
    });
    const groups = new GroupRouter(peerNetwork, options.logger, liveness);
    // A leader's id is its replica's (lib/replica-id.ts): requests go to its member.
    const ask: AskPeer = (to, request, timeoutMs, abandon, ordered) =>
      transport.request(memberOfReplica(to), request, timeoutMs, abandon, ordered);
    const peerLive = (id: NodeId): boolean => liveness.isLive(memberOfReplica(id));
    // The gauges read the node's primary replica, opened below: they run only when scraped, long after it exists.
    let built: ShoalNode | undefined;
    // What counts against maxmemory: the data shards held here (not the meta group's cluster map).
    const cache = new NodeCache(options.memoryLimit ?? NO_MEMORY_LIMIT, () =>
      built === undefined ? 0 : usedMemoryBytes([...built.replicas.values()].map((replica) => replica.store.stats())),
    );
    const primary = (): ShardReplica => {
      assert(built !== undefined, "metrics are scraped once the node is open");
      return built.#primary;
    };
    const metrics = new NodeMetrics(
      {
        raftStatus: () => memberView(primary().host.raw.status()),
        hostCounters: () => primary().host.counters,
        shards: () =>
          [...replicas.values()].map((replica) => ({
            id: replica.groupId,
            raft: memberView(replica.host.raw.status()),
            appliedIndex: replica.store.appliedIndex(),
            keyCount: replica.store.stats().keyCount,
          })),
        // Sizes are the node's, summed over its shards (a dashboard's "keys on this node"); positions (revision,
        // applied index) are the first shard's — they count in one group only (shoal_shard_* has every shard's).
        storeStats: () => {
          const store = primary().store;
          let keyCount = 0;
          let sizeBytes = 0;
          let fileSizeBytes = 0;
          for (const replica of replicas.values()) {
            const stats = replica.store.stats();
            keyCount += stats.keyCount;
            sizeBytes += stats.sizeBytes;
            fileSizeBytes += replica.store.fileSizeBytes();
          }
          return { keyCount, sizeBytes, revision: store.revision(), appliedIndex: store.appliedIndex(), fileSizeBytes };
        },
        historyStats: () => primary().store.historyStats(),
        watchStats: () => primary().watches.stats(),
        memory: () => ({
          usedBytes: cache.usedBytes(),
          maxmemoryBytes: cache.limits.settings.maxmemoryBytes,
          evictedKeys: cache.evictedKeys,
        }),
        walSizeBytes: () => [...replicas.values()].reduce((sum, replica) => sum + replica.walSizeBytes, 0),
        layout: () => {
          assert(built !== undefined, "metrics are scraped once the node is open");
          let snapshotBytesSent = built.#meta.host.counters.snapshotBytesSent;
          for (const replica of replicas.values()) snapshotBytesSent += replica.host.counters.snapshotBytesSent;
          return {
            epoch: built.layout.epoch,
            moves: built.#mover.counters,
            rebalance: built.#rebalancer.counters,
            snapshotBytesSent,
            slotMoves: built.slotMover.counters,
            slotsMoving: built.layout.map.migrations?.length ?? 0,
          };
        },
      },
      { node: String(options.id) },
    );
    const slotMap = new SlotMap(identity.shardCount);
    const placement = placementOf(identity.memberIds, identity.shardCount, identity.replicationFactor);
    const layout = new ClusterLayout(slotMap, placement);
    // The meta group first: a replica on every member, holding the cluster map (cluster-map-keeper.ts), which says
    // which shards this node holds now — replicas may have moved since the cluster was created.
    const meta = await ShardReplica.open(
      {
        options,
        groupId: META_GROUP_ID,
        network: groups.networkOf(META_GROUP_ID),
        ask: groupTagged(ask, META_GROUP_ID),
        peerLive,
      },
      // Every member the cluster was created with; a member that joined later starts as a learner (join-request.ts).
      identity.memberIds.includes(options.id)
        ? identity.memberIds
        : { voters: [...identity.memberIds], learners: [options.id] },
      undo,
    );
    const learnMembers = (): void => {
      for (const [key, address] of Object.entries(layout.map.joined ?? {})) {
        const id = Number(key);
        if (addressBook.has(id)) continue;
        try {
          transport.setPeer(id, address.peer);
        } catch (error) {
          // Checked when the member was admitted (join-request.ts); a map recorded otherwise must not stop this node.
          options.logger.error({ err: error, member: id }, "A joined member's address cannot be dialled");
          continue;
        }
        addressBook.set(id, address);
        liveness.addPeer(id);
        options.logger.info({ member: id, peer: address.peer }, "A member joined");
        // A node that joined restarts from the members it knows when the one it joins through is down.
        if (options.join !== undefined) writeKnownMembers(options.dataDir, addressBook);
      }
    };
    const mapKeeper = new ClusterMapKeeper(meta, layout, options.logger, () => {
      learnMembers();
      if (built !== undefined) void built.#shardSet.follow();
    });
    mapKeeper.check(); // the map as this node's meta replica last applied it (it catches up once started)
    if (layout.map.removed?.includes(options.id) === true) {
      throw new ShoalError(
        "BAD_REQUEST",
        `Node ${options.id} was removed from this cluster: its data directory cannot serve again. Start a new node ` +
          "with an empty data directory and a new --id, with --join",
      );
    }
    learnMembers();
    const openReplica = (groupId: GroupId, opening: (() => Promise<void> | void)[], first = false) =>
      ShardReplica.open(
        {
          options,
          groupId,
          network: groups.networkOf(groupId),
          ask: groupTagged(ask, groupId),
          peerLive,
          ...(first ? { metrics } : {}),
          replicaId: layout.replicaIdOf(groupId, options.id),
          cache,
        },
        // The membership an empty replica starts from: the group's at creation for a member it was created with,
        // else one that makes this node a learner until the group's own log says otherwise (cluster-layout.ts).
        layout.createdWith(groupId, options.id)
          ? { voters: layout.createdVoters(groupId), learners: [] }
          : layout.joiningMembership(groupId, options.id),
        opening,
      );
    const hosted = layout.shardsOf(options.id);
    const replicas = new Map<GroupId, ShardReplica>();
    for (const groupId of hosted) replicas.set(groupId, await openReplica(groupId, undo, groupId === hosted[0]));
    const node = new ShoalNode(options, {
      addressBook,
      meta,
      cache,
      mapKeeper,
      layout,
      replicas,
      openReplica: async (groupId) => {
        const opening: (() => Promise<void> | void)[] = [];
        try {
          return await openReplica(groupId, opening);
        } catch (error) {
          for (const step of opening.reverse()) await step();
          throw error;
        }
      },
      transport,
      metrics,
      lock,
      identity,
      peerChecks,
      ask,
      placement,
      liveness,
    });
    built = node;
    const logger: Logger = options.logger;
    const replicaOf = (groupId: GroupId): ShardReplica => {
      const replica = groupId === META_GROUP_ID ? meta : node.replicas.get(groupId);
      // Not held here (any more, or yet: a replica moved): nothing was written, so the sender may retry elsewhere.
      if (replica === undefined) {
        throw new ShoalError("UNAVAILABLE", `Node ${options.id} holds no replica of group ${groupId} now`);
      }
      return replica;
    };
    transport.onRequest(async (from, payload) =>
      answerPeerRequest(
        {
          propose: (data, groupId) => replicaOf(groupId).host.propose(data),
          info: () => node.status.memberInfo(),
          // One table per node issues SCAN cursors (the first hosted group's), whatever group a request names.
          scanCursorPosition: (cursor) => node.scanCursors.positionOf(cursor),
          identity: answerIdentity,
          pubsub: (request) => node.pubsub.answer(request),
          shard: (groupId, call) => {
            const shard = node.shards.get(groupId);
            if (!(shard instanceof LocalShard))
              throw new ShoalError("UNAVAILABLE", `Node ${options.id} holds no replica of shard ${groupId} now`);
            return answerShardCall(shard, call);
          },
          join: (request) =>
            admitMember(
              {
                identity,
                map: () => layout.map,
                addresses: () => addressBook,
                updateMap: (change) => mapKeeper.update(change),
              },
              request,
            ),
        },
        logger,
        from,
        payload,
      ),
    );
    transport.onPeerRefused((peerId) => {
      for (const replica of node.replicas.values()) replica.host.leaderGone(peerId);
      meta.host.leaderGone(peerId);
    });
    liveness.start();
    for (const replica of replicas.values()) replica.start();
    meta.start();
    mapKeeper.start();
    node.#balancer?.start();
    node.#mover.start();
    node.slotMover.start();
    node.#rebalancer.start();
    node.#slotLoadTimer = setInterval(() => node.#slotLoad.rotate(Date.now()), SLOT_LOAD_WINDOW_MS);
    node.#slotLoadTimer.unref();
    node.#membershipTimer = setInterval(() => node.#tidyMembers(), MEMBERSHIP_CHECK_MS);
    node.#membershipTimer.unref();
    void node.#shardSet.follow(); // a map learnt at start that gives or takes a shard
    peerChecks.start();
    node.status.start();
    return node;
  }

  async stop(): Promise<void> {
    this.#liveness.stop();
    this.#balancer?.stop();
    this.#peerChecks.stop();
    this.status.stop();
    this.#mapKeeper.stop();
    this.#mover.stop();
    this.slotMover.stop();
    this.#rebalancer.stop();
    clearInterval(this.#slotLoadTimer);
    clearInterval(this.#membershipTimer);
    await this.#shardSet.stop();
    for (const replica of this.replicas.values()) await replica.stop();
    await this.#meta.stop();
    await this.#transport.stop();
    for (const replica of this.replicas.values()) await replica.close();
    await this.#meta.close();
    this.#lock.release();
  }

  /** This node's replica of each Raft group it hosts, by group id: shard s is group s (changes as replicas move). */
  get replicas(): ReadonlyMap<GroupId, ShardReplica> {
    return this.#shardSet.replicas;
  }

  /** Every shard, by id: this node's replica of it, or the members that hold it (shard-access.ts). */
  get shards(): ReadonlyMap<GroupId, ShardAccess> {
    return this.#shardSet.shards;
  }

  /** The replica the node-wide parts use (SCAN cursors, the single-shard paths, the first group's figures): this
   * node's replica of its lowest shard, or the meta group's when replica moves left it none. */
  get #primary(): ShardReplica {
    let primary: ShardReplica | undefined;
    for (const [groupId, replica] of this.#shardSet.replicas) {
      if (primary === undefined || groupId < primary.groupId) primary = replica;
    }
    return primary ?? this.#meta;
  }

  get store(): StateMachineStore {
    return this.#primary.store;
  }

  /** Every watch this node serves on a single shard, fed by the host after each apply. */
  get watches(): WatchHub {
    return this.#primary.watches;
  }

  /** Writes and read barriers from any member (the host's leadership changes reach it first). */
  get forwarding(): LeaderForwarding {
    return this.#primary.forwarding;
  }

  get client(): ClientOperations {
    return this.#primary.client;
  }

  get redis(): RedisOperations {
    return this.#primary.redis;
  }

  /** Splits shard `id` in two: a new shard on the same members takes the upper part of its slots (about half its
   * keys, as this node's replica counts them when it holds one). Resolves with the map recorded. */
  splitShard(id: GroupId): Promise<ClusterMap> {
    const replica = this.replicas.get(id);
    const keysOf = (slot: number): number => replica?.store.countKeysInSlot(slot) ?? 0;
    return this.#mapKeeper.update((map) => withShardSplit(map, id, keysOf));
  }

  /** Merges shard `id` into shard `into`: its slots move there, then the map drops it. */
  mergeShard(id: GroupId, into: GroupId): Promise<ClusterMap> {
    return this.#mapKeeper.update((map) => withShardMerged(map, id, into));
  }

  /** Records in the cluster map that `slots` move to shard `to` (the shards' leaders then move them: slot-mover.ts). */
  moveSlots(slots: readonly number[], to: GroupId): Promise<ClusterMap> {
    return this.#mapKeeper.update((map) => withSlotsMigrating(map, slots, to));
  }

  /**
   * Moves shard `shardId`'s replica from member `from` to member `to`: records the move in the cluster map (the
   * next epoch), after which `to` opens an empty replica and the shard's leader takes it through learner, catch-up
   * and promotion before it removes `from` (replica-mover.ts). Resolves with the map recorded, before the move is
   * done. Throws BAD_REQUEST for a move that makes no sense (slots/cluster-map.ts withReplicaMoved says why).
   */
  moveReplica(shardId: GroupId, from: NodeId, to: NodeId): Promise<ClusterMap> {
    return this.#mapKeeper.update((map) => withReplicaMoved(map, shardId, from, to));
  }

  /** Marks member `id` for removal (`shoal node remove`): the rebalancer moves its replicas away, then removes it
   * (rebalancer.ts). Resolves with the map recorded. Throws BAD_REQUEST when the others could not hold every
   * shard (slots/membership.ts withMemberDraining says why). */
  removeMember(id: NodeId): Promise<ClusterMap> {
    return this.#mapKeeper.update((map) => withMemberDraining(map, id));
  }

  /** Pauses or resumes the rebalancer (drains go on while paused). */
  setRebalancePaused(paused: boolean): Promise<ClusterMap> {
    return this.#mapKeeper.update((map) => withRebalancePaused(map, paused));
  }

  /** What the rebalancer does next and the whole plan (as if it ran) from the map this node follows. */
  rebalanceStatus(): { readonly decision: RebalanceDecision; readonly plan: RebalancePlan } {
    const map = this.layout.map;
    // Planned once per map (each step scans the shards: ~35 ms for 256 shards grown from 3 to 9 members), however
    // often it is asked (`shoal rebalance` polls twice a second). The plan is what the rebalancer would do running:
    // a paused one still shows its work to come.
    // Slot steps show on the meta group's leader only: it reads the shards' key counts.
    const keys = this.#rebalancer.keyCounts;
    if (this.#plan?.map !== map || this.#plan.keys !== keys) {
      const load = this.#rebalancer.shardLoads;
      const plan = rebalancePlan(withRebalancePaused(map, false), this.layout.leaderOf, keys, undefined, load);
      this.#plan = { map, keys, plan };
    }
    return { decision: this.#rebalancer.decision(), plan: this.#plan.plan };
  }

  /**
   * Members removed from the cluster: once the meta group no longer counts one, this node stops dialling it; and
   * when this node is the one removed, it asks its process to stop (NodeOptions.onRemoved) once its meta replica
   * no longer counts it either (or after REMOVED_GRACE_MS, should it never hear of that).
   */
  #tidyMembers(): void {
    const { removed = [] } = this.layout.map;
    if (removed.length === 0) return;
    const self = this.options.id;
    const { voters, learners } = this.#meta.host.raw.status().confState;
    const counted = (id: NodeId): boolean => voters.includes(id) || learners.includes(id);
    if (removed.includes(self)) {
      this.#removedAtMs ??= Date.now();
      if (counted(self) && Date.now() - this.#removedAtMs < REMOVED_GRACE_MS) return;
      clearInterval(this.#membershipTimer);
      this.options.logger.warn({ node: self }, "This node was removed from the cluster; stopping");
      this.options.onRemoved?.();
      return;
    }
    for (const id of removed) {
      if (counted(id) || !this.#addressBook.delete(id)) continue;
      this.#transport.removePeer(id);
      this.#liveness.removePeer(id);
      this.options.logger.info({ member: id }, "A member was removed");
      if (this.options.join !== undefined) writeKnownMembers(this.options.dataDir, this.#addressBook);
    }
  }

  /** How this node runs heavy reads asked by members that lack the shard (the RESP server's read workers). */
  setHeavyReads(runner: HeavyReadRunner): void {
    this.#heavyReads = runner;
  }

  /** The stored key count of each shard this node leads. */
  #ledShardKeys(): Record<string, number> {
    const keys: Record<string, number> = {};
    for (const [id, replica] of this.replicas) {
      if (replica.host.raw.status().role === "leader") keys[String(id)] = replica.store.stats().keyCount;
    }
    return keys;
  }

  /**
   * What slot steps are decided on, from one round of member infos: every shard's stored key count as its leader
   * reports it (this node's own, the others' through their info; undefined when a shard's leader did not answer —
   * the rebalancer then leaves slots alone), and the cluster's load, every member's slot-load report summed (one
   * that does not answer adds nothing: the thresholds are ratios and bounds, an underestimate only delays a step).
   */
  async #shardFigures(): Promise<ShardFigures> {
    const counts = new Map(Object.entries(this.#ledShardKeys()).map(([id, n]) => [Number(id), n] as const));
    const infos = [...(await this.memberInfos(SHARD_KEYS_TIMEOUT_MS)).values()];
    for (const info of infos) {
      for (const [id, n] of Object.entries(info?.shardKeys ?? {}))
        if (!counts.has(Number(id))) counts.set(Number(id), n);
    }
    const reports = infos.map((info) => (isSlotLoadReport(info?.slotLoad) ? info.slotLoad : undefined));
    return {
      keys: this.layout.map.shards.every((shard) => counts.has(shard.id)) ? counts : undefined,
      load: this.layout.shardCount === 1 ? undefined : mergeSlotLoads([this.#slotLoadReport(), ...reports]),
    };
  }

  /** This node's slot-load report (slot-load.ts), each slot given to the shard the map has it in now. */
  #slotLoadReport(): SlotLoadReport | undefined {
    return this.layout.shardCount === 1 ? undefined : this.#slotLoad.report(this.slotMap);
  }

  /** Which shard owns each hash slot now (the cluster map's: slots move between shards). */
  get slotMap(): SlotMap {
    return this.layout.slotMap;
  }

  /** The cluster map's epoch as the meta group recorded it; 0 until this node's replica holds it. */
  get mapEpoch(): number {
    return this.#mapKeeper.epoch;
  }

  /** The meta group's Raft status as this node's replica sees it. */
  metaStatus(): RaftStatus {
    return this.#meta.host.raw.status();
  }

  /** This node's replica of the shard that owns `key`'s hash slot; undefined when it holds none of that shard. */
  replicaOfKey(key: Uint8Array): ShardReplica | undefined {
    if (this.replicas.size === 1 && this.layout.shardCount === 1) return this.#primary; // no CRC16 per key
    return this.replicaOfSlot(hashSlot(key));
  }

  /** Each shard: its slots, its replicas, its leader and term as this node knows them, and its Raft status when
   * this node holds a replica (a shard held elsewhere shows the leader last heard of, term unknown: 0). */
  shardStatuses(): ShardStatus[] {
    return [...this.shards.values()].map((shard) => {
      const own = shard.replica?.host.raw.status();
      const raft = own === undefined ? undefined : memberView(own);
      return {
        id: shard.id,
        slots: this.slotMap.rangesOf(shard.id),
        replicaIds: this.layout.replicasOf(shard.id),
        leavingIds: this.layout.leavingOf(shard.id),
        leaderId: raft?.leaderId ?? memberOfReplica(shard.leaderId()),
        term: raft?.term ?? 0,
        raft,
      };
    });
  }

  /**
   * The shards a watch on `prefix` follows, in shard order: the only one on a node of a single shard; on several,
   * the one of the prefix's hash slot when the prefix begins with a whole `{hash tag}` (every such key shares the
   * tag's slot), else every shard (their events are merged: node/merged-watcher.ts; a shard held elsewhere is
   * long-polled from a member holding it: node/remote-watcher.ts).
   */
  shardsOfPrefix(prefix: Uint8Array): ShardAccess[] {
    if (this.layout.shardCount === 1) return [this.#shard(1)];
    const open = prefix.indexOf(0x7b);
    const close = open === 0 ? prefix.indexOf(0x7d, 1) : -1;
    if (close > 1) return [this.#shardOfKeyAccess(prefix.subarray(0, close + 1))];
    return this.#allShards();
  }

  /** This node's replica of the shard owning `slot`; undefined when it holds none of that shard. */
  replicaOfSlot(slot: number): ShardReplica | undefined {
    return this.replicas.get(this.slotMap.shardOf(slot));
  }

  /** Shard `id`, refused at once with CLUSTER_DOWN when a majority of its replicas is unreachable (on a cluster of
   * several shards: the others keep serving; one shard answers as a single group always did). */
  #shard(id: GroupId): ShardAccess {
    // A node removed from the cluster holds nothing and hears from no one while it stops: its clients go elsewhere
    // (UNAVAILABLE: nothing was done, any other member answers), never to its view of who is down.
    if (this.layout.map.removed?.includes(this.options.id) === true) {
      throw new ShoalError("UNAVAILABLE", `Node ${this.options.id} was removed from the cluster; ask another member`);
    }
    const shard = this.shards.get(id);
    assert(shard !== undefined, "every shard has an access");
    if (this.layout.shardCount > 1) {
      assertMajorityLive(
        id,
        holdersOf(this.layout, id),
        (member) => this.#liveness.isLive(member),
        () => this.#slotsText(id),
      );
    }
    return shard;
  }

  #shardOfKeyAccess(key: Uint8Array): ShardAccess {
    return this.#shard(this.layout.shardCount === 1 ? 1 : this.shardOfKey(key));
  }

  /** Every shard, in order (each checked as #shard does). */
  #allShards(): ShardAccess[] {
    return this.slotMap.shards().map((id) => this.#shard(id));
  }

  /** Shard `id`'s slots as text, for messages: "0-5460" or "0-10, 20-30". */
  #slotsText(id: GroupId): string {
    return this.slotMap
      .rangesOf(id)
      .map(({ from, to }) => (from === to ? String(from) : `${from}-${to}`))
      .join(", ");
  }

  // ---- What the front ends call: each is one of the parts above (kept here so they take one object). ----

  /** Whether cache mode has a limit to keep (then requests record their keys' uses and writes are admitted). */
  #cacheLimited(): boolean {
    return this.cache.limits.settings.maxmemoryBytes > 0;
  }

  /** Records uses of `keys` for LRU/LFU eviction, and refuses a write that may add memory while the node is over
   * maxmemory and nothing can be evicted (OOM, Redis's rule; NodeCache.admitWrite). */
  #useKeys(keys: readonly Uint8Array[], addsMemory: boolean): void {
    this.cache.touch(keys, Date.now());
    if (addsMemory) this.cache.admitWrite();
  }

  async put(key: Uint8Array, value: Uint8Array, ttlMs?: number): Promise<CommandResult> {
    if (this.#cacheLimited()) this.#useKeys([key], true);
    const command: Command =
      ttlMs === undefined
        ? { op: "put", key, value, nowMs: Date.now() }
        : { op: "put", key, value, nowMs: Date.now(), ttlMs };
    return this.#submitFollowingMoves(
      () => this.#shardOfKeyAccess(key),
      command,
      () => hashSlot(key),
    );
  }

  delete(key: Uint8Array): Promise<CommandResult> {
    const command: Command = { op: "delete", key, nowMs: Date.now() };
    return this.#submitFollowingMoves(
      () => this.#shardOfKeyAccess(key),
      command,
      () => hashSlot(key),
    );
  }

  async get(key: Uint8Array, stale = false): Promise<KeyValue | undefined> {
    return (await this.getWithRevision(key, stale)).kv;
  }

  /** `get`, with the revision of the key's shard the read saw (wherever the shard is held). */
  async getWithRevision(key: Uint8Array, stale = false): Promise<KeyRead> {
    checkKeySize(key); // a key no write can store is refused, as every front end refuses it
    if (this.#cacheLimited()) this.#useKeys([key], false);
    return this.#followingMoves(
      () => this.#shardOfKeyAccess(key),
      (shard) => shard.get(key, stale),
      { slot: () => hashSlot(key), splittable: false },
    );
  }

  /** A key-value command through #followingMoves: a slot move's refusal comes back as an error result (the log
   * refused the entry), which is followed or retried like a thrown one. */
  async #submitFollowingMoves(
    locate: () => ShardAccess,
    command: Command,
    slot: () => number | undefined,
  ): Promise<CommandResult> {
    return this.#followingMoves(
      locate,
      async (shard) => {
        const result = await shard.submit(command);
        if (result.kind === "error" && (result.code === "ASK" || result.code === "SLOT_MIGRATING")) {
          throw new ShoalError(result.code, result.message);
        }
        return result;
      },
      { slot, splittable: false },
    );
  }

  /**
   * Runs a keyed operation on the shard `locate` finds, following slot moves (docs/architecture.md "Moving slots
   * between shards"): an ASK is asked again of the shard it names (up to ASK_HOPS_MAX times: a slot may have
   * moved on); SLOT_MIGRATING (a write to a slot whose keys are being copied: read-only for the moment of the copy)
   * is tried again after a pause, up to SLOT_MOVE_WAIT_MS, then answered (Redis's TRYAGAIN). Both mean the shard
   * refused the whole request with nothing done (commands/slot-ownership.ts), so a write is retried as safely as a
   * read. `slot`: the one slot every key of the request lies in (undefined: several). A request over several slots
   * cannot follow an ASK (the new shard holds only that slot): a `splittable` one (a pipelined run, not a
   * transaction) fails with SlotsSplit for the caller to run its commands one by one, and so does one whose route
   * now spans shards (CROSS_SLOT); any other waits for the map to say where the slot went. A read also goes
   * through #readWhereHeld (its replica moved away under it).
   */
  async #followingMoves<T>(
    locate: () => ShardAccess,
    run: (shard: ShardAccess) => Promise<T>,
    request: {
      readonly slot: () => number | undefined;
      readonly splittable: boolean;
      /** False once a write may no longer be sent again (write-order.ts): the error is answered as it is. */
      readonly mayResend?: () => boolean;
    },
  ): Promise<T> {
    const deadline = Date.now() + SLOT_MOVE_WAIT_MS;
    let asked: ShardAccess | undefined;
    let hops = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const target = asked;
        return target === undefined ? await this.#readWhereHeld(locate, run, request.mayResend) : await run(target);
      } catch (error) {
        if (!(error instanceof ShoalError)) throw error;
        if (request.mayResend?.() === false) {
          // Not sent again (write-order.ts): a move's refusal is answered as the TRYAGAIN it is to a client.
          const ask = askTarget(error);
          if (ask !== undefined) throw slotMigrating(ask.slot);
          if (error.code === "CROSS_SLOT" && attempt > 0) throw pipelinedRunSplit();
          throw error;
        }
        // Routed afresh after a move, the request's keys now lie in several shards.
        if (error.code === "CROSS_SLOT" && attempt > 0 && request.splittable) throw new SlotsSplit();
        const ask = askTarget(error);
        // Computed only now: the keys' slots cost a pass over the request, which only a move needs.
        const oneSlot = ask !== undefined && request.slot() === ask.slot;
        if (ask !== undefined && !oneSlot && request.splittable) throw new SlotsSplit();
        if (ask !== undefined && oneSlot && hops < ASK_HOPS_MAX && this.shards.has(ask.shard)) {
          hops++;
          asked = this.#shard(ask.shard);
          continue;
        }
        if ((error.code !== "SLOT_MIGRATING" && error.code !== "ASK") || Date.now() >= deadline) {
          // An ASK names a shard by id: never a client's answer (they are told TRYAGAIN, and retry).
          throw ask === undefined ? error : slotMigrating(ask.slot);
        }
        asked = undefined; // the map may have moved on: route afresh
        hops = 0;
        await sleep(Math.min(SLOT_MOVE_PAUSE_MS * 2 ** Math.min(attempt, 4), 100));
      }
    }
  }

  /**
   * Runs a read on the shard `locate` finds, and once more on the shard's new access when it fails UNAVAILABLE
   * because this node's replica was deleted under it (it moved away: shard-set.ts swaps the access first, then stops
   * the replica, failing what waits on it). Reads only: a write's outcome may be unknown, never retried here.
   */
  async #readWhereHeld<T>(
    locate: () => ShardAccess,
    read: (shard: ShardAccess) => Promise<T>,
    mayResend?: () => boolean,
  ): Promise<T> {
    const shard = locate();
    try {
      return await read(shard);
    } catch (error) {
      if (!(error instanceof ShoalError && error.code === "UNAVAILABLE") || mayResend?.() === false) throw error;
      const now = locate();
      if (now === shard) throw error;
      return read(now);
    }
  }

  /** Keys with `prefix` after `after`, in bytewise order across every shard (each shard's part linearizable unless
   * `stale`; on several shards the page is not one snapshot). */
  async range(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, stale = false): Promise<KeyValue[]> {
    if (this.#holdsTheOnlyShard()) return this.client.range(prefix, after, limit, stale);
    checkKeySize(prefix);
    if (after !== undefined) checkKeySize(after);
    const shards = this.#allShards();
    if (this.#holdsEveryShard()) {
      await Promise.all(shards.map((shard) => shard.replica?.client.linearize(stale)));
      const stores = shards.map((shard) => (shard.replica as ShardReplica).store);
      const nowMs = Date.now();
      return mergedRange(
        stores.map((store) => ({ range: async (p, a, l) => store.range(p, a, l, nowMs) })),
        prefix,
        after,
        limit,
      );
    }
    // Shards held elsewhere answer page by page, each page behind its shard's ReadIndex unless `stale`.
    return mergedRange(
      shards.map((shard) => ({ range: (p, a, l) => shard.range(p, a, l, stale) })),
      prefix,
      after,
      limit,
    );
  }

  /** Submits a key-value command to the shard its keys share (CROSS_SHARD when they span several). */
  async submit(command: Command): Promise<CommandResult> {
    if (this.#cacheLimited() && command.op !== "slot") {
      this.#useKeys(commandKeysOf(command), command.op === "put" || command.op === "txn");
    }
    if (this.#holdsTheOnlyShard()) return this.client.submit(command);
    return this.#submitFollowingMoves(
      () => this.#shard(shardOfCommand(command, (key) => this.shardOfKey(key)) ?? 1),
      command,
      () => (command.op === "slot" ? undefined : commonSlot(commandKeysOf(command))),
    );
  }

  /** Waits until every shard's state reflects every write acknowledged before the call (here, or on the member
   * that answers for a shard held elsewhere). */
  async readBarrier(): Promise<void> {
    await Promise.all(this.#allShards().map((shard) => shard.readBarrier()));
  }

  get scanCursors(): ScanCursorTable {
    return this.redis.scanCursors;
  }

  /** The shard a key's slot belongs to. */
  shardOfKey(key: Uint8Array): number {
    const slot = hashSlot(key);
    this.#slotLoad.record(slot);
    return this.slotMap.shardOf(slot);
  }

  /** Whether the cluster has one shard and this node holds it: the single-group paths skip routing (a node that
   * joined and holds no replica goes through the generic one). */
  #holdsTheOnlyShard(): boolean {
    return this.layout.shardCount === 1 && this.replicas.has(1);
  }

  /** Whether this node holds a replica of every shard (then keyless reads merge local stores in one pass). */
  #holdsEveryShard(): boolean {
    return this.replicas.size === this.layout.shardCount;
  }

  /** The shard a batch addresses (shard-routing.ts), or undefined when every command of it is keyless and the
   * cluster has several shards (answered by all of them). Throws CROSS_SLOT for a batch over several shards. */
  #route(argvs: readonly (readonly Uint8Array[])[], watchedKeys: readonly Uint8Array[] = []): ShardAccess | undefined {
    if (this.layout.shardCount === 1) return this.#shard(1);
    const shard = routeBatch(argvs, watchedKeys, (key) => this.shardOfKey(key));
    return shard === undefined ? undefined : this.#shard(shard);
  }

  /** Redis data commands through the log as one entry. `atomic`: a transaction (EXEC), never split; a pipelined
   * run (false) whose slots a move separates is run command by command instead. */
  async runRedis(
    argvs: readonly (readonly Uint8Array[])[],
    watches?: readonly WatchTicket[],
    atomic = true,
    order?: WriteOrder,
  ): Promise<RedisOutcome> {
    const watchedKeys = (watches ?? []).map((watch) => watch.key);
    if (this.#cacheLimited()) this.#useKeys(keysOfArgvs(argvs), addsMemory(argvs));
    const shard = this.#route(argvs, watchedKeys);
    if (shard !== undefined) {
      try {
        return await this.#followingMoves(
          () => this.#route(argvs, watchedKeys) as ShardAccess,
          (each) => each.runRedis(argvs, watches, order),
          {
            slot: () => commonSlot([...keysOfArgvs(argvs), ...watchedKeys]),
            splittable: !atomic && argvs.length > 1,
            mayResend: () => order?.laterSent !== true,
          },
        );
      } catch (error) {
        if (!(error instanceof SlotsSplit)) throw error;
        // Run again command by command it would land after the connection's later runs (write-order.ts).
        if (order?.laterSent === true) throw pipelinedRunSplit();
        // In order, each on its own: a pipeline's commands are independent, as Redis Cluster runs them.
        const replies: Reply[] = [];
        for (const argv of argvs) {
          try {
            replies.push(...(await this.runRedis([argv], undefined, true)).replies);
          } catch (each) {
            replies.push(errorReplyOf(each));
          }
        }
        return { aborted: false, replies };
      }
    }
    if (!onlyFlushes(argvs)) {
      throw new ShoalError(
        "CROSS_SLOT",
        "Commands without a key (KEYS, SCAN, DBSIZE, FLUSHALL…) cannot run in a transaction on a cluster of several shards",
      );
    }
    // FLUSHALL on several shards: each shard empties atomically, in its own log; together they are not one step.
    const outcomes = await Promise.all(
      this.#allShards().map((each) =>
        this.#followingMoves(
          () => each,
          (one) => one.runRedis(argvs),
          { slot: () => undefined, splittable: false },
        ),
      ),
    );
    return outcomes[0] as RedisOutcome;
  }

  /** Readonly Redis commands (after the ReadIndex barrier unless `stale`). `protocol`: the client's RESP version,
   * for a heavy read a member holding the shard computes on its read worker (its replies come back encoded). */
  async readRedis(
    argvs: readonly (readonly Uint8Array[])[],
    stale: boolean,
    cursors: ScanCursors,
    protocol?: ReplyProtocol,
  ): Promise<Reply[]> {
    if (this.#cacheLimited()) this.#useKeys(keysOfArgvs(argvs), false);
    const routed = this.#route(argvs);
    if (routed !== undefined) {
      try {
        return await this.#followingMoves(
          () => this.#route(argvs) as ShardAccess,
          (shard) =>
            shard.replica === undefined
              ? shard.readRedis(argvs, stale, protocol)
              : shard.replica.redis.readRedis(argvs, stale, cursors),
          { slot: () => commonSlot(keysOfArgvs(argvs)), splittable: argvs.length > 1 },
        );
      } catch (error) {
        if (!(error instanceof SlotsSplit)) throw error;
        const replies: Reply[] = [];
        for (const argv of argvs) {
          try {
            replies.push(...(await this.readRedis([argv], stale, cursors, protocol)));
          } catch (each) {
            replies.push(errorReplyOf(each));
          }
        }
        return replies;
      }
    }
    const shards = this.#allShards();
    if (!this.#holdsEveryShard()) {
      // Shards held elsewhere: each answers for its own keys and the answers are combined (keyless-reads.ts).
      const replies: Reply[] = [];
      for (const argv of argvs) replies.push(await keylessReadOverShards(argv, shards, stale, this.scanCursors));
      return replies;
    }
    // Keyless reads (KEYS, SCAN, RANDOMKEY, DBSIZE) over every shard read as one keyspace, each behind its own
    // ReadIndex barrier: every shard's part is linearizable, the whole is not one snapshot (as on Redis Cluster,
    // where each node answers for its own slots).
    const replicas = shards.map((each) => each.replica as ShardReplica);
    await Promise.all(replicas.map((replica) => replica.client.linearize(stale)));
    const nowMs = Math.max(Date.now(), ...replicas.map((replica) => replica.store.clockMs()));
    const reader = mergedKeyspaceReader(
      replicas.map((replica) => liveReader(replica.store, nowMs)),
      (key) => this.shardOfKey(key) - 1,
    );
    return executeCommands(reader, undefined, argvs, {
      nowMs,
      revision: this.#primary.store.revision(),
      random: new Prng(Math.floor(Math.random() * 0x100000000)),
      cursors,
    });
  }

  /**
   * For a read served on a read worker: after the ReadIndex barrier (unless `stale`), lends the LMDB environment of
   * the shard `argvs` address — or, for keyless reads on a node of several shards, every shard's, in shard order —
   * pinned open until `release`. Undefined when a shard it needs is held elsewhere (read through readRedis then).
   */
  async lendStateForRead(
    argvs: readonly (readonly Uint8Array[])[],
    stale: boolean,
  ): Promise<{ readonly paths: readonly string[]; release(): void } | undefined> {
    const shard = this.#route(argvs);
    const shards = shard === undefined ? this.#allShards() : [shard];
    if (shards.some((each) => each.replica === undefined)) return undefined;
    const settled = await Promise.allSettled(shards.map((each) => each.replica?.redis.lendStateForRead(stale, argvs)));
    const lent = settled.map((one) => (one.status === "fulfilled" ? one.value : undefined));
    const failed = settled.find((one) => one.status === "rejected");
    if (failed !== undefined) {
      for (const one of lent) one?.release();
      const error: unknown = failed.reason;
      // A slot being moved: readRedis follows it.
      if (error instanceof ShoalError && (error.code === "ASK" || error.code === "SLOT_MIGRATING")) return undefined;
      throw error;
    }
    const release = (): void => {
      for (const one of lent) one?.release();
    };
    if (lent.some((one) => one === undefined)) {
      release();
      return undefined;
    }
    return { paths: lent.map((one) => (one as { readonly path: string }).path), release };
  }

  /** WATCH's tokens, each asked of the shard that owns its key, in the order of `keys`. */
  async watchRevisions(keys: readonly Uint8Array[], stale: boolean): Promise<WatchTicket[]> {
    if (this.#holdsTheOnlyShard()) return this.redis.watchRevisions(keys, stale);
    const byShard = new Map<number, Uint8Array[]>();
    for (const key of keys) {
      const shard = this.shardOfKey(key);
      const shardKeys = byShard.get(shard);
      if (shardKeys === undefined) byShard.set(shard, [key]);
      else shardKeys.push(key); // WATCH takes up to 100,000 keys: never copy the list per key
    }
    const tickets = new Map<Uint8Array, WatchTicket>();
    await Promise.all(
      [...byShard.values()].map(async (shardKeys) => {
        const watchKeys = (group: readonly Uint8Array[]): Promise<WatchTicket[]> =>
          this.#followingMoves(
            () => this.#shard(sharedShardOf(group, (key) => this.shardOfKey(key))),
            (each) => each.watchRevisions(group, stale),
            { slot: () => commonSlot(group), splittable: group.length > 1 },
          );
        let got: WatchTicket[];
        try {
          got = await watchKeys(shardKeys);
        } catch (error) {
          if (!(error instanceof SlotsSplit)) throw error;
          got = [];
          for (const key of shardKeys) got.push(...(await watchKeys([key])));
        }
        for (const [i, ticket] of got.entries()) tickets.set(shardKeys[i] as Uint8Array, ticket);
      }),
    );
    return keys.map((key) => tickets.get(key) as WatchTicket);
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
    const infos = new Map(
      await Promise.all(
        ids.map(async (id) => [id, id === self.id ? self : await this.peerInfo(id, timeoutMs)] as const),
      ),
    );
    // A member names the shards it leads (shardLag's keys): where a shard held elsewhere is led now. A leader that
    // did not answer is forgotten until another claims the shard.
    for (const shard of this.shards.values()) {
      if (shard instanceof RemoteShard && infos.get(shard.leaderId()) === undefined) shard.leaderHeard(NO_NODE);
    }
    for (const [id, info] of infos) {
      for (const shardId of Object.keys(info?.shardLag ?? {})) {
        const shard = this.shards.get(Number(shardId));
        if (shard instanceof RemoteShard) shard.leaderHeard(id);
      }
    }
    return infos;
  }

  readiness(): Promise<Readiness> {
    return this.status.readiness();
  }

  /** The primary replica's Raft status, by member id (member-view.ts). */
  raftStatus(): ReturnType<RawNode["status"]> {
    return memberView(this.#primary.host.raw.status());
  }

  hostCounters(): RaftHost["counters"] {
    return this.#primary.host.counters;
  }
}

/** A request over several slots met a slot move that separates them: its caller runs its parts one by one. */
class SlotsSplit extends Error {
  override readonly name = "SlotsSplit";
}

/** The keys a key-value command names. */
function commandKeysOf(command: Exclude<Command, { op: "slot" }>): Uint8Array[] {
  switch (command.op) {
    case "put":
    case "delete":
      return [command.key];
    case "expire":
    case "evict":
      return [...command.keys];
    case "txn":
      return [...command.compares, ...command.success, ...command.failure].map((part) => part.key);
    case "redis":
      return keysOfArgvs(command.argvs);
  }
}

/** The shard every key of `keys` lies in: CROSS_SLOT when several (the caller splits the request then). */
function sharedShardOf(keys: readonly Uint8Array[], shardOfKey: (key: Uint8Array) => number): number {
  const shard = shardOfKey(keys[0] as Uint8Array);
  if (keys.some((key) => shardOfKey(key) !== shard)) {
    throw new ShoalError("CROSS_SLOT", "Keys in request don't hash to the same slot");
  }
  return shard;
}

/** An exception as one command's error reply (a pipeline run split by a slot move answers each command alone). */
function errorReplyOf(error: unknown): Reply {
  if (!(error instanceof ShoalError)) throw error;
  return { kind: "error", code: error.code, message: error.message };
}

/** A pipelined run a slot move split over several shards, when a later run of its connection is already in flight:
 * it is not run again command by command (write-order.ts), and nothing of it was applied. */
function pipelinedRunSplit(): ShoalError {
  return new ShoalError(
    "SLOT_MIGRATING",
    "The keys' slots moved while later writes of this connection were in flight; nothing was applied, retry",
  );
}
