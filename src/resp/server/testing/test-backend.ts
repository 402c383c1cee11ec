/**
 * @module A RedisBackend for tests: one MapStateMachine as the "log" (every runInLog is one applied entry), reads
 * served straight from it, and an in-memory pub/sub hub. Failures and delays can be injected to test how the
 * server maps backend rejections and keeps order while a batch is in flight.
 */
import { encodeCommand } from "../../../commands/command-codec.js";
import type { ScanCursors } from "../../../commands/redis/command-spec.js";
import { executeCommands } from "../../../commands/redis/execute.js";
import { globMatch } from "../../../commands/redis/glob.js";
import type { Reply } from "../../../commands/redis/reply.js";
import { ScanCursorTable } from "../../../commands/redis/scan-cursor-table.js";
import { MapStateMachine } from "../../../commands/testing/map-state-machine.js";
import { assert } from "../../../lib/assert.js";
import type { ShoalError } from "../../../lib/errors.js";
import { Prng } from "../../../lib/prng.js";
import type { WriteOrder } from "../../../node/write-order.js";
import { keysInSlotOf } from "../../../slots/hash-slot.js";
import { isLive } from "../../../store/record.js";
import type {
  ClusterTopology,
  LogOutcome,
  NodeFacts,
  PubSub,
  PubSubMessage,
  RedisBackend,
  Subscriber,
  WatchTicket,
} from "../backend.js";

function idOf(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("latin1");
}

function bytesOf(id: string): Uint8Array {
  return new Uint8Array(Buffer.from(id, "latin1"));
}

/** Subscriptions of one process, delivering synchronously. */
export class InMemoryPubSub implements PubSub {
  readonly #channels = new Map<string, Set<Subscriber>>();
  readonly #patterns = new Map<string, Set<Subscriber>>();

  subscribe(subscriber: Subscriber, channel: Uint8Array): void {
    add(this.#channels, idOf(channel), subscriber);
  }
  unsubscribe(subscriber: Subscriber, channel: Uint8Array): void {
    remove(this.#channels, idOf(channel), subscriber);
  }
  psubscribe(subscriber: Subscriber, pattern: Uint8Array): void {
    add(this.#patterns, idOf(pattern), subscriber);
  }
  punsubscribe(subscriber: Subscriber, pattern: Uint8Array): void {
    remove(this.#patterns, idOf(pattern), subscriber);
  }
  drop(subscriber: Subscriber): void {
    for (const id of [...this.#channels.keys()]) remove(this.#channels, id, subscriber);
    for (const id of [...this.#patterns.keys()]) remove(this.#patterns, id, subscriber);
  }
  async publish(channel: Uint8Array, message: Uint8Array): Promise<number> {
    let receivers = 0;
    for (const subscriber of this.#channels.get(idOf(channel)) ?? []) {
      subscriber.deliver({ channel, message });
      receivers++;
    }
    for (const [id, subscribers] of this.#patterns) {
      const pattern = bytesOf(id);
      if (!globMatch(pattern, channel)) continue;
      for (const subscriber of subscribers) {
        const delivery: PubSubMessage = { channel, message, pattern };
        subscriber.deliver(delivery);
        receivers++;
      }
    }
    return receivers;
  }
  async channels(pattern: Uint8Array | undefined): Promise<Uint8Array[]> {
    return [...this.#channels.keys()]
      .map(bytesOf)
      .filter((channel) => pattern === undefined || globMatch(pattern, channel));
  }
  async numsub(channels: readonly Uint8Array[]): Promise<number[]> {
    return channels.map((channel) => this.#channels.get(idOf(channel))?.size ?? 0);
  }
  async numpat(): Promise<number> {
    let total = 0;
    for (const subscribers of this.#patterns.values()) total += subscribers.size;
    return total;
  }
}

function add(map: Map<string, Set<Subscriber>>, id: string, subscriber: Subscriber): void {
  let set = map.get(id);
  if (set === undefined) {
    set = new Set();
    map.set(id, set);
  }
  set.add(subscriber);
}

function remove(map: Map<string, Set<Subscriber>>, id: string, subscriber: Subscriber): void {
  const set = map.get(id);
  if (set === undefined) return;
  set.delete(subscriber);
  if (set.size === 0) map.delete(id);
}

export class TestBackend implements RedisBackend {
  readonly machine = new MapStateMachine();
  readonly pubsub = new InMemoryPubSub();
  readonly cursors = new ScanCursorTable({ ownerId: 1 });
  /** Every runInLog call's argvs, in order (one entry each). */
  readonly entries: (readonly (readonly Uint8Array[])[])[] = [];
  /** Every runReads call: its size and staleness. */
  readonly readBatches: { size: number; stale: boolean }[] = [];
  /** When set, the next runInLog/runReads rejects with it (once). */
  failNext: ShoalError | undefined;
  /** Delay before each backend call resolves (ms), to keep batches in flight. */
  delayMs = 0;
  /** When set, a write run without WATCH is applied at once, in call order, and marked placed (write-order.ts):
   * the connection may hand over its next run while this one's answer waits out `delayMs` — and the answers come
   * back in reverse order of the runs in flight, to show the connection keeps its replies in request order. */
  placesRuns = false;
  /** The most runs in flight at once (handed over, not answered) in placesRuns mode. */
  runsInFlightMax = 0;
  #runsInFlight = 0;
  /** Runs answered later than a newer one (placesRuns mode): each was held until the newer one's answer. */
  #heldAnswers: (() => void)[] = [];
  /** Every order handed over, in call order. */
  readonly orders: WriteOrder[] = [];

  async runInLog(
    argvs: readonly (readonly Uint8Array[])[],
    watches?: readonly WatchTicket[],
    _atomic?: boolean,
    order?: WriteOrder,
  ): Promise<LogOutcome> {
    if (this.placesRuns && order !== undefined && watches === undefined) return this.#placed(argvs, order);
    await this.#pause();
    this.#maybeFail();
    return this.#apply(argvs, watches);
  }

  async #placed(argvs: readonly (readonly Uint8Array[])[], order: WriteOrder): Promise<LogOutcome> {
    order.placed = true;
    this.orders.push(order);
    const outcome = this.#apply(argvs, undefined);
    this.#runsInFlight++;
    this.runsInFlightMax = Math.max(this.runsInFlightMax, this.#runsInFlight);
    // The newest run answers after the delay; the ones before it wait for it, then answer newest first.
    const held = this.#heldAnswers;
    this.#heldAnswers = [];
    await new Promise<void>((resolve) => {
      this.#heldAnswers.push(resolve);
      setTimeout(() => {
        if (!this.#heldAnswers.includes(resolve)) return; // a newer run took it over
        this.#heldAnswers = [];
        resolve();
      }, this.delayMs);
    });
    for (const release of held.reverse()) setImmediate(release);
    this.#runsInFlight--;
    return outcome;
  }

  #apply(argvs: readonly (readonly Uint8Array[])[], watches: readonly WatchTicket[] | undefined): LogOutcome {
    this.entries.push(argvs);
    const command =
      watches === undefined
        ? { op: "redis" as const, nowMs: Date.now(), argvs }
        : { op: "redis" as const, nowMs: Date.now(), argvs, watches };
    encodeCommand(command); // validated and bounded as the node validates what it proposes (throws ShoalError)
    const result = this.machine.apply(command);
    assert(result.kind === "redis", `a redis entry applied as ${result.kind}`);
    return { aborted: result.aborted, replies: result.replies };
  }

  async runReads(argvs: readonly (readonly Uint8Array[])[], stale: boolean, cursors: ScanCursors): Promise<Reply[]> {
    await this.#pause();
    this.#maybeFail();
    this.readBatches.push({ size: argvs.length, stale });
    return executeCommands(this.machine, undefined, argvs, {
      nowMs: Math.max(Date.now(), this.machine.state.clockMs),
      revision: this.machine.state.revision,
      random: new Prng(1),
      cursors,
    });
  }

  /** Tokens carry the group revision, but this backend checks only modRevisions at EXEC (it keeps no history:
   * a key created and deleted again between WATCH and EXEC goes unnoticed here; the node checks its history). */
  async watchRevisions(keys: readonly Uint8Array[], _stale: boolean): Promise<WatchTicket[]> {
    const now = Math.max(Date.now(), this.machine.state.clockMs);
    const watchedAtRevision = this.machine.state.revision;
    return keys.map((key) => {
      const record = this.machine.getRecord(key);
      return {
        key,
        modRevision: record !== undefined && isLive(record, now) ? record.modRevision : 0,
        watchedAtRevision,
        slotMove: 0,
      };
    });
  }

  /** The Raft role facts() and role() report (a test turns this node into a follower). */
  raftRole = "leader";

  /** What clusterTopology() answers: this node (1) leads two replicas, one of them unreachable. */
  topology: Omit<ClusterTopology, "shards"> & { shards?: ClusterTopology["shards"] } = {
    selfId: 1,
    clusterId: "test-cluster",
    leaderId: 1,
    term: 3,
    members: [
      { id: 1, resp: "127.0.0.1:7001", peer: "127.0.0.1:7101", reachable: true, appliedIndex: 10 },
      { id: 2, resp: "127.0.0.1:7002", peer: "127.0.0.1:7102", reachable: true, appliedIndex: 9 },
      { id: 3, resp: undefined, peer: "127.0.0.1:7103", reachable: false, appliedIndex: 0 },
    ],
  };

  /** Slots this node's shard has handed off in a slot move, to the shard now holding each (a test sets them). */
  readonly handedOff = new Map<number, number>();

  slotHandedOff(slot: number): number | undefined {
    return this.handedOff.get(slot);
  }

  /** One shard of every slot, led by `topology.leaderId`, unless a test sets `topology.shards`. */
  async clusterTopology(): Promise<ClusterTopology> {
    const { leaderId, term } = this.topology;
    return {
      ...this.topology,
      shards: this.topology.shards ?? [
        { id: 1, slots: [{ from: 0, to: 16383 }], leaderId, term, replicaIds: this.topology.members.map((m) => m.id) },
      ],
    };
  }

  /** O(keys): no slot index here. */
  countKeysInSlot(slot: number): number {
    return keysInSlotOf(this.machine.records.keys(), slot).length;
  }

  keysInSlot(slot: number, limit: number): Uint8Array[] {
    return keysInSlotOf(this.machine.records.keys(), slot).slice(0, limit);
  }

  role(): string {
    return this.raftRole;
  }

  facts(): NodeFacts {
    let expires = 0;
    for (const record of this.machine.records.values()) if (record.expiresAtMs !== 0) expires++;
    return {
      nodeId: 1,
      role: this.raftRole,
      leaderId: this.raftRole === "leader" ? 1 : this.raftRole === "follower" ? 2 : 0,
      leaderHost: this.raftRole === "follower" ? "10.0.0.2" : this.raftRole === "leader" ? "127.0.0.1" : "",
      term: 1,
      commitIndex: this.entries.length,
      appliedIndex: this.entries.length,
      lastIndex: this.entries.length,
      memberCount: 1,
      keyCount: this.machine.records.size,
      expiresCount: expires,
      revision: this.machine.state.revision,
      fsync: "none",
    };
  }

  async #pause(): Promise<void> {
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
  }

  #maybeFail(): void {
    const failure = this.failNext;
    if (failure === undefined) return;
    this.failNext = undefined;
    throw failure;
  }
}
