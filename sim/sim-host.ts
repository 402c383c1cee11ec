/**
 * @module SimHost: one simulated Shoal node hosting one Raft group — the "model host". It drives a RawNode exactly
 * as the real node loop will (the order documented on `Ready`): install a snapshot, persist entries and hard
 * state, send messages, apply committed entries and serve reads, advance, and compact now and then.
 *
 * Its `disk` is a MemoryStorage that survives crashes: a crash discards the RawNode, the state machine and every
 * pending read, and a restart rebuilds them from the disk alone, as a real process restart would. Anything the
 * host had not yet written to the disk is lost; that is the point of persisting before sending (paper, Figure 2:
 * "respond to RPCs only after updating stable storage").
 */
import { assert } from "../src/lib/assert.js";
import type { Random } from "../src/lib/prng.js";
import { type RaftConfig, resolveRaftConfig } from "../src/raft/config.js";
import { DataLossError } from "../src/raft/data-loss.js";
import { MemoryStorage } from "../src/raft/memory-storage.js";
import { type RaftStatus, RawNode } from "../src/raft/raw-node.js";
import { splitMessagesByDurability } from "../src/raft/ready-order.js";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  ProposalResult,
  Ready,
  Snapshot,
} from "../src/raft/types.js";
import type { HostObserver } from "./observer.js";
import { SimStateMachine, SnapshotDecodeError } from "./state-machine.js";

export type RaftOverrides = Partial<Omit<RaftConfig, "id" | "groupId">>;

export interface HostSettings {
  readonly id: NodeId;
  readonly groupId: number;
  readonly initialVoters: readonly NodeId[];
  readonly raft: RaftOverrides;
  /** Take a snapshot once this many entries were applied past the last one (0: never). */
  readonly snapshotEveryEntries: number;
  /** Entries kept in the log behind a snapshot, so a slightly lagging follower still gets entries. */
  readonly snapshotRetainEntries: number;
  /** UNSAFE (mutation tests): what the host persists only after sending a Ready's messages. `hardState`: a
   * crash right after a vote grant forgets the vote. `all`: entries too, so an acknowledged append can be lost. */
  readonly persistAfterSend: "nothing" | "hardState" | "all";
  /** UNSAFE (mutation test): serve reads from the local state machine at once, without ReadIndex. */
  readonly localReads: boolean;
  /** A DataLossError from the core halts this host for good (as the real node stops its process) instead of
   * failing the run: for runs that wipe disks on purpose. Off in every other run, where any data loss is a bug. */
  readonly haltOnDataLoss?: boolean;
}

/** Where a host crashes while handling one Ready. `afterSend` is after persisting when the host is correct. */
export type CrashPoint = "none" | "beforePersist" | "afterSend";

export interface HostEnvironment {
  readonly observer: Required<HostObserver>;
  send(message: Message): void;
  crashPoint(host: SimHost, ready: Ready): CrashPoint;
  /** A fresh random stream for each incarnation of each node (election timeouts). */
  nodeRandom(id: NodeId, incarnation: number): Random;
}

/** Bound on Readies handled after one input: a core that never quiesces is a bug, not a slow run. */
const READY_LOOP_MAX = 10_000;

export class SimHost {
  readonly id: NodeId;
  /** Replaced only by `wipe()` (a lost disk). */
  disk: MemoryStorage;
  /** Why the node stopped itself for good (see HostSettings.haltOnDataLoss); undefined while it may run. */
  halted: DataLossError | undefined;
  readonly settings: HostSettings;
  /** Counts restarts; the workload uses it to tell a proposal's host incarnation apart. */
  incarnation = 0;
  readonly #env: HostEnvironment;
  #node: RawNode | undefined;
  #machine: SimStateMachine | undefined;
  /** ReadStates received and waiting for the state machine to reach their index. */
  #readsWaiting: { context: string; index: number }[] = [];
  /** The index of the snapshot the state machine was last restored from (0: built empty). */
  #restoredIndex = 0;

  constructor(settings: HostSettings, env: HostEnvironment) {
    this.id = settings.id;
    this.settings = settings;
    this.#env = env;
    const bootstrap: ConfState = { voters: [...settings.initialVoters], learners: [] };
    this.disk = new MemoryStorage(bootstrap);
  }

  get alive(): boolean {
    return this.#node !== undefined;
  }

  get node(): RawNode {
    assert(this.#node !== undefined, `Node ${this.id} is down`);
    return this.#node;
  }

  get machine(): SimStateMachine {
    assert(this.#machine !== undefined, `Node ${this.id} is down`);
    return this.#machine;
  }

  /** Builds the node from its disk: the state machine from the disk's snapshot, Raft from the rest. */
  start(): void {
    assert(this.#node === undefined, `Node ${this.id} is already running`);
    assert(this.halted === undefined, `Node ${this.id} stopped itself: ${this.halted?.message}`);
    const snapshot = this.disk.snapshot();
    const machine = snapshot.metadata.index > 0 ? SimStateMachine.fromBytes(snapshot.data) : new SimStateMachine();
    const config = resolveRaftConfig({ ...this.settings.raft, id: this.id, groupId: this.settings.groupId });
    const bootstrap: ConfState = { voters: [...this.settings.initialVoters], learners: [] };
    this.#machine = machine;
    this.#restoredIndex = machine.appliedIndex;
    this.#node = new RawNode(config, this.disk, this.#env.nodeRandom(this.id, this.incarnation), bootstrap);
    if (this.incarnation > 0) {
      this.#env.observer.stateRestored(this, machine, "restart");
      this.#env.observer.restarted(this);
    }
    this.drain();
  }

  /** Loses everything that is not on the disk. */
  crash(): void {
    assert(this.#node !== undefined, `Node ${this.id} is already down`);
    this.#node = undefined;
    this.#machine = undefined;
    this.#readsWaiting = [];
    this.incarnation++;
    this.#env.observer.crashed(this);
  }

  /** A lost disk: the node crashes (if it runs) and its storage is replaced by an empty one. A restart then
   * comes back empty under the same id — what Raft assumes never happens, and what the node must detect. */
  wipe(): void {
    if (this.alive) this.crash();
    this.disk = new MemoryStorage({ voters: [...this.settings.initialVoters], learners: [] });
  }

  status(): RaftStatus | undefined {
    return this.#node?.status();
  }

  tick(): void {
    this.#haltOnDataLoss(() => this.node.tick());
    this.drain();
  }

  step(message: Message): void {
    this.#haltOnDataLoss(() => this.node.step(message));
    this.drain();
  }

  #haltOnDataLoss(action: () => void): void {
    try {
      action();
    } catch (error) {
      if (!(error instanceof DataLossError) || this.settings.haltOnDataLoss !== true) throw error;
      this.halted = error;
      this.crash();
    }
  }

  propose(data: Uint8Array): ProposalResult {
    const result = this.node.propose(data);
    this.drain();
    return result;
  }

  /** Proposes a batch and then handles the Readies once (the benchmark's batched host iteration). */
  proposeMany(batch: readonly Uint8Array[]): number {
    let accepted = 0;
    for (const data of batch) if (this.node.propose(data).accepted) accepted++;
    this.drain();
    return accepted;
  }

  proposeConfChange(change: ConfChange): ProposalResult {
    const result = this.node.proposeConfChange(change);
    this.drain();
    return result;
  }

  readIndex(context: string): boolean {
    if (this.settings.localReads) {
      const machine = this.machine;
      this.#env.observer.readServed(this, context, machine.appliedIndex, machine);
      return true;
    }
    const known = this.node.readIndex(context);
    this.drain();
    return known;
  }

  transferLeader(target: NodeId): void {
    this.node.transferLeader(target);
    this.drain();
  }

  campaign(): void {
    this.node.campaign();
    this.drain();
  }

  /** Handles Readies until the node has nothing more to say (or the host crashed while handling one). */
  drain(): void {
    for (let i = 0; this.#node?.hasReady() === true; i++) {
      assert(i < READY_LOOP_MAX, `Node ${this.id} produced Readies without end`);
      this.#handleReady(this.#node, this.#node.ready());
    }
  }

  #handleReady(node: RawNode, ready: Ready): void {
    const crashPoint = this.#env.crashPoint(this, ready);
    const late = this.settings.persistAfterSend;
    // As the real host: a leader's AppendEntries may leave before its own write (raft/ready-order.ts); a crash
    // "before persisting" then lands after they were sent, which is exactly the window that rule must survive.
    const split = late === "nothing" ? splitMessagesByDurability(ready, this.disk.hardState()) : undefined;
    if (split !== undefined) this.#sendMessages(split.beforePersist);
    if (crashPoint === "beforePersist") {
      this.crash();
      return;
    }
    if (ready.snapshot !== undefined) this.#installSnapshot(ready.snapshot);
    if (late !== "nothing") {
      if (late === "hardState") this.#persist(ready.entries, undefined);
      this.#send(ready);
      if (crashPoint === "afterSend") {
        this.crash();
        return;
      }
      this.#persist(late === "all" ? ready.entries : [], ready.hardState);
    } else {
      this.#persist(ready.entries, ready.hardState);
      this.#sendMessages(split?.afterPersist ?? ready.messages);
      if (crashPoint === "afterSend") {
        this.crash();
        return;
      }
    }
    if (ready.softState?.role === "leader") this.#env.observer.leaderElected(this, node.status().term);
    this.#apply(ready);
    for (const read of ready.readStates) this.#readsWaiting.push({ context: read.context, index: read.index });
    node.advance(ready);
    this.#serveReads();
    this.#maybeSnapshot(node);
  }

  #persist(entries: readonly Entry[], hardState: HardState | undefined): void {
    const observer = this.#env.observer;
    observer.willPersist(this, entries, hardState);
    this.disk.append(entries);
    if (hardState !== undefined) this.disk.setHardState(hardState);
    observer.persisted(this, entries, hardState);
  }

  #send(ready: Ready): void {
    this.#sendMessages(ready.messages);
  }

  #sendMessages(messages: readonly Message[]): void {
    for (const message of messages) {
      this.#env.observer.messageSent(message);
      this.#env.send(message);
    }
  }

  /** A snapshot that does not decode (a chunking or transfer bug) is reported and stops the run. */
  #installSnapshot(snapshot: Snapshot): void {
    let machine: SimStateMachine;
    try {
      machine = SimStateMachine.fromBytes(snapshot.data);
    } catch (error) {
      if (!(error instanceof SnapshotDecodeError)) throw error;
      this.#env.observer.snapshotCorrupt(this, snapshot, error.message);
      throw new Error(
        `Node ${this.id} received a snapshot at ${snapshot.metadata.index} that does not decode: ${error.message}`,
      );
    }
    this.#env.observer.willInstallSnapshot(this, snapshot);
    this.disk.applySnapshot(snapshot);
    this.#machine = machine;
    this.#restoredIndex = machine.appliedIndex;
    this.#env.observer.stateRestored(this, machine, "install");
  }

  #apply(ready: Ready): void {
    const machine = this.machine;
    const observer = this.#env.observer;
    for (const entry of ready.committedEntries) {
      // After a restart Raft hands out entries from its first log index, which may be below the snapshot the
      // state machine was restored from (Ready's contract): the host skips what that snapshot covers. Anything
      // else at or below the applied index goes to the checkers as a re-application.
      if (entry.index <= this.#restoredIndex) continue;
      observer.willApply(this, entry, machine);
      machine.apply(entry);
      observer.applied(this, entry, machine);
    }
  }

  /** Serves every waiting read the state machine has caught up with (thesis 6.4, step 4). */
  #serveReads(): void {
    if (this.#readsWaiting.length === 0) return;
    const machine = this.machine;
    const still: { context: string; index: number }[] = [];
    for (const read of this.#readsWaiting) {
      if (machine.appliedIndex >= read.index) this.#env.observer.readServed(this, read.context, read.index, machine);
      else still.push(read);
    }
    this.#readsWaiting = still;
  }

  /** Log compaction (paper, section 7): snapshot the state machine at the applied index, then drop the log up
   * to `retain` entries behind it. Done after advance() so the membership in the snapshot is the one at the
   * applied index (the core applies conf changes during advance). */
  #maybeSnapshot(node: RawNode): void {
    const every = this.settings.snapshotEveryEntries;
    const machine = this.machine;
    if (every === 0 || machine.appliedIndex - this.disk.snapshot().metadata.index < every) return;
    if (machine.appliedIndex > this.disk.lastIndex()) return;
    this.disk.createSnapshot(machine.appliedIndex, node.status().confState, machine.toBytes());
    this.disk.compact(Math.max(0, machine.appliedIndex - this.settings.snapshotRetainEntries));
  }
}
