/**
 * @module The RESP server's backend over a real ShoalNode: data commands through the Raft log or after a
 * ReadIndex barrier (reads whose cost follows the data on a read worker thread), WATCH revisions, cluster-wide
 * pub/sub, and INFO's figures.
 */
import { foreignScanCursors } from "../commands/redis/scan-cursor-table.js";
import {
  type MemoryLimitSettings,
  parseEvictionPolicy,
  parseMemoryBytes,
  parseSamples,
} from "../node/eviction/eviction-policy.js";
import type { NodeCache } from "../node/eviction/node-cache.js";
import type { ShoalNode } from "../node/shoal-node.js";
import type { ClusterTopology, MemoryPort, NodeFacts, RedisBackend } from "./server/backend.js";
import { ReadOffload, worthOffloading } from "./server/read-offload/read-offload.js";

/** Read worker threads per node: one keeps a KEYS off the event loop; a second lets another heavy read (or a
 * client's second KEYS) proceed meanwhile. */
const READ_WORKERS = 2;

/** How long a member's answer may take for CLUSTER SLOTS & co. (an unreachable one is shown as failed). */
const TOPOLOGY_PEER_TIMEOUT_MS = 300;
/** How long one view of the members serves CLUSTER SLOTS & co.: cluster clients ask on every (re)connect. */
const TOPOLOGY_CACHE_MS = 1000;

export function nodeBackend(node: ShoalNode): RedisBackend {
  let table: { readonly epoch: number; readonly slots: Uint16Array } | undefined;
  const offload = new ReadOffload(READ_WORKERS, () => {
    if (table?.epoch !== node.layout.epoch) table = { epoch: node.layout.epoch, slots: node.slotMap.table() };
    return table.slots;
  });
  // A member lacking a shard asks this node for its heavy reads: they run on the same read workers.
  node.setHeavyReads(async (replica, argvs, stale, protocol) => {
    if (!worthOffloading(argvs, (key) => replica.store.holdsBigValue(key))) return undefined;
    const lent = await replica.redis.lendStateForRead(stale, argvs);
    if (lent === undefined) return undefined;
    try {
      const encoded = await offload.run([lent.path], argvs, Date.now(), protocol);
      return encoded.map((bytes) => ({ kind: "encoded", bytes }) as const);
    } finally {
      lent.release();
    }
  });
  let topology: { readonly atMs: number; readonly view: Promise<ClusterTopology> } | undefined;
  const readTopology = async (): Promise<ClusterTopology> => {
    const status = node.raftStatus();
    const infos = await node.memberInfos(TOPOLOGY_PEER_TIMEOUT_MS);
    const ids = [...infos.keys()].sort((a, b) => a - b);
    return {
      selfId: status.id,
      clusterId: node.identity.clusterId,
      leaderId: status.leaderId,
      term: status.term,
      members: ids.map((id) => {
        const info = infos.get(id);
        return {
          id,
          resp: info?.resp,
          peer: node.options.members.get(id)?.peer ?? "",
          reachable: info !== undefined,
          appliedIndex: info?.appliedIndex ?? 0,
        };
      }),
      shards: node
        .shardStatuses()
        .map(({ id, slots, leaderId, term, replicaIds }) => ({ id, slots, leaderId, term, replicaIds })),
    };
  };
  return {
    runInLog: (argvs, watches, atomic, order) => node.runRedis(argvs, watches, atomic === true, order),
    runReads: async (argvs, stale, cursors, protocol) => {
      // Another node's SCAN cursor resumes here at the same key: ask that node for it first. (Cursor commands
      // never go to a read worker: their table lives on this thread.)
      const foreign = foreignScanCursors(argvs, node.scanCursors);
      if (foreign.length > 0) await node.resolveScanCursors(foreign);
      if (worthOffloading(argvs, (key) => node.replicaOfKey(key)?.store.holdsBigValue(key) === true)) {
        const lent = await node.lendStateForRead(argvs, stale);
        if (lent !== undefined) {
          try {
            const encoded = await offload.run(lent.paths, argvs, Date.now(), protocol);
            return encoded.map((bytes) => ({ kind: "encoded", bytes }) as const);
          } finally {
            lent.release();
          }
        }
      }
      return node.readRedis(argvs, stale, cursors, protocol);
    },
    cursors: node.scanCursors,
    watchRevisions: (keys, stale) => node.watchRevisions(keys, stale),
    pubsub: node.pubsub,
    role: () => node.raftStatus().role,
    leadsSlot: (slot) => node.replicaOfSlot(slot)?.host.raw.status().role === "leader",
    slotHandedOff: (slot) => {
      const state = node.replicaOfSlot(slot)?.store.slotStates().get(slot);
      return state?.phase === "gone" ? state.shard : undefined;
    },
    clusterTopology: () => {
      const nowMs = Date.now();
      if (topology === undefined || nowMs - topology.atMs > TOPOLOGY_CACHE_MS) {
        topology = { atMs: nowMs, view: readTopology() };
      }
      return topology.view;
    },
    // A slot of a shard held elsewhere has no keys here (Redis answers for the node's own slots only).
    countKeysInSlot: (slot) => node.replicaOfSlot(slot)?.store.countKeysInSlot(slot) ?? 0,
    keysInSlot: (slot, limit) => node.replicaOfSlot(slot)?.store.keysInSlot(slot, limit) ?? [],
    // Asked per run: shards split and merge, so a node of one shard today may have several tomorrow (and with one,
    // no command pays for a CRC16 per key).
    get shardOf(): ((key: Uint8Array) => number) | undefined {
      return node.layout.shardCount === 1 ? undefined : (key: Uint8Array) => node.shardOfKey(key);
    },
    close: () => offload.close(),
    memory: memoryPort(node.cache),
    facts: (): NodeFacts => {
      const status = node.raftStatus();
      const keyCount = [...node.replicas.values()].reduce((sum, replica) => sum + replica.store.stats().keyCount, 0);
      return {
        nodeId: node.options.id,
        role: status.role,
        leaderId: status.leaderId,
        leaderHost: hostOf(node.options.members.get(status.leaderId)?.peer ?? ""),
        term: status.term,
        commitIndex: status.commitIndex,
        appliedIndex: node.store.appliedIndex(),
        lastIndex: status.lastIndex,
        memberCount: node.options.members.size,
        keyCount,
        expiresCount: [...node.replicas.values()].reduce((sum, replica) => sum + replica.store.expiringKeyCount(), 0),
        revision: node.store.revision(),
        fsync: node.options.fsync,
      };
    },
  };
}

/** "10.0.0.1:7101" → "10.0.0.1" ("[::1]:7101" → "::1"). */
function hostOf(address: string): string {
  const colon = address.lastIndexOf(":");
  const host = colon < 0 ? address : address.slice(0, colon);
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** CONFIG GET/SET of maxmemory & co. and INFO's memory figures, over the node's cache mode (node/eviction/). */
function memoryPort(cache: NodeCache): MemoryPort {
  return {
    figures: () => {
      const { maxmemoryBytes, policy, samples } = cache.limits.settings;
      return { usedBytes: cache.usedBytes(), maxmemoryBytes, policy, samples, evictedKeys: cache.evictedKeys };
    },
    set: (changes) => {
      // Every value is parsed before any is set: CONFIG SET is all or nothing.
      const change: { -readonly [K in keyof MemoryLimitSettings]?: MemoryLimitSettings[K] } = {};
      for (const [name, value] of changes) {
        const what = `CONFIG SET failed (possibly related to argument '${name}') -`;
        if (name === "maxmemory") change.maxmemoryBytes = parseMemoryBytes(value, `${what} maxmemory`);
        else if (name === "maxmemory-policy") change.policy = parseEvictionPolicy(value, `${what} maxmemory-policy`);
        else change.samples = parseSamples(value, `${what} maxmemory-samples`);
      }
      cache.configure(change);
    },
  };
}
