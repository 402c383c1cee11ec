/**
 * @module The driver of slot moves between shards (docs/architecture.md "Moving slots between shards"). The cluster
 * map lists the slots to move (`migrations`, in order); the leader of each source shard moves them in batches of
 * slots going the same way (at most BATCH_SLOTS_MAX slots, about BATCH_KEYS_MAX keys and BATCH_BYTES_MAX bytes — a
 * batch's slots are read-only while it is copied, so its size bounds how long a write to one of them waits):
 *
 *   1. `freeze` on the source: the slots' keys become read-only (a write answers SLOT_MIGRATING, which the node
 *      retries and Redis clients know as TRYAGAIN), so the copy taken next is final;
 *   2. `importStart` on the destination, then `import` entries rebuilding every key from the source's own replica
 *      (slot-export.ts);
 *   3. `handOff` on the source: the slots are gone from it; any command for them is refused with ASK naming the
 *      destination, which a node follows (shoal-node.ts) and a strict Redis Cluster client is told;
 *   4. `importDone` on the destination: it serves the slots (until then it refused them: SLOT_MIGRATING, retried);
 *   5. `drop` entries delete the source's copies; then the map records the slots as the destination's (MOVED from
 *      then on, CLUSTER SLOTS shows the new owner).
 *
 * Each step is idempotent and chosen from the slots' state in the source's replica (store/slot-states.ts), so a
 * leader that fails midway loses nothing: the next one finds the state and repeats or continues (a batch handed
 * off already repeats `importDone`, which its move's state makes a no-op once applied). No key is ever served by
 * two shards: the source stops serving it (handOff) before the destination starts (importDone), and every shard's
 * state machine refuses a command for a slot it does not serve, whatever map its router had. The hand-off comes
 * first because a router with an old map may still send a slot to the destination — one that owned it before,
 * when the slot moves back — and the destination serving a write there while the frozen source still served reads
 * would let a read miss an acknowledged write.
 */
import type { Logger } from "pino";
import type { Command, CommandResult, SlotCommand } from "../commands/command.js";
import { ShoalError } from "../lib/errors.js";
import type { RaftStatus } from "../raft/raw-node.js";
import type { GroupId } from "../raft/types.js";
import type { ClusterMap, SlotMigration } from "../slots/cluster-map.js";
import type { StateMachineStore } from "../store/state-machine-store.js";
import { EXPORT_PAGE_KEYS, IMPORT_ENTRY_BYTES, importUnits, recreateCommands } from "./slot-export.js";

/** The most slots moved together (one freeze, one hand-off, one map change for all). */
export const BATCH_SLOTS_MAX = 1024;
/** Import units in flight at once during a copy. */
const IMPORT_WINDOW = 4;
/** Keys named by one drop entry. */
const DROP_KEYS_MAX = 1024;
/** A failing step is logged at warn at most this often (the mover retries every round). */
const WARN_EVERY_MS = 10_000;
/** A batch stops growing past this many keys: its slots stay read-only while they are all copied. */
export const BATCH_KEYS_MAX = 20_000;
/** … and past about this many bytes, at the store's mean key size. */
export const BATCH_BYTES_MAX = 4 * 1024 * 1024;

/** What the mover reads of a replica of a shard (a ShardReplica; the simulator's members pass their own). */
export interface SlotMoveReplica {
  /** Its Raft role: the mover moves the slots of the shards this node leads. */
  readonly host: { readonly raw: { status(): Pick<RaftStatus, "role"> } };
  /** Its state machine: the slots' states, and the keys the copy reads. */
  readonly store: StateMachineStore;
}

export interface SlotMoverOptions {
  /** The cluster map this node follows now (the mover reads its `migrations`). */
  readonly map: () => Pick<ClusterMap, "migrations">;
  /** This node's replica of shard `id`, when it holds one. */
  readonly replicaOf: (id: GroupId) => SlotMoveReplica | undefined;
  /** Submits a command to shard `id` through its leader (wherever it is held). */
  readonly submitTo: (id: GroupId, command: Command) => Promise<CommandResult>;
  /** Records in the cluster map that the moves of `slots` are done. */
  readonly recordMoved: (slots: readonly number[]) => Promise<unknown>;
  /** Asked when no batch is left for this node: records what follows moves (a merged shard's removal). */
  readonly whenIdle?: () => Promise<unknown>;
  readonly intervalMs: number;
  readonly logger: Pick<Logger, "info" | "debug" | "warn">;
  /** Wall-clock milliseconds: the steps' `nowMs` and the copy's expiry cut-off (Date.now when absent; the
   * simulator passes its virtual time, so a run is a function of its seed). */
  readonly now?: () => number;
  /** Runs the next round on a later turn of the event loop (setImmediate when absent; the simulator queues it in
   * virtual time). */
  readonly later?: (round: () => void) => void;
}

/** What the mover did, for /metrics and `GET /v1/admin/slots`. */
export interface SlotMoverCounters {
  slotsMoved: number;
  keysMoved: number;
  bytesMoved: number;
  moveSeconds: number;
}

/** A batch: slots of one move going the same way, all in the same phase at the source. */
interface Batch {
  readonly from: GroupId;
  readonly to: GroupId;
  /** The move: the map epoch that recorded these slots' migrations (every step carries it). */
  readonly move: number;
  readonly slots: readonly number[];
  /** Whether the source has handed them off already (then only the destination's importDone, the drop and the
   * map's record are left). */
  readonly handedOff: boolean;
}

export class SlotMover {
  readonly counters: SlotMoverCounters = { slotsMoved: 0, keysMoved: 0, bytesMoved: 0, moveSeconds: 0 };
  readonly #options: SlotMoverOptions;
  readonly #now: () => number;
  readonly #later: (round: () => void) => void;
  #busy = false;
  #warnedAtMs = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: SlotMoverOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#later = options.later ?? ((round) => setImmediate(round));
  }

  start(): void {
    this.#timer = setInterval(() => this.round(), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  /** One look at the map: moves the next batch whose source this node leads, unless one is being moved here; the
   * next batch follows at once. */
  round(): void {
    if (this.#busy || this.#stopped) return;
    const batch = this.#nextBatch();
    if (batch === undefined) {
      const idle = this.#options.whenIdle;
      if (idle === undefined) return;
      this.#busy = true;
      idle()
        .catch((error: unknown) => this.#options.logger.debug({ err: error }, "After slot moves: retrying"))
        .finally(() => {
          this.#busy = false;
        });
      return;
    }
    this.#busy = true;
    const startedAtMs = this.#now();
    let failed = false;
    this.#move(batch)
      .then(
        (done) => {
          if (!done) return;
          this.counters.slotsMoved += batch.slots.length;
          this.counters.moveSeconds += (this.#now() - startedAtMs) / 1000;
        },
        (error: unknown) => {
          failed = true;
          // Seen by an operator (a move that cannot go on says why), but not every round.
          const nowMs = this.#now();
          const quiet = nowMs - this.#warnedAtMs < WARN_EVERY_MS;
          if (!quiet) this.#warnedAtMs = nowMs;
          this.#options.logger[quiet ? "debug" : "warn"](
            { err: error, from: batch.from, to: batch.to, slots: batch.slots.length, first: batch.slots[0] },
            "Slot move step failed; retrying",
          );
        },
      )
      .finally(() => {
        this.#busy = false;
        // The next batch at once; after a failure, the next round of the timer (a step refused at once — no leader
        // yet, leadership moving — would otherwise be proposed again in a tight loop).
        if (!failed) this.#later(() => this.round());
      });
  }

  #nextBatch(): Batch | undefined {
    const migrations = this.#options.map().migrations ?? [];
    const led = (m: SlotMigration): SlotMoveReplica | undefined => {
      const replica = this.#options.replicaOf(m.from);
      return replica?.host.raw.status().role === "leader" ? replica : undefined;
    };
    const first = migrations.find((m) => led(m) !== undefined);
    if (first === undefined) return undefined;
    const source = led(first) as SlotMoveReplica;
    const states = source.store.slotStates();
    const handedOff = states.get(first.slot)?.phase === "gone" && states.get(first.slot)?.move === first.epoch;
    const slots: number[] = [];
    let keys = 0;
    const { keyCount, sizeBytes } = source.store.stats();
    const keyBytes = Math.max(1, sizeBytes / Math.max(1, keyCount));
    for (const m of migrations) {
      const gone = states.get(m.slot)?.phase === "gone" && states.get(m.slot)?.move === m.epoch;
      if (m.from !== first.from || m.to !== first.to || m.epoch !== first.epoch || gone !== handedOff) continue;
      const slotKeys = source.store.countKeysInSlot(m.slot);
      const over = keys + slotKeys > Math.min(BATCH_KEYS_MAX, BATCH_BYTES_MAX / keyBytes);
      if (slots.length > 0 && (slots.length >= BATCH_SLOTS_MAX || over)) break;
      slots.push(m.slot);
      keys += slotKeys;
    }
    return { from: first.from, to: first.to, move: first.epoch, slots, handedOff };
  }

  /** Takes `batch` from wherever its source's state says it is to its end; true once the map records it. */
  async #move(batch: Batch): Promise<boolean> {
    const { from, to, slots, move } = batch;
    const { logger } = this.#options;
    const source = this.#options.replicaOf(from);
    if (source === undefined) return false;
    /** Whether every slot of the batch is in `phase` for this move in this node's replica of the source. */
    const allIn = (phase: string): boolean =>
      slots.every((slot) => {
        const state = source.store.slotStates().get(slot);
        return state?.phase === phase && state.move === move;
      });
    // Each step first checks this node still leads the source: a deposed driver stops (its late steps are refused
    // by the shards anyway: store/slot-states.ts), the new leader's mover carries on.
    const step = (shard: GroupId, each: Omit<SlotCommand, "op" | "nowMs" | "move">): Promise<void> => {
      if (source.host.raw.status().role !== "leader") {
        return Promise.reject(new ShoalError("NOT_LEADER", `This node no longer leads shard ${from}`));
      }
      return this.#step(shard, move, each);
    };
    if (!batch.handedOff) {
      logger.info(
        { from, to, move, slots: slots.length, first: slots[0] },
        "Slot move: freezing, copying, handing off",
      );
      await step(from, { action: "freeze", slots, shard: to });
      // Applied on this replica too (it leads; a follower's copy would wait for it): the copy taken below is final.
      if (!allIn("frozen")) return false;
      await step(to, { action: "importStart", slots, shard: from });
      // Each import carries the source's revision (at least every copied key's modRevision): apply-command.ts.
      await this.#copy(source, slots, (argvs) =>
        step(to, { action: "import", slots, argvs, revisionFloor: source.store.revision() }),
      );
      // The source lets the slots go before the destination takes them (see the module comment).
      await step(from, { action: "handOff", slots });
    }
    if (!allIn("gone")) return false; // not applied here yet: the next round
    // Every import entry of the move was applied before the hand-off (the copy awaits them all); repeated by a
    // driver that finds the batch handed off (its move's importDone changes nothing once applied).
    await step(to, { action: "importDone", slots });
    // The source's copies, DROP_KEYS_MAX at a time over the batch's slots (one entry per slot made a move of
    // thousands of slots wait on thousands of commits).
    for (;;) {
      if (this.#stopped) return false;
      const keys: Uint8Array[] = [];
      for (const slot of slots) {
        if (keys.length >= DROP_KEYS_MAX) break;
        keys.push(...source.store.keysInSlot(slot, DROP_KEYS_MAX - keys.length));
      }
      if (keys.length === 0) break;
      await step(from, { action: "drop", slots, keys });
    }
    await this.#options.recordMoved(slots);
    logger.info({ from, to, slots: slots.length, first: slots[0] }, "Slot move done");
    return true;
  }

  /** Imports every key of `slots` held by `source` (frozen: its copy is final) through `importEntry` (the
   * destination's import step): pages of keys read slot after slot, sent in entries of up to IMPORT_ENTRY_BYTES. */
  async #copy(
    source: SlotMoveReplica,
    slots: readonly number[],
    importEntry: (argvs: Uint8Array[][]) => Promise<void>,
  ): Promise<void> {
    // Up to IMPORT_WINDOW units in flight (units touch disjoint keys: slot-export.ts importUnits), so the copy is
    // not one consensus round trip per entry; every one is awaited before importDone.
    const inFlight = new Set<Promise<void>>();
    const sent: Promise<void>[] = [];
    const send = async (unit: Uint8Array[][][]): Promise<void> => {
      const done = (async () => {
        for (const argvs of unit) await importEntry(argvs);
      })();
      sent.push(done);
      const tracked = done.then(
        () => undefined,
        () => undefined,
      );
      inFlight.add(tracked);
      void tracked.then(() => inFlight.delete(tracked));
      if (inFlight.size >= IMPORT_WINDOW) await Promise.race(inFlight);
    };
    let pending: Uint8Array[][][] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      for (const unit of importUnits(pending)) await send(unit);
      this.counters.bytesMoved += pendingBytes;
      pending = [];
      pendingBytes = 0;
    };
    try {
      for (const slot of slots) {
        let after: Uint8Array | undefined;
        for (;;) {
          if (this.#stopped) throw new ShoalError("UNAVAILABLE", "The node is stopping");
          const keys = source.store.keysInSlot(slot, EXPORT_PAGE_KEYS, after);
          if (keys.length === 0) break;
          const nowMs = this.#now();
          for (const key of keys) {
            const group = recreateCommands(source.store, key, nowMs);
            if (group.length === 0) continue;
            pending.push(group);
            for (const command of group) for (const part of command) pendingBytes += part.byteLength;
          }
          this.counters.keysMoved += keys.length;
          if (pendingBytes >= IMPORT_ENTRY_BYTES) await flush();
          after = keys[keys.length - 1];
        }
      }
      await flush();
    } finally {
      // Every entry sent settles before the copy ends (or fails): a failed one fails the batch, retried whole.
      await Promise.allSettled(sent);
    }
    await Promise.all(sent);
  }

  async #step(shard: GroupId, move: number, step: Omit<SlotCommand, "op" | "nowMs" | "move">): Promise<void> {
    const command: SlotCommand = { op: "slot", nowMs: this.#now(), move, ...step };
    const result = await this.#options.submitTo(shard, command);
    if (result.kind === "error") throw new ShoalError(result.code, result.message);
  }
}
