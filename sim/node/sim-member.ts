/**
 * @module One member of the node simulation: the production host loop (`RaftHost`) over the real WAL and snapshot
 * files on a simulated disk, the real command semantics in an in-memory store, and the real envelope codec over
 * the simulated network — started through the same recovery code as `shoal start` (src/node/recover-state.ts).
 *
 * A member hosts one Raft group or several (shards: each its own host, WAL, snapshots and store under
 * `/groups/<g>/`, group 1 at the top as on a real node), over one network attachment and one node-level liveness,
 * as the real node does (src/node/shoal-node.ts, group-router.ts).
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
import type { GroupId, Message, NodeId, Role } from "../../src/raft/types.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import type { FsyncPolicy } from "../../src/wal/commit-queue.js";
import { Wal } from "../../src/wal/wal.js";
import type { ElectedHost } from "../checkers/election-safety.js";
import type { LogMatchingChecker } from "../checkers/log-matching.js";
import type { ClockScope, SimClock } from "../sim-clock.js";
import type { SimDisk } from "../sim-disk.js";
import type { NodeChecks } from "./node-checks.js";
import { type NodeMutation, slotUnsafeApplier } from "./node-mutations.js";
import type { NodeNetwork } from "./node-network.js";

export interface MemberSettings {
  readonly voters: readonly NodeId[];
  /** The Raft groups every member hosts (1 and up; each a voter set of `voters`). */
  readonly groups: readonly GroupId[];
  readonly raft: Partial<Omit<RaftConfig, "id" | "groupId">>;
  readonly tickMs: number;
  readonly fsync: FsyncPolicy;
  readonly snapshotThresholdEntries: number;
  readonly snapshotRetainEntries: number;
  readonly requestTimeoutMs: number;
  readonly applySliceBytesMax: number;
  readonly mutation: NodeMutation | undefined;
}

/** One group's checkers: each group is its own Raft log, with its own terms and indexes. */
export interface GroupWorld {
  readonly checks: NodeChecks;
  readonly logMatching: LogMatchingChecker;
  /** A member reported leadership of a term of this group (Election Safety). */
  readonly leaderElected: (host: ElectedHost, term: number) => void;
}

export interface MemberWorld {
  readonly clock: SimClock;
  readonly network: NodeNetwork;
  readonly groups: ReadonlyMap<GroupId, GroupWorld>;
  /** Something threw where it must not (an assertion of the host, the WAL or the store): fails the run. */
  readonly fatal: (id: NodeId, error: unknown) => void;
  readonly trace: (line: string) => void;
}

interface GroupRunning {
  readonly host: RaftHost;
  readonly store: MemoryStore<CommandResult>;
  readonly storage: MemoryStorage;
}

interface Running {
  readonly scope: ClockScope;
  readonly groups: ReadonlyMap<GroupId, GroupRunning>;
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

  /** Group 1's host (the nemesis's and the hostile client's target). */
  get host(): RaftHost | undefined {
    return this.hostOf(1);
  }

  hostOf(group: GroupId): RaftHost | undefined {
    return this.#running?.groups.get(group)?.host;
  }

  storeOf(group: GroupId): MemoryStore<CommandResult> | undefined {
    return this.#running?.groups.get(group)?.store;
  }

  /** The clock scope of the running incarnation (halted when it crashes). */
  get scope(): ClockScope | undefined {
    return this.#running?.scope;
  }

  /** Its role in group 1. */
  role(): Role | undefined {
    return this.roleOf(1);
  }

  roleOf(group: GroupId): Role | undefined {
    return this.hostOf(group)?.raw.status().role;
  }

  /** Every group's host of this incarnation. */
  hosts(): RaftHost[] {
    return [...(this.#running?.groups.values() ?? [])].map((group) => group.host);
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
        for (const group of running.groups.values()) group.host.start();
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

  /** Runs a client call against group `group` of this incarnation; a crash while it waits fails it with
   * UNKNOWN_OUTCOME. */
  call<T>(group: GroupId, work: (host: RaftHost, store: MemoryStore<CommandResult>) => Promise<T>): Promise<T> {
    const running = this.#running?.groups.get(group);
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
    const config = resolveRaftConfig({ ...settings.raft, id: this.id, groupId: 1 });
    const network = world.network.attach(this.id);
    // Quiet idle groups need node-level liveness (node-liveness.ts), as the real node runs it: one per member,
    // whatever its group count, made once the groups are open (as the real node starts it after them).
    let liveness: NodeLiveness | undefined;
    const peerLive = config.quiesce ? (id: NodeId) => liveness?.isLive(id) ?? true : undefined;
    // Every arrival is heard; pings go no further; the rest goes to its group's host (the real GroupRouter).
    const handlers = new Map<GroupId, (message: Message) => void>();
    network.onMessage((message) => {
      liveness?.heard(message.from);
      if (message.groupId !== LIVENESS_GROUP_ID) handlers.get(message.groupId)?.(message);
    });
    const groups = new Map<GroupId, GroupRunning>();
    for (const group of settings.groups) {
      const groupNetwork: PeerNetwork = {
        ...network,
        onMessage: (handler) => {
          handlers.set(group, handler);
        },
      };
      groups.set(group, await this.#openGroup(scope, group, groupNetwork, peerLive));
    }
    if (config.quiesce) {
      liveness = new NodeLiveness({
        selfId: this.id,
        peerIds: settings.voters.filter((id) => id !== this.id),
        clock: scope,
        pingIntervalMs: settings.tickMs * config.heartbeatIntervalTicks,
        silentAfterMs: settings.tickMs * config.electionTimeoutTicks,
        send: (messages) => network.send(messages),
      });
      liveness.start();
    }
    return { scope, groups };
  }

  async #openGroup(
    scope: ClockScope,
    group: GroupId,
    network: PeerNetwork,
    peerLive: ((id: NodeId) => boolean) | undefined,
  ): Promise<GroupRunning> {
    const settings = this.#settings;
    const world = this.#world;
    const groupWorld = world.groups.get(group);
    assert(groupWorld !== undefined, `group ${group} has checkers`);
    const dir = group === 1 ? "" : `/groups/${group}`;
    const disk = this.disk.view();
    const { wal, state } = await Wal.open(`${dir}/wal`, {
      disk,
      fsync: settings.fsync,
      batchIntervalMs: 2,
      delay: (ms) => new Promise((resolve) => scope.setTimeout(resolve, ms)),
      pause: () => scope.nextTurn(),
      segmentBytesMax: 16 * 1024,
      unsafe: settings.mutation?.wal ?? {},
    });
    const snapshots = new SnapshotFileStore(`${dir}/snapshots`, disk, () => scope.nextTurn());
    const slotUnsafe = settings.mutation?.slots;
    const store = new MemoryStore<CommandResult>({
      applier: slotUnsafe === undefined ? applyEntrySteps : slotUnsafeApplier(slotUnsafe),
      nextTurn: () => scope.nextTurn(),
      snapshotChunkSizeBytes: 4096,
    });
    watchApplies(this.id, store, groupWorld.checks);
    const storage = await recoverRaftStorage(state, snapshots, store, settings.voters);
    if (this.incarnation > 0) groupWorld.checks.recovered(this.id, storage);
    const config = resolveRaftConfig({ ...settings.raft, id: this.id, groupId: group });
    const raw = new RawNode(config, storage, new Prng(this.#random.int(2 ** 31)));
    let readyTerm = storage.initialState().hardState.term;
    const host = new RaftHost({
      raw,
      storage,
      wal: recordingWal(this.id, wal, storage, groupWorld),
      store,
      network,
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
        if (ready.softState?.role === "leader") groupWorld.leaderElected(this, readyTerm);
      },
      unsafe: settings.mutation?.host ?? {},
      ...(peerLive === undefined ? {} : { peerLive }),
    });
    world.trace(
      `node ${this.id} group ${group} started (incarnation ${this.incarnation}), log ${storage.firstIndex()}..${storage.lastIndex()}`,
    );
    return { host, store, storage };
  }
}

/** The WAL as the host sees it, with the checkers told before a save is written and once it is durable. */
function recordingWal(id: NodeId, wal: Wal, storage: MemoryStorage, world: GroupWorld): RaftLogWriter {
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
