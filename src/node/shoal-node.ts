/**
 * @module A Shoal node: one Raft group (this version runs a single group; sharding comes later) with its WAL,
 * LMDB state machine and peer transport, plus the client-facing operations every front end uses. Any node
 * accepts any request: writes on a follower are forwarded to the leader, linearizable reads on a follower are
 * confirmed through ReadIndex and served from the local state machine.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { Command, CommandResult, WatchedKey } from "../commands/command.js";
import { encodeCommand } from "../commands/command-codec.js";
import { checkKeySize } from "../commands/limits.js";
import type { ScanCursors } from "../commands/redis/command-spec.js";
import { executeCommands } from "../commands/redis/execute.js";
import type { Reply } from "../commands/redis/reply.js";
import { ScanCursorTable } from "../commands/redis/scan-cursor-table.js";
import { NODE_CLOCK } from "../io/node/clock.js";
import { NodeDisk } from "../io/node/disk.js";
import { EMPTY_BYTES, keyId } from "../lib/bytes.js";
import { ShoalError } from "../lib/errors.js";
import { Prng } from "../lib/prng.js";
import { resolveRaftConfig } from "../raft/config.js";
import type { MemoryStorage } from "../raft/memory-storage.js";
import { RawNode } from "../raft/raw-node.js";
import { NO_NODE, type NodeId } from "../raft/types.js";
import { LmdbStore } from "../store/lmdb/lmdb-store.js";
import type { KeyValue } from "../store/record.js";
import type { StateMachineStore } from "../store/state-machine-store.js";
import type { KeyspaceReader } from "../store/write-set.js";
import { DEFAULT_TRANSPORT_BOUNDS, PeerTransport } from "../transport/index.js";
import { Wal } from "../wal/wal.js";
import { type IdentityAnswer, parseIdentityAnswer, resolveIdentity } from "./bootstrap.js";
import { openLmdbCommandStore } from "./command-store.js";
import { DataDirLock } from "./data-dir-lock.js";
import { ExpiryScanner } from "./expiry-scanner.js";
import { type ClusterIdentity, deriveClusterId, MembersSeen, readIdentity } from "./identity.js";
import { checkLimitRelations } from "./limit-relations.js";
import { NodeMetrics } from "./node-metrics.js";
import { type NodeOptions, nodeDefaults } from "./node-options.js";
import { PeerChecks } from "./peer-checks.js";
import type { PeerNetwork } from "./ports.js";
import { PubSubHub, type PubSubRequest } from "./pubsub-hub.js";
import { RaftHost } from "./raft-host.js";
import { recoverRaftStorage } from "./recover-state.js";
import { type ReplicationState, ReplicationTracker } from "./replication-tracker.js";
import { SnapshotFileStore } from "./snapshot-file.js";
import { WatchHub, watchHubDefaults } from "./watch-hub.js";

/** What a peer answers about itself (for /v1/cluster and the dashboard). */
export interface MemberInfo {
  readonly id: NodeId;
  readonly role: string;
  readonly term: number;
  readonly leader: NodeId;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly peer: string;
  readonly http: string;
  /** The leader's view of replication (present when `role` is leader): each member's match index. */
  readonly lastIndex?: number;
  readonly matchIndex?: Readonly<Record<string, number>>;
  /** The leader's judgement of each member (present when `role` is leader; replication-tracker.ts). */
  readonly replication?: Readonly<Record<string, ReplicationState>>;
  /** The cluster this node's data directory belongs to. */
  readonly clusterId?: string;
  /** What this node finds wrong with its peers (peer-checks.ts), one sentence each. */
  readonly problems?: readonly string[];
}

/** What `/readyz` reports. */
export interface Readiness {
  readonly ready: boolean;
  /** Why not, when not ready. */
  readonly reason?: string;
  readonly leader: NodeId;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The leader's judgement of this member, when this node follows and the leader answered. */
  readonly replication?: ReplicationState;
}

type PeerRequest =
  | { readonly kind: "propose"; readonly data: Uint8Array }
  | { readonly kind: "info" }
  | { readonly kind: "scan-cursor"; readonly cursor: string }
  | { readonly kind: "identity" }
  | PubSubRequest;

/** How often a running node asks its peers who they are (peer-checks.ts). */
const PEER_CHECK_INTERVAL_MS = 2_000;
/** A member this far behind whose match index has not moved for this long is reported stalled. */
const REPLICATION_STALL_MS = 10_000;

/** A write this node forwarded to the leader it knew; abandoned when another leader becomes known. */
interface Forward {
  readonly leaderId: NodeId;
  readonly abandon: AbortController;
}

const PUBSUB_REQUESTS: ReadonlySet<string> = new Set(["publish", "pubsub-channels", "pubsub-numsub", "pubsub-numpat"]);

/** A WATCHed key: its modRevision (0: absent) and the group revision it was read at. */
export interface WatchTicket extends WatchedKey {
  readonly watchedAtRevision: number;
}

/** How long `/readyz` on a follower waits for the leader's view of it. */
const READINESS_LEADER_TIMEOUT_MS = 500;

/** Beyond this many revisions between WATCH and EXEC, an EXEC watching an absent key aborts without scanning. */
const WATCH_HISTORY_SCAN_REVISIONS_MAX = 100_000;

export interface RedisOutcome {
  readonly aborted: boolean;
  readonly replies: readonly Reply[];
}

/** The store's live keys as a KeyspaceReader for reads served outside the log. */
function liveReader(store: StateMachineStore, nowMs: number): KeyspaceReader {
  return {
    getRecord: (key) => store.get(key, nowMs),
    keysAfter: (after, limit) => store.range(EMPTY_BYTES, after, limit, nowMs).map((kv) => kv.key),
    keyCount: () => store.stats().keyCount,
    getRow: (collectionId, rowKey) => store.getRow(collectionId, rowKey),
    rowsAfter: (collectionId, after, limit) => store.rowsAfter(collectionId, after, limit),
  };
}

export class ShoalNode {
  readonly options: NodeOptions;
  readonly store: StateMachineStore;
  readonly #host: RaftHost;
  readonly #transport: PeerTransport;
  readonly #wal: Wal;
  readonly #logger: Logger;
  readonly #expiry: ExpiryScanner;
  /** Every watch this node serves, fed by the host after each apply. */
  readonly watches: WatchHub;
  readonly metrics: NodeMetrics;
  /** Redis pub/sub: this node's subscribers, and delivery to every peer's. */
  readonly pubsub: PubSubHub;
  /** The SCAN cursors this node issued (and other nodes' it resumed): valid on every node, see the table. */
  readonly scanCursors: ScanCursorTable;
  /** The cluster and member this node's data directory belongs to (identity.ts). */
  readonly identity: ClusterIdentity;
  readonly #lock: DataDirLock;
  readonly #peerChecks: PeerChecks;
  readonly #answerIdentity: (asker: NodeId) => IdentityAnswer;
  readonly #replication: ReplicationTracker;
  #replicationSampler: NodeJS.Timeout | undefined;
  /** Writes forwarded to a leader and not answered yet (see #forwardProposal). */
  readonly #forwards = new Set<Forward>();
  /** Retries sleeping until their next attempt; woken early when a leader becomes known. */
  readonly #retrySleepers = new Set<() => void>();
  #httpAddress = "";

  private constructor(
    options: NodeOptions,
    parts: {
      host: RaftHost;
      transport: PeerTransport;
      wal: Wal;
      store: StateMachineStore;
      watches: WatchHub;
      metrics: NodeMetrics;
      lock: DataDirLock;
      identity: ClusterIdentity;
      peerChecks: PeerChecks;
      answerIdentity: (asker: NodeId) => IdentityAnswer;
    },
  ) {
    this.options = options;
    this.store = parts.store;
    this.watches = parts.watches;
    this.metrics = parts.metrics;
    this.#host = parts.host;
    this.#transport = parts.transport;
    this.#wal = parts.wal;
    this.#logger = options.logger;
    this.identity = parts.identity;
    this.#lock = parts.lock;
    this.#peerChecks = parts.peerChecks;
    this.#answerIdentity = parts.answerIdentity;
    this.#replication = new ReplicationTracker({
      laggingEntriesMin: options.readyApplyLagEntriesMax ?? nodeDefaults.readyApplyLagEntriesMax,
      stallMs: REPLICATION_STALL_MS,
    });
    const transport = parts.transport;
    this.pubsub = new PubSubHub(
      {
        peerIds: () => [...options.members.keys()].filter((id) => id !== options.id),
        request: (to, payload, timeoutMs) => transport.request(to, payload, timeoutMs),
      },
      Math.min(options.requestTimeoutMs, 1000),
    );
    this.scanCursors = new ScanCursorTable({
      ownerId: options.id,
      firstTag: BigInt(Math.floor(Math.random() * 2 ** 21)) * 2n ** 21n + BigInt(Math.floor(Math.random() * 2 ** 21)),
    });
    this.#expiry = new ExpiryScanner({
      store: parts.store,
      isLeader: () => this.#host.raw.status().role === "leader",
      propose: (command) => this.#host.propose(encodeCommand(command)),
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
      onLeadershipChange: (leaderId, term) => node.#leadershipMoved(leaderId, term),
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
      answerIdentity,
    });
    transport.onRequest((from, payload) => node.#answerPeer(from, payload));
    transport.onPeerRefused((peerId) => host.leaderGone(peerId));
    host.start();
    node.#expiry.start();
    peerChecks.start();
    node.#replicationSampler = setInterval(() => node.#replication.observe(raw.status(), Date.now()), 500);
    node.#replicationSampler.unref();
    return node;
  }

  setHttpAddress(address: string): void {
    this.#httpAddress = address;
  }

  async stop(): Promise<void> {
    this.watches.close();
    this.#expiry.stop();
    this.#peerChecks.stop();
    if (this.#replicationSampler !== undefined) clearInterval(this.#replicationSampler);
    await this.#host.stop();
    await this.#transport.stop();
    await this.#wal.close();
    await this.store.close();
    this.#lock.release();
  }

  // ---- Client operations ----

  put(key: Uint8Array, value: Uint8Array, ttlMs?: number): Promise<CommandResult> {
    const command: Command =
      ttlMs === undefined
        ? { op: "put", key, value, nowMs: Date.now() }
        : { op: "put", key, value, nowMs: Date.now(), ttlMs };
    return this.submit(command);
  }

  delete(key: Uint8Array): Promise<CommandResult> {
    return this.submit({ op: "delete", key, nowMs: Date.now() });
  }

  /** A linearizable read (unless `stale`): reflects every write acknowledged before it was called. */
  async get(key: Uint8Array, stale = false): Promise<KeyValue | undefined> {
    checkKeySize(key); // a key no write can store is refused, as every front end refuses it
    // The unsafe switch serves reads from local state without ReadIndex: a deposed leader or a lagging
    // follower then answers stale values, which the chaos checker must catch.
    if (!stale && this.options.unsafe?.staleReads !== true) await this.readBarrier();
    return this.store.get(key, Date.now());
  }

  /** Live keys starting with `prefix`, after `after`, at most `limit`: linearizable unless `stale`. */
  async range(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, stale = false): Promise<KeyValue[]> {
    checkKeySize(prefix);
    if (after !== undefined) checkKeySize(after);
    if (!stale && this.options.unsafe?.staleReads !== true) await this.readBarrier();
    return this.store.range(prefix, after, limit, Date.now());
  }

  /**
   * Runs Redis data commands through the log as one entry (see RedisCommand) and returns their outcome. With
   * watches (EXEC), a key absent when WATCHed must also abort EXEC if it was created and deleted again since
   * (Redis aborts on any write to a watched key); its modRevision cannot show that, so this node first reads the
   * watch history from the WATCH's revision after a ReadIndex barrier. The replicated entry then re-checks every
   * modRevision at apply. What is left unseen: such a create-and-delete inside the milliseconds between this
   * check and the apply (docs/redis-compat.md).
   */
  async runRedis(argvs: readonly (readonly Uint8Array[])[], watches?: readonly WatchTicket[]): Promise<RedisOutcome> {
    // An EXEC of only PING/ECHO/TIME: nothing to replicate unless WATCHed keys must be checked in log order.
    if (argvs.length === 0 && (watches === undefined || watches.length === 0)) return { aborted: false, replies: [] };
    if (watches !== undefined && (await this.#absentWatchedKeysWritten(watches))) return { aborted: true, replies: [] };
    const watched = watches?.map(({ key, modRevision }) => ({ key, modRevision }));
    const command: Command =
      watched === undefined || watched.length === 0
        ? { op: "redis", nowMs: Date.now(), argvs }
        : { op: "redis", nowMs: Date.now(), argvs, watches: watched };
    const result = await this.submit(command);
    if (result.kind === "redis") return { aborted: result.aborted, replies: result.replies };
    if (result.kind === "error") throw new ShoalError(result.code, result.message);
    throw new ShoalError("INTERNAL", `A redis entry produced a ${result.kind} result`);
  }

  /** True when a key that was absent at WATCH has been written since (or when the history no longer reaches
   * back that far: then EXEC aborts, which a client retries, rather than risk missing a write). */
  async #absentWatchedKeysWritten(watches: readonly WatchTicket[]): Promise<boolean> {
    const absent = watches.filter((watch) => watch.modRevision === 0);
    if (absent.length === 0) return false;
    await this.readBarrier();
    // (A loop, not Math.min(...): up to 100,000 watched keys would overflow the argument stack.)
    let from = Number.POSITIVE_INFINITY;
    for (const watch of absent) from = Math.min(from, watch.watchedAtRevision + 1);
    const to = this.store.revision();
    if (from > to) return false;
    if (to - from >= WATCH_HISTORY_SCAN_REVISIONS_MAX) return true;
    const ids = new Set(absent.map((watch) => keyId(watch.key)));
    try {
      return this.store.events(from, to).some((event) => ids.has(keyId(event.key)));
    } catch (error) {
      if (error instanceof ShoalError && error.code === "COMPACTED") return true;
      throw error;
    }
  }

  /** Runs readonly Redis data commands on this node's state: linearizable (ReadIndex) unless `stale`. */
  async readRedis(argvs: readonly (readonly Uint8Array[])[], stale: boolean, cursors: ScanCursors): Promise<Reply[]> {
    if (!stale && this.options.unsafe?.staleReads !== true) await this.readBarrier();
    const nowMs = Math.max(Date.now(), this.store.clockMs());
    return executeCommands(liveReader(this.store, nowMs), undefined, argvs, {
      nowMs,
      revision: this.store.revision(),
      random: new Prng(Math.floor(Math.random() * 0x100000000)),
      cursors,
    });
  }

  /**
   * For a read served on another thread (the RESP server's read workers): waits for the ReadIndex barrier unless
   * `stale`, then lends the store's LMDB environment, pinned open until `release`. Undefined when the store is
   * not on LMDB (nothing to lend): read through `readRedis` then.
   */
  async lendStateForRead(stale: boolean): Promise<{ readonly path: string; release(): void } | undefined> {
    if (!(this.store instanceof LmdbStore)) return undefined;
    if (!stale && this.options.unsafe?.staleReads !== true) await this.readBarrier();
    return this.store.lendEnvironment();
  }

  /** The keys' modRevision (0 when absent or expired) for Redis WATCH, with the group revision they were read
   * at: linearizable unless `stale`. */
  async watchRevisions(keys: readonly Uint8Array[], stale: boolean): Promise<WatchTicket[]> {
    for (const key of keys) checkKeySize(key);
    if (!stale && this.options.unsafe?.staleReads !== true) await this.readBarrier();
    const nowMs = Date.now();
    const watchedAtRevision = this.store.revision();
    return keys.map((key) => ({ key, modRevision: this.store.get(key, nowMs)?.modRevision ?? 0, watchedAtRevision }));
  }

  /** Waits until this node's state reflects every write acknowledged before the call (ReadIndex). */
  readBarrier(): Promise<void> {
    return this.#withRetry(() => this.#host.readBarrier());
  }

  /** Replicates a command through the leader (forwarding from a follower) and returns its result. Retries only
   * failures that certainly did not apply (no leader yet, leadership moved, the entry was dropped). */
  submit(command: Command): Promise<CommandResult> {
    const data = encodeCommand(command);
    return this.#withRetry(() => this.#proposeAnywhere(data));
  }

  async #proposeAnywhere(data: Uint8Array): Promise<CommandResult> {
    const status = this.#host.raw.status();
    if (status.role === "leader") return this.#host.propose(data);
    if (status.leaderId === NO_NODE) throw new ShoalError("UNAVAILABLE", "No leader is known yet");
    return this.#forwardProposal(status.leaderId, data);
  }

  /**
   * Forwards a write to the leader this node knows and returns the leader's answer. What a failure says about
   * the write — exactly-once depends on it: an entry a leader accepted can still commit after that leader lost
   * leadership (a follower holding it may win the next election and commit it with its first entry, §5.4.2), so
   * only a write that certainly never reached the leader's log may be sent again.
   * - Never written to the connection (the link is down, the queue is full, or it was abandoned while still
   *   queued: the transport withdraws it): UNAVAILABLE — not applied, retried (by #withRetry).
   * - The leader refused it (NOT_LEADER, UNAVAILABLE) or answered that its entry lost to another term's
   *   (PROPOSAL_DROPPED): not applied, retried.
   * - Written, and then this node learned of another leader (#leadershipMoved abandons it at once instead of
   *   waiting out requestTimeoutMs — a paused leader would hold it that long), or the connection dropped (the
   *   leader crashed): UNKNOWN_OUTCOME — the old leader may have appended it, and the entry may commit under
   *   the new leader, or the request may still sit unread in a paused leader's socket. Never retried: the
   *   client is told the outcome is unknown.
   * - Written and no answer within requestTimeoutMs: TIMEOUT, likewise unknown, never retried.
   */
  async #forwardProposal(leaderId: NodeId, data: Uint8Array): Promise<CommandResult> {
    const forward: Forward = { leaderId, abandon: new AbortController() };
    this.#forwards.add(forward);
    try {
      const request: PeerRequest = { kind: "propose", data };
      const timeoutMs = this.options.requestTimeoutMs;
      return (await this.#transport.request(leaderId, request, timeoutMs, forward.abandon.signal)) as CommandResult;
    } catch (error) {
      const abandoned = forward.abandon.signal.aborted;
      if (!(error instanceof ShoalError && error.code === "UNKNOWN_OUTCOME" && abandoned)) throw error;
      const newLeader = this.#host.raw.status().leaderId;
      throw new ShoalError(
        "UNKNOWN_OUTCOME",
        `Leadership moved from node ${leaderId} to node ${newLeader} while the write was in flight; ` +
          "it may or may not have been applied",
        { leaderId: newLeader, formerLeaderId: leaderId },
      );
    } finally {
      this.#forwards.delete(forward);
    }
  }

  /** The host learned of a new leader or term: writes forwarded to another node are abandoned (see
   * #forwardProposal) and retries waiting for a leader go now. A leader unknown (an election running) abandons
   * nothing: the old one may still answer. */
  #leadershipMoved(leaderId: NodeId, term: number): void {
    if (leaderId === NO_NODE) return;
    this.#logger.info({ leader: leaderId, term }, "Leader known");
    for (const forward of this.#forwards) {
      if (forward.leaderId !== leaderId) forward.abandon.abort(new Error(`node ${leaderId} is the leader now`));
    }
    for (const wake of this.#retrySleepers) wake();
    this.#retrySleepers.clear();
  }

  async #withRetry<T>(attempt: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.options.requestTimeoutMs;
    let delayMs = 10;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof ShoalError) || !error.retryable || Date.now() + delayMs > deadline) throw error;
      }
      await this.#sleepUntilRetry(delayMs);
      delayMs = Math.min(delayMs * 2, 200);
    }
  }

  /** Waits `delayMs`, or less when a leader becomes known meanwhile (a new leader answers at once). */
  #sleepUntilRetry(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#retrySleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, delayMs);
      this.#retrySleepers.add(wake);
    });
  }

  async #answerPeer(from: NodeId, payload: unknown): Promise<unknown> {
    const request = payload as PeerRequest;
    if (request?.kind === "propose" && request.data instanceof Uint8Array) {
      // Never forwarded again: a node that lost leadership answers NOT_LEADER and the sender retries.
      return this.#host.propose(new Uint8Array(request.data));
    }
    if (request?.kind === "info") return this.memberInfo();
    if (request?.kind === "scan-cursor" && typeof request.cursor === "string" && /^\d{1,20}$/.test(request.cursor)) {
      return this.scanCursors.positionOf(BigInt(request.cursor)) ?? null;
    }
    if (request?.kind === "identity") return this.#answerIdentity(from);
    if (typeof request?.kind === "string" && PUBSUB_REQUESTS.has(request.kind)) {
      return this.pubsub.answer(request as PubSubRequest);
    }
    this.#logger.warn({ from }, "Unknown peer request");
    throw new ShoalError("BAD_REQUEST", "Unknown peer request");
  }

  // ---- Status ----

  memberInfo(): MemberInfo {
    const status = this.#host.raw.status();
    const self = this.options.members.get(this.options.id);
    const replication =
      status.role === "leader"
        ? {
            lastIndex: status.lastIndex,
            matchIndex: Object.fromEntries([...status.matchIndex].map(([id, match]) => [String(id), match])),
            replication: Object.fromEntries(
              [...this.#replication.states(status, Date.now())].map(([id, state]) => [String(id), state]),
            ),
          }
        : {};
    return {
      ...replication,
      id: status.id,
      role: status.role,
      term: status.term,
      leader: status.leaderId,
      commitIndex: status.commitIndex,
      appliedIndex: this.store.appliedIndex(),
      peer: self?.peer ?? "",
      http: this.#httpAddress || (self?.http ?? ""),
      clusterId: this.identity.clusterId,
      problems: this.#peerChecks.problems(),
    };
  }

  /**
   * Makes other nodes' SCAN cursors resumable here: each is asked of the node that issued it (its id is in the
   * cursor) and adopted. One that cannot be resolved — its node is not a member, is down, or no longer knows
   * it — stays unknown, and SCAN answers "invalid cursor".
   */
  async resolveScanCursors(cursors: readonly bigint[]): Promise<void> {
    await Promise.all(
      cursors.map(async (cursor) => {
        const owner = ScanCursorTable.ownerOf(cursor);
        if (owner === this.options.id || !this.options.members.has(owner)) return;
        const request: PeerRequest = { kind: "scan-cursor", cursor: cursor.toString() };
        try {
          const key = await this.#transport.request(owner, request, Math.min(this.options.requestTimeoutMs, 1000));
          if (key instanceof Uint8Array) this.scanCursors.adopt(cursor, key);
        } catch {
          // unresolved: SCAN answers "invalid cursor"
        }
      }),
    );
  }

  /** Asks a peer about itself; undefined when it does not answer in time (shown as unreachable). */
  async peerInfo(id: NodeId, timeoutMs: number): Promise<MemberInfo | undefined> {
    try {
      return (await this.#transport.request(id, { kind: "info" } satisfies PeerRequest, timeoutMs)) as MemberInfo;
    } catch {
      return undefined;
    }
  }

  /**
   * Ready to serve: a leader is known, this node has applied (nearly) all it knows to be committed, and — on a
   * follower — the leader finds it caught up. A follower learns the commit index only from the leader, so on
   * its own it cannot tell "caught up" from "the leader sends it nothing" (a member the leader cannot catch
   * up); the leader's replication tracker can, so a follower asks it.
   */
  async readiness(): Promise<Readiness> {
    const status = this.#host.raw.status();
    const appliedIndex = this.store.appliedIndex();
    const lagMax = this.options.readyApplyLagEntriesMax ?? nodeDefaults.readyApplyLagEntriesMax;
    const base = { leader: status.leaderId, term: status.term, commitIndex: status.commitIndex, appliedIndex };
    if (status.leaderId === NO_NODE) return { ...base, ready: false, reason: "No leader is known" };
    if (appliedIndex + lagMax < status.commitIndex) {
      return {
        ...base,
        ready: false,
        reason: `Applied index ${appliedIndex} trails the commit index ${status.commitIndex}`,
      };
    }
    if (status.role === "leader") return { ...base, ready: true };
    const leader = await this.peerInfo(status.leaderId, READINESS_LEADER_TIMEOUT_MS);
    if (leader === undefined) {
      return {
        ...base,
        ready: false,
        reason: `Leader ${status.leaderId} did not answer within ${READINESS_LEADER_TIMEOUT_MS} ms`,
      };
    }
    const replication = leader.replication?.[String(status.id)];
    if (replication === undefined || replication === "caught-up")
      return { ...base, ready: true, ...(replication === undefined ? {} : { replication }) };
    const lag = (leader.lastIndex ?? 0) - (leader.matchIndex?.[String(status.id)] ?? 0);
    return {
      ...base,
      ready: false,
      replication,
      reason: `Leader ${status.leaderId} reports this member ${replication} (${lag} entries behind)`,
    };
  }

  raftStatus(): ReturnType<RawNode["status"]> {
    return this.#host.raw.status();
  }

  hostCounters(): RaftHost["counters"] {
    return this.#host.counters;
  }
}

/** Binds the peer port, then settles which cluster the data directory belongs to (bootstrap.ts: a new member
 * waits here for the others); until the node is built, the transport answers only who this node is. */
async function joinCluster(
  options: NodeOptions,
  memberIds: readonly NodeId[],
  undo: (() => Promise<void> | void)[],
): Promise<{
  transport: PeerTransport;
  identity: ClusterIdentity;
  seen: MembersSeen;
  checks: PeerChecks;
  answerIdentity: (asker: NodeId) => IdentityAnswer;
}> {
  const self = options.members.get(options.id);
  if (self === undefined) throw new ShoalError("BAD_REQUEST", `Node ${options.id} is not among the members`);
  const clusterName = options.clusterName ?? nodeDefaults.clusterName;
  const seen = MembersSeen.load(options.dataDir);
  let identity = readIdentity(options.dataDir);
  const answerIdentity = (asker: NodeId): IdentityAnswer => ({
    nodeId: options.id,
    clusterId: identity?.clusterId,
    proposedClusterId: deriveClusterId(memberIds, clusterName),
    memberIds,
    hasSeenYou: seen.has(asker),
  });
  const peers = new Map<NodeId, string>();
  for (const [id, member] of options.members) if (id !== options.id) peers.set(id, member.peer);
  const listenAddress = options.peerListen ?? self.peer;
  const [listenHost, listenPort] = splitHostPort(listenAddress);
  let checks: PeerChecks | undefined;
  const transport = new PeerTransport({
    selfId: options.id,
    listenHost,
    listenPort,
    peers,
    logger: options.logger,
    onMisdirectedHello: (from, to) => checks?.misdirected(from, to),
  });
  // Until the node is built it answers only who it is (other members may be bootstrapping and asking).
  transport.onRequest(async (from, payload) => {
    if ((payload as PeerRequest | undefined)?.kind === "identity") return answerIdentity(from);
    throw new ShoalError("UNAVAILABLE", `Node ${options.id} is starting`);
  });
  await transport.start();
  undo.push(() => transport.stop());
  const askIdentity = async (peer: NodeId): Promise<IdentityAnswer> =>
    parseIdentityAnswer(await transport.request(peer, { kind: "identity" } satisfies PeerRequest, 1000));
  identity = await resolveIdentity({
    dataDir: options.dataDir,
    nodeId: options.id,
    memberIds,
    clusterName,
    ask: askIdentity,
    log: (message) => {
      options.logger.info(message);
      options.onStartupProgress?.(message);
    },
    retryIntervalMs: 250,
    stopped: () => false,
  });
  checks = new PeerChecks({
    identity,
    peers,
    listenAddress,
    ask: askIdentity,
    log: (level, message) => options.logger[level](message),
    intervalMs: PEER_CHECK_INTERVAL_MS,
  });
  return { transport, identity, seen, checks, answerIdentity };
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

/** The peer network Raft sees: messages from a peer found to belong to another cluster are dropped, and a
 * member's first message is recorded (identity.ts, MembersSeen) before Raft acts on it. */
function membersOnly(transport: PeerTransport, seen: MembersSeen, checks: PeerChecks): PeerNetwork {
  return {
    send: (messages) => transport.send(messages),
    onMessage: (handler) =>
      transport.onMessage((message) => {
        if (checks.isForeign(message.from)) return;
        seen.add(message.from);
        handler(message);
      }),
    request: (to, payload, timeoutMs) => transport.request(to, payload, timeoutMs),
    onRequest: (handler) => transport.onRequest(handler),
  };
}

function splitHostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ShoalError("BAD_REQUEST", `Cannot parse address "${address}": expected host:port`);
  }
  return [address.slice(0, colon), port];
}
