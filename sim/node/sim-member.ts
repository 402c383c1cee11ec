/**
 * @module One member of the node simulation: the production host loop (`RaftHost`) over the real WAL and snapshot
 * files on a simulated disk, the real command semantics in an in-memory store, and the real envelope codec over
 * the simulated network — started through the same recovery code as `shoal start` (src/node/recover-state.ts).
 *
 * Its disk (`SimDisk`) outlives its incarnations. A crash is a power loss: the incarnation's clock scope halts
 * (no timer fires again, no pending I/O completes), the disk keeps only what was synced (and maybe a torn or
 * garbled last write), and the in-memory store is gone, so a restart rebuilds the state machine from the snapshot
 * file and the WAL alone — the path a machine crash takes under LMDB without fsync.
 */
import { applyEntrySteps } from "../../src/commands/apply-command.js";
import type { CommandResult } from "../../src/commands/command.js";
import { assert } from "../../src/lib/assert.js";
import { ShoalError } from "../../src/lib/errors.js";
import { Prng } from "../../src/lib/prng.js";
import { LIVENESS_GROUP_ID, NodeLiveness } from "../../src/node/node-liveness.js";
import type { PeerNetwork, RaftLogWriter } from "../../src/node/ports.js";
import { RaftHost } from "../../src/node/raft-host.js";
import { recoverRaftStorage } from "../../src/node/recover-state.js";
import { SnapshotFileStore } from "../../src/node/snapshot-file.js";
import { type RaftConfig, resolveRaftConfig } from "../../src/raft/config.js";
import type { MemoryStorage } from "../../src/raft/memory-storage.js";
import { RawNode } from "../../src/raft/raw-node.js";
import type { NodeId, Role } from "../../src/raft/types.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import type { FsyncPolicy } from "../../src/wal/commit-queue.js";
import { Wal } from "../../src/wal/wal.js";
import type { ElectedHost } from "../checkers/election-safety.js";
import type { LogMatchingChecker } from "../checkers/log-matching.js";
import type { ClockScope, SimClock } from "../sim-clock.js";
import type { SimDisk } from "../sim-disk.js";
import type { NodeChecks } from "./node-checks.js";
import type { NodeMutation } from "./node-mutations.js";
import type { NodeNetwork } from "./node-network.js";

export interface MemberSettings {
  readonly voters: readonly NodeId[];
  readonly raft: Partial<Omit<RaftConfig, "id" | "groupId">>;
  readonly tickMs: number;
  readonly fsync: FsyncPolicy;
  readonly snapshotThresholdEntries: number;
  readonly snapshotRetainEntries: number;
  readonly requestTimeoutMs: number;
  readonly applySliceBytesMax: number;
  readonly mutation: NodeMutation | undefined;
}

export interface MemberWorld {
  readonly clock: SimClock;
  readonly network: NodeNetwork;
  readonly checks: NodeChecks;
  readonly logMatching: LogMatchingChecker;
  /** A member reported leadership of a term (Election Safety). */
  readonly leaderElected: (host: ElectedHost, term: number) => void;
  /** Something threw where it must not (an assertion of the host, the WAL or the store): fails the run. */
  readonly fatal: (id: NodeId, error: unknown) => void;
  readonly trace: (line: string) => void;
}

interface Running {
  readonly scope: ClockScope;
  readonly host: RaftHost;
  readonly store: MemoryStore<CommandResult>;
  readonly storage: MemoryStorage;
}

/** A client call still waiting on this incarnation: failed with UNKNOWN_OUTCOME if it dies. */
type PendingCall = (error: ShoalError) => void;

export class SimMember implements ElectedHost {
  readonly id: NodeId;
  readonly disk: SimDisk;
  incarnation = 0;
  #running: Running | undefined;
  #starting: ClockScope | undefined;
  readonly #settings: MemberSettings;
  readonly #world: MemberWorld;
  readonly #random: Prng;
  readonly #pending = new Set<PendingCall>();

  constructor(id: NodeId, disk: SimDisk, settings: MemberSettings, world: MemberWorld, random: Prng) {
    this.id = id;
    this.disk = disk;
    this.#settings = settings;
    this.#world = world;
    this.#random = random;
  }

  get up(): boolean {
    return this.#running !== undefined;
  }

  get down(): boolean {
    return this.#running === undefined && this.#starting === undefined;
  }

  get host(): RaftHost | undefined {
    return this.#running?.host;
  }

  get store(): MemoryStore<CommandResult> | undefined {
    return this.#running?.store;
  }

  role(): Role | undefined {
    return this.#running?.host.raw.status().role;
  }

  /** Starts an incarnation from the disk; it runs once the WAL and snapshot are recovered (in virtual time). */
  start(): void {
    assert(this.down, `Node ${this.id} is already running`);
    const scope = this.#world.clock.scope();
    this.#starting = scope;
    this.#open(scope).then(
      (running) => {
        if (scope.halted) return;
        this.#starting = undefined;
        this.#running = running;
        running.host.start();
      },
      (error: unknown) => {
        if (!scope.halted) this.#world.fatal(this.id, error);
      },
    );
  }

  /** A power loss: the process and everything not synced to the disk are gone. */
  crash(): void {
    assert(!this.down, `Node ${this.id} is already down`);
    (this.#running?.scope ?? this.#starting)?.halt();
    this.#running = undefined;
    this.#starting = undefined;
    this.#world.network.detach(this.id);
    this.disk.crash();
    this.incarnation++;
    const crashed = new ShoalError("UNKNOWN_OUTCOME", `Node ${this.id} crashed`);
    for (const fail of [...this.#pending]) fail(crashed);
    this.#pending.clear();
  }

  /** Runs a client call against this incarnation; a crash while it waits fails it with UNKNOWN_OUTCOME. */
  call<T>(work: (host: RaftHost, store: MemoryStore<CommandResult>) => Promise<T>): Promise<T> {
    const running = this.#running;
    if (running === undefined) return Promise.reject(new ShoalError("UNAVAILABLE", `Node ${this.id} is down`));
    return new Promise<T>((resolve, reject) => {
      const fail: PendingCall = (error) => reject(error);
      this.#pending.add(fail);
      work(running.host, running.store).then(
        (value) => {
          if (!this.#pending.delete(fail)) return;
          resolve(value);
        },
        (error: unknown) => {
          if (!this.#pending.delete(fail)) return;
          reject(error);
        },
      );
    });
  }

  async #open(scope: ClockScope): Promise<Running> {
    const settings = this.#settings;
    const world = this.#world;
    const disk = this.disk.view();
    const { wal, state } = await Wal.open("/wal", {
      disk,
      fsync: settings.fsync,
      batchIntervalMs: 2,
      delay: (ms) => new Promise((resolve) => scope.setTimeout(resolve, ms)),
      segmentBytesMax: 16 * 1024,
      unsafe: settings.mutation?.wal ?? {},
    });
    const snapshots = new SnapshotFileStore("/snapshots", disk);
    const store = new MemoryStore<CommandResult>({
      applier: applyEntrySteps,
      nextTurn: () => scope.nextTurn(),
      snapshotChunkSizeBytes: 4096,
    });
    watchApplies(this.id, store, world.checks);
    const storage = await recoverRaftStorage(state, snapshots, store, settings.voters);
    if (this.incarnation > 0) world.checks.recovered(this.id, storage);
    const config = resolveRaftConfig({ ...settings.raft, id: this.id, groupId: 1 });
    const raw = new RawNode(config, storage, new Prng(this.#random.int(2 ** 31)));
    let readyTerm = storage.initialState().hardState.term;
    const network = world.network.attach(this.id);
    // Quiet idle groups need node-level liveness (node-liveness.ts), as the real node runs it.
    const liveness = config.quiesce
      ? new NodeLiveness({
          selfId: this.id,
          peerIds: settings.voters.filter((id) => id !== this.id),
          clock: scope,
          pingIntervalMs: settings.tickMs * config.heartbeatIntervalTicks,
          silentAfterMs: settings.tickMs * config.electionTimeoutTicks,
          send: (messages) => network.send(messages),
        })
      : undefined;
    const host = new RaftHost({
      raw,
      storage,
      wal: recordingWal(this.id, wal, storage, world),
      store,
      network: liveness === undefined ? network : livenessFiltered(network, liveness),
      snapshots,
      clock: scope,
      tickMs: settings.tickMs,
      snapshotThresholdEntries: settings.snapshotThresholdEntries,
      snapshotRetainEntries: settings.snapshotRetainEntries,
      proposalTimeoutMs: settings.requestTimeoutMs,
      lostLeadershipGraceMs: 2 * settings.tickMs * (config.electionTimeoutTicks ?? 10),
      campaignStaggerMs: 2 * settings.tickMs,
      readTimeoutMs: settings.requestTimeoutMs,
      applySliceBytesMax: settings.applySliceBytesMax,
      onFatal: (error) => world.fatal(this.id, error),
      onReady: (ready) => {
        // The term the Ready was made in: the last hard state handed out up to it. Not raw.status().term — onReady
        // runs after the Ready was persisted, and a slow disk gives the term time to move on (a leader of term 44
        // seen as leading 45 once it stepped down to a vote request: a false "two leaders" found this way).
        if (ready.hardState !== undefined) readyTerm = ready.hardState.term;
        if (ready.softState?.role === "leader") world.leaderElected(this, readyTerm);
      },
      unsafe: settings.mutation?.host ?? {},
      ...(liveness === undefined ? {} : { peerLive: (id: NodeId) => liveness.isLive(id) }),
    });
    liveness?.start();
    world.trace(
      `node ${this.id} started (incarnation ${this.incarnation}), log ${storage.firstIndex()}..${storage.lastIndex()}`,
    );
    return { scope, host, store, storage };
  }
}

/** The network as a host sees it behind node-level liveness: every arrival is heard, pings go no further (what
 * the real node's GroupRouter does). */
function livenessFiltered(network: PeerNetwork, liveness: NodeLiveness): PeerNetwork {
  return {
    ...network,
    onMessage: (handler) =>
      network.onMessage((message) => {
        liveness.heard(message.from);
        if (message.groupId !== LIVENESS_GROUP_ID) handler(message);
      }),
  };
}

/** The WAL as the host sees it, with the checkers told before a save is written and once it is durable. */
function recordingWal(id: NodeId, wal: Wal, storage: MemoryStorage, world: MemberWorld): RaftLogWriter {
  const persisting = { id, disk: storage };
  return {
    save: async (batch) => {
      world.logMatching.willPersist(persisting, batch.entries);
      world.checks.willSave(id, batch);
      await wal.save(batch);
      world.checks.saved(id, batch);
    },
    compact: (index) => wal.compact(index),
    close: () => wal.close(),
  };
}

/** The store's applies go by the checkers first (State Machine Safety, committed durability). */
function watchApplies(id: NodeId, store: MemoryStore<CommandResult>, checks: NodeChecks): void {
  const applyEntries = store.applyEntries.bind(store);
  store.applyEntries = (entries) => {
    checks.willApply(id, entries, store.appliedIndex());
    return applyEntries(entries);
  };
}
