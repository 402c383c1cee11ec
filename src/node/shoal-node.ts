/**
 * @module A Shoal node: one Raft group (this version runs a single group; sharding comes later) with its WAL,
 * LMDB state machine and peer transport, plus the client-facing operations every front end uses. Any node
 * accepts any request: writes on a follower are forwarded to the leader, linearizable reads on a follower are
 * confirmed through ReadIndex and served from the local state machine.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { EMPTY_BYTES, keyId } from "../commands/bytes.js";
import type { Command, CommandResult, WatchedKey } from "../commands/command.js";
import { encodeCommand } from "../commands/command-codec.js";
import type { KeyValue } from "../commands/record.js";
import type { ScanCursors } from "../commands/redis/command-spec.js";
import { executeCommands } from "../commands/redis/execute.js";
import type { Reply } from "../commands/redis/reply.js";
import type { KeyspaceReader } from "../commands/write-set.js";
import { NodeDisk } from "../io/node/disk.js";
import { ShoalError } from "../lib/errors.js";
import { Prng } from "../lib/prng.js";
import { resolveRaftConfig } from "../raft/config.js";
import { MemoryStorage } from "../raft/memory-storage.js";
import { RawNode } from "../raft/raw-node.js";
import { type Entry, NO_NODE, type NodeId } from "../raft/types.js";
import { LmdbStore } from "../store/lmdb/lmdb-store.js";
import type { StateMachineStore } from "../store/state-machine-store.js";
import { PeerTransport } from "../transport/index.js";
import { Wal } from "../wal/wal.js";
import { ExpiryScanner } from "./expiry-scanner.js";
import { NodeMetrics } from "./node-metrics.js";
import { type NodeOptions, nodeDefaults } from "./node-options.js";
import { PubSubHub, type PubSubRequest } from "./pubsub-hub.js";
import { RaftHost } from "./raft-host.js";
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
}

type PeerRequest = { readonly kind: "propose"; readonly data: Uint8Array } | { readonly kind: "info" } | PubSubRequest;

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
    const transport = parts.transport;
    this.pubsub = new PubSubHub(
      {
        peerIds: () => [...options.members.keys()].filter((id) => id !== options.id),
        request: (to, payload, timeoutMs) => transport.request(to, payload, timeoutMs),
      },
      Math.min(options.requestTimeoutMs, 1000),
    );
    this.#expiry = new ExpiryScanner({
      store: parts.store,
      isLeader: () => this.#host.raw.status().role === "leader",
      propose: (command) => this.#host.propose(encodeCommand(command)),
      intervalMs: options.expiryScanIntervalMs,
      keysPerScanMax: options.expiryKeysPerScanMax,
    });
  }

  /** Opens (or recovers) the node's data directory and joins the cluster. */
  static async start(options: NodeOptions): Promise<ShoalNode> {
    await mkdir(options.dataDir, { recursive: true });
    const opened = await Wal.open(join(options.dataDir, "wal"), {
      disk: new NodeDisk(),
      fsync: options.fsync,
      batchIntervalMs: options.fsyncBatchIntervalMs,
    });
    const { wal, state } = opened;
    const voters = [...options.members.keys()].sort((a, b) => a - b);
    const storage = new MemoryStorage({ voters, learners: [] });
    const snapshots = new SnapshotFileStore(join(options.dataDir, "snapshots"));
    // LMDB commits are not fsynced: the WAL is the durable log. A process crash loses nothing (committed pages
    // are in the page cache); a machine crash may roll LMDB back to an older applied index, and recovery then
    // re-applies from the WAL — or, if it fell behind the last snapshot, restores the fsynced snapshot file
    // first. Either way the applied index and the data stay in one transaction, so nothing applies twice.
    const store = LmdbStore.open(join(options.dataDir, "state"), {
      syncCommits: false,
      historyRevisionsMax: options.watchHistoryRevisionsMax ?? nodeDefaults.watchHistoryRevisionsMax,
      historyBytesMax: options.watchHistoryBytesMax ?? nodeDefaults.watchHistoryBytesMax,
    });
    if (state.snapshot !== undefined) {
      const snapshot = await snapshots.load(state.snapshot.index);
      if (snapshot === undefined) {
        throw new ShoalError(
          "INTERNAL",
          `Cannot start: the WAL names snapshot ${state.snapshot.index} but its file is missing`,
        );
      }
      storage.applySnapshot(snapshot);
      // The store is normally at or past the snapshot; it is behind only if a crash hit a snapshot install.
      if (store.appliedIndex() < snapshot.metadata.index) await store.restore([snapshot.data]);
    }
    storage.append(state.entries.filter((entry: Entry) => entry.index >= storage.firstIndex()));
    storage.setHardState(state.hardState);
    const config = resolveRaftConfig({
      id: options.id,
      groupId: 1,
      electionTimeoutTicks: options.electionTimeoutTicks,
      heartbeatIntervalTicks: options.heartbeatIntervalTicks,
      ...options.raft,
    });
    const raw = new RawNode(config, storage, new Prng(options.randomSeed ?? Date.now() ^ (options.id * 7919)));
    const peers = new Map<NodeId, string>();
    for (const [id, member] of options.members) if (id !== options.id) peers.set(id, member.peer);
    const self = options.members.get(options.id);
    if (self === undefined) throw new ShoalError("BAD_REQUEST", `Node ${options.id} is not among the members`);
    const [listenHost, listenPort] = splitHostPort(options.peerListen ?? self.peer);
    const transport = new PeerTransport({
      selfId: options.id,
      listenHost,
      listenPort,
      peers,
      logger: transportLogger(options.logger),
    });
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
      },
      { node: String(options.id) },
    );
    const host = new RaftHost({
      raw,
      storage,
      wal,
      store,
      network: transport,
      snapshots,
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
    const node = new ShoalNode(options, { host, transport, wal, store, watches, metrics });
    transport.onRequest((from, payload) => node.#answerPeer(from, payload));
    transport.onPeerRefused((peerId) => host.leaderGone(peerId));
    await transport.start();
    host.start();
    node.#expiry.start();
    return node;
  }

  setHttpAddress(address: string): void {
    this.#httpAddress = address;
  }

  async stop(): Promise<void> {
    this.watches.close();
    this.#expiry.stop();
    await this.#host.stop();
    await this.#transport.stop();
    await this.#wal.close();
    await this.store.close();
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
    // The unsafe switch serves reads from local state without ReadIndex: a deposed leader or a lagging
    // follower then answers stale values, which the chaos checker must catch.
    if (!stale && this.options.unsafe?.staleReads !== true) await this.readBarrier();
    return this.store.get(key, Date.now());
  }

  /** Live keys starting with `prefix`, after `after`, at most `limit`: linearizable unless `stale`. */
  async range(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, stale = false): Promise<KeyValue[]> {
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
    const from = Math.min(...absent.map((watch) => watch.watchedAtRevision)) + 1;
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

  /** The keys' modRevision (0 when absent or expired) for Redis WATCH, with the group revision they were read
   * at: linearizable unless `stale`. */
  async watchRevisions(keys: readonly Uint8Array[], stale: boolean): Promise<WatchTicket[]> {
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
    };
  }

  /** Asks a peer about itself; undefined when it does not answer in time (shown as unreachable). */
  async peerInfo(id: NodeId, timeoutMs: number): Promise<MemberInfo | undefined> {
    try {
      return (await this.#transport.request(id, { kind: "info" } satisfies PeerRequest, timeoutMs)) as MemberInfo;
    } catch {
      return undefined;
    }
  }

  /** Ready to serve: a leader is known and this node has applied (nearly) all it knows to be committed. */
  readiness(): Readiness {
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
    return { ...base, ready: true };
  }

  raftStatus(): ReturnType<RawNode["status"]> {
    return this.#host.raw.status();
  }

  hostCounters(): RaftHost["counters"] {
    return this.#host.counters;
  }
}

function splitHostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ShoalError("BAD_REQUEST", `Cannot parse address "${address}": expected host:port`);
  }
  return [address.slice(0, colon), port];
}

function transportLogger(logger: Logger): {
  warn(message: string): void;
  error(message: string): void;
  info(message: string): void;
} {
  return {
    info: (message) => logger.info(message),
    warn: (message) => logger.warn(message),
    error: (message) => logger.error(message),
  };
}
