/**
 * @module A node's Prometheus metrics: one prom-client Registry per node (never the global default, so several
 * nodes can live in one process, as in tests). Gauges read the node's state when scraped; counters and
 * histograms are fed by the host as it works (`HostMetrics`). The HTTP layer adds its own series to the same
 * registry (http/http-metrics.ts).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { RaftStatus } from "../raft/raw-node.js";
import type { HistoryStats, StoreStats } from "../store/state-machine-store.js";
import type { HostMetrics } from "./raft-host.js";
import type { RebalancerCounters } from "./rebalancer.js";
import type { MoverCounters } from "./replica-mover.js";
import type { SlotMoverCounters } from "./slot-mover.js";
import type { WatchHubStats } from "./watch-hub.js";

/** What the gauges read at scrape time. */
export interface MetricsSource {
  raftStatus(): RaftStatus;
  hostCounters(): { readonly proposals: number; readonly proposalFailures: number; readonly applied: number };
  storeStats(): StoreStats & {
    readonly revision: number;
    readonly appliedIndex: number;
    readonly fileSizeBytes: number;
  };
  historyStats(): HistoryStats;
  watchStats(): WatchHubStats;
  /** Bytes in the WAL's segment files. */
  walSizeBytes(): number;
  /** Every shard this node hosts, for the `shoal_shard_*` series (the unlabelled series are the first shard's). */
  shards(): readonly ShardMetricsSource[];
  /** Cache mode (eviction/node-cache.ts): the data counted against maxmemory, the limit, keys evicted. */
  memory?(): { readonly usedBytes: number; readonly maxmemoryBytes: number; readonly evictedKeys: number };
  /** The cluster map's epoch this node follows, and what its replica mover did (replica-mover.ts). */
  layout?(): {
    readonly epoch: number;
    readonly moves: MoverCounters;
    readonly rebalance: RebalancerCounters;
    readonly snapshotBytesSent: number;
    /** What this node's slot mover did (slot-mover.ts). */
    readonly slotMoves?: SlotMoverCounters;
    /** Slots the cluster map lists as moving. */
    readonly slotsMoving?: number;
  };
}

/** One shard as its replica on this node stands. */
export interface ShardMetricsSource {
  readonly id: number;
  readonly raft: RaftStatus;
  readonly appliedIndex: number;
  readonly keyCount: number;
}

/** fsync latency spans sub-millisecond (page cache, NVMe) to a slow disk's hundreds of milliseconds. */
const WAL_SAVE_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/**
 * The period of the timer behind `nodejs_eventloop_lag_*` (perf_hooks.monitorEventLoopDelay). Node records the
 * whole interval between two firings of that timer, so an idle loop reports about this much (min ≈ p99 ≈ 10 ms):
 * a reader that wants the delay itself — how late the loop ran the timer — subtracts it (bench/stall-bench.ts).
 */
export const EVENT_LOOP_MONITOR_RESOLUTION_MS = 10;

export class NodeMetrics implements HostMetrics {
  readonly registry = new Registry();
  readonly #leaderChanges: Counter;
  readonly #walSaveSeconds: Histogram;
  readonly #walBytes: Counter;

  constructor(source: MetricsSource, labels: { readonly node: string }) {
    const registers = [this.registry];
    this.registry.setDefaultLabels(labels);
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_MONITOR_RESOLUTION_MS });
    this.#leaderChanges = new Counter({
      name: "shoal_raft_leader_changes_total",
      help: "Times the leader this node knows changed (to another node or to none)",
      registers,
    });
    this.#walSaveSeconds = new Histogram({
      name: "shoal_wal_save_duration_seconds",
      help: "Time for one WAL save to become durable: write plus fsync per the fsync policy (one save per Ready)",
      buckets: WAL_SAVE_BUCKETS_SECONDS,
      registers,
    });
    this.#walBytes = new Counter({
      name: "shoal_wal_written_bytes_total",
      help: "Record bytes appended to the WAL",
      registers,
    });
    gauge(registers, "shoal_wal_bytes", "Bytes in the WAL's segment files (compaction deletes old ones)", () =>
      source.walSizeBytes(),
    );
    registerRaftGauges(registers, source);
    registerLayoutSeries(registers, source);
    registerStoreGauges(registers, source);
    registerMemoryGauges(registers, source);
    registerShardGauges(registers, source);
  }

  walSaved(seconds: number, bytes: number): void {
    this.#walSaveSeconds.observe(seconds);
    this.#walBytes.inc(bytes);
  }

  leaderChanged(): void {
    this.#leaderChanges.inc();
  }
}

type Registers = Registry[];

function gauge(registers: Registers, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}

/** A counter whose running total lives elsewhere (the host's counters): it is copied in at scrape time. */
function mirroredCounter(registers: Registers, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function registerLayoutSeries(registers: Registers, source: MetricsSource): void {
  const layout = source.layout;
  if (layout === undefined) return;
  gauge(registers, "shoal_cluster_map_epoch", "The cluster map's epoch this node follows", () => layout().epoch);
  const moves = (): MoverCounters => layout().moves;
  mirroredCounter(
    registers,
    "shoal_replica_move_conf_changes_total",
    "Membership changes this node proposed to move replicas of the shards it leads",
    () => moves().confChanges,
  );
  mirroredCounter(
    registers,
    "shoal_replica_move_leader_transfers_total",
    "Leaderships this node handed away because its replica was moving off a shard",
    () => moves().transfers,
  );
  mirroredCounter(
    registers,
    "shoal_replica_moves_finished_total",
    "Replica moves this node finished as the shard's leader",
    () => moves().movesFinished,
  );
  mirroredCounter(
    registers,
    "shoal_replica_move_seconds_total",
    "Seconds the replica moves this node finished took, from when it first saw each as the shard's leader",
    () => moves().moveSeconds,
  );
  mirroredCounter(
    registers,
    "shoal_snapshot_bytes_sent_total",
    "Snapshot bytes this node sent to replicas catching up (a moved replica's learner, a follower left behind)",
    () => layout().snapshotBytesSent,
  );
  const rebalance = (): RebalancerCounters => layout().rebalance;
  mirroredCounter(
    registers,
    "shoal_rebalance_replica_moves_total",
    "Replica moves this node's rebalancer recorded (drains and balancing) while it led the meta group",
    () => rebalance().replicaMoves,
  );
  mirroredCounter(
    registers,
    "shoal_rebalance_leader_changes_total",
    "Preferred leaders this node's rebalancer chose while it led the meta group",
    () => rebalance().leaderChanges,
  );
  mirroredCounter(
    registers,
    "shoal_rebalance_members_removed_total",
    "Drained members this node's rebalancer removed while it led the meta group",
    () => rebalance().membersRemoved,
  );
  mirroredCounter(
    registers,
    "shoal_rebalance_slots_moved_total",
    "Slots this node's rebalancer asked to move to even out the shards' keys while it led the meta group",
    () => rebalance().slotsMoved,
  );
  const slotMoves = (): SlotMoverCounters =>
    layout().slotMoves ?? { slotsMoved: 0, keysMoved: 0, bytesMoved: 0, moveSeconds: 0 };
  gauge(
    registers,
    "shoal_slots_moving",
    "Hash slots the cluster map lists as moving between shards",
    () => layout().slotsMoving ?? 0,
  );
  mirroredCounter(
    registers,
    "shoal_slot_moves_total",
    "Hash slots this node moved to another shard as the leader of their shard",
    () => slotMoves().slotsMoved,
  );
  mirroredCounter(
    registers,
    "shoal_slot_move_keys_total",
    "Keys this node copied in slot moves",
    () => slotMoves().keysMoved,
  );
  mirroredCounter(
    registers,
    "shoal_slot_move_bytes_total",
    "Bytes of keys and values this node copied in slot moves",
    () => slotMoves().bytesMoved,
  );
  mirroredCounter(
    registers,
    "shoal_slot_move_seconds_total",
    "Seconds this node's slot moves took (freeze to the map's record), summed over batches",
    () => slotMoves().moveSeconds,
  );
}

function registerRaftGauges(registers: Registers, source: MetricsSource): void {
  gauge(registers, "shoal_raft_term", "Current Raft term", () => source.raftStatus().term);
  gauge(registers, "shoal_raft_leader_id", "The leader this node knows (0: none)", () => source.raftStatus().leaderId);
  gauge(registers, "shoal_raft_is_leader", "1 when this node is the leader", () =>
    source.raftStatus().role === "leader" ? 1 : 0,
  );
  gauge(
    registers,
    "shoal_raft_commit_index",
    "Highest log index known committed",
    () => source.raftStatus().commitIndex,
  );
  gauge(
    registers,
    "shoal_raft_applied_index",
    "Highest log index applied to the store",
    () => source.storeStats().appliedIndex,
  );
  gauge(registers, "shoal_raft_last_index", "Last index in this node's log", () => source.raftStatus().lastIndex);
  mirroredCounter(
    registers,
    "shoal_raft_proposals_total",
    "Proposals made on this node (as leader)",
    () => source.hostCounters().proposals,
  );
  mirroredCounter(
    registers,
    "shoal_raft_proposal_failures_total",
    "Proposals refused, dropped by a leader change or timed out",
    () => source.hostCounters().proposalFailures,
  );
  mirroredCounter(
    registers,
    "shoal_raft_applied_entries_total",
    "Log entries applied to the store",
    () => source.hostCounters().applied,
  );
}

/** One series per shard (label `shard`), read from every shard at scrape time. */
function shardGauge(
  registers: Registers,
  name: string,
  help: string,
  source: MetricsSource,
  read: (shard: ShardMetricsSource) => number,
): void {
  new Gauge({
    name,
    help,
    labelNames: ["shard"],
    registers,
    collect() {
      for (const shard of source.shards()) this.set({ shard: String(shard.id) }, read(shard));
    },
  });
}

function registerShardGauges(registers: Registers, source: MetricsSource): void {
  shardGauge(registers, "shoal_shard_is_leader", "1 when this node leads the shard", source, (shard) =>
    shard.raft.role === "leader" ? 1 : 0,
  );
  shardGauge(
    registers,
    "shoal_shard_leader_id",
    "The shard's leader this node knows (0: none)",
    source,
    (shard) => shard.raft.leaderId,
  );
  shardGauge(registers, "shoal_shard_term", "The shard's Raft term", source, (shard) => shard.raft.term);
  shardGauge(
    registers,
    "shoal_shard_commit_index",
    "The shard's highest index known committed",
    source,
    (shard) => shard.raft.commitIndex,
  );
  shardGauge(
    registers,
    "shoal_shard_applied_index",
    "The shard's highest index applied here",
    source,
    (shard) => shard.appliedIndex,
  );
  shardGauge(
    registers,
    "shoal_shard_quiesced",
    "1 while the shard's group is quiet (idle: no heartbeats, no election timer)",
    source,
    (shard) => (shard.raft.quiesced ? 1 : 0),
  );
  shardGauge(
    registers,
    "shoal_shard_keys",
    "Keys this node's replica of the shard holds",
    source,
    (shard) => shard.keyCount,
  );
}

function registerMemoryGauges(registers: Registers, source: MetricsSource): void {
  const memory = source.memory;
  if (memory === undefined) return;
  gauge(
    registers,
    "shoal_memory_used_bytes",
    "The data counted against maxmemory (Redis used_memory)",
    () => memory().usedBytes,
  );
  gauge(registers, "shoal_memory_max_bytes", "maxmemory (0: no limit)", () => memory().maxmemoryBytes);
  gauge(
    registers,
    "shoal_evicted_keys",
    "Keys evicted by this node as a shard leader since it started (Redis evicted_keys)",
    () => memory().evictedKeys,
  );
}

function registerStoreGauges(registers: Registers, source: MetricsSource): void {
  gauge(
    registers,
    "shoal_store_keys",
    "Keys stored (including expired keys not yet swept)",
    () => source.storeStats().keyCount,
  );
  gauge(registers, "shoal_store_logical_bytes", "Sum of key and value lengths", () => source.storeStats().sizeBytes);
  gauge(registers, "shoal_store_file_bytes", "Bytes the LMDB data file uses", () => source.storeStats().fileSizeBytes);
  gauge(registers, "shoal_store_revision", "The store's revision", () => source.storeStats().revision);
  gauge(
    registers,
    "shoal_watch_history_revisions",
    "Revisions held in the watch history",
    () => source.historyStats().revisionCount,
  );
  gauge(
    registers,
    "shoal_watch_history_bytes",
    "Bytes held in the watch history",
    () => source.historyStats().sizeBytes,
  );
  gauge(
    registers,
    "shoal_watch_compacted_revision",
    "Newest revision dropped from the watch history (watches must start after it)",
    () => source.historyStats().compactedRevision,
  );
  gauge(registers, "shoal_watchers", "Open watches on this node", () => source.watchStats().watchers);
  mirroredCounter(
    registers,
    "shoal_watch_fell_behind_total",
    "Live watches whose buffer overflowed, sent back to reading the history",
    () => source.watchStats().fellBehind,
  );
  mirroredCounter(
    registers,
    "shoal_watch_compacted_total",
    "Watches closed because they fell behind the history's window",
    () => source.watchStats().compactedOut,
  );
}
