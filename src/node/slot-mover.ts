/**
 * @module The driver of slot moves between shards (docs/architecture.md "Moving slots between shards"). The cluster
 * map lists the slots to move (`migrations`, in order); the leader of each source shard moves them in batches of
 * slots going the same way (at most BATCH_SLOTS_MAX slots and about BATCH_KEYS_MAX keys):
 *
 *   1. `freeze` on the source: the slots' keys become read-only (a write answers SLOT_MIGRATING, which the node
 *      retries and Redis clients know as TRYAGAIN), so the copy taken next is final;
 *   2. `importStart` on the destination, then `import` entries rebuilding every key from the source's own replica
 *      (slot-export.ts), then `importDone`: the destination serves the slots;
 *   3. `handOff` on the source: the slots are gone from it; any command for them is refused with ASK naming the
 *      destination, which a node follows (shoal-node.ts) and a strict Redis Cluster client is told;
 *   4. `drop` entries delete the source's copies; then the map records the slots as the destination's (MOVED from
 *      then on, CLUSTER SLOTS shows the new owner).
 *
 * Each step is idempotent and chosen from the slots' state in the source's replica (store/slot-states.ts), so a
 * leader that fails midway loses nothing: the next one finds the state and repeats or continues. No key is ever
 * writable in two shards: the source stops writing it (freeze) before the destination takes it (importDone), and
 * every shard's state machine refuses a command for a slot it does not serve, whatever map its router had.
 */
import type { Logger } from "pino";
import type { Command, CommandResult, SlotCommand } from "../commands/command.js";
import { ShoalError } from "../lib/errors.js";
import type { GroupId } from "../raft/types.js";
import type { ClusterMap, SlotMigration } from "../slots/cluster-map.js";
import type { ShardReplica } from "./shard-replica.js";
import { EXPORT_PAGE_KEYS, IMPORT_ENTRY_BYTES, importEntries, recreateCommands } from "./slot-export.js";

/** The most slots moved together (one freeze, one hand-off, one map change for all). */
export const BATCH_SLOTS_MAX = 256;
/** A batch stops growing past this many keys: its slots stay read-only while they are all copied. */
export const BATCH_KEYS_MAX = 20_000;

export interface SlotMoverOptions {
  /** The cluster map this node follows now. */
  readonly map: () => ClusterMap;
  /** This node's replica of shard `id`, when it holds one. */
  readonly replicaOf: (id: GroupId) => ShardReplica | undefined;
  /** Submits a command to shard `id` through its leader (wherever it is held). */
  readonly submitTo: (id: GroupId, command: Command) => Promise<CommandResult>;
  /** Records in the cluster map that the moves of `slots` are done. */
  readonly recordMoved: (slots: readonly number[]) => Promise<unknown>;
  readonly intervalMs: number;
  readonly logger: Pick<Logger, "info" | "debug" | "warn">;
}

/** What the mover did, for /metrics and `GET /v1/admin/slots`. */
export interface SlotMoverCounters {
  slotsMoved: number;
  keysMoved: number;
  bytesMoved: number;
  moveSeconds: number;
}

/** A batch: slots going the same way, all in the same phase at the source. */
interface Batch {
  readonly from: GroupId;
  readonly to: GroupId;
  readonly slots: readonly number[];
  /** Whether the source has handed them off already (then only the drop and the map's record are left). */
  readonly handedOff: boolean;
}

export class SlotMover {
  readonly counters: SlotMoverCounters = { slotsMoved: 0, keysMoved: 0, bytesMoved: 0, moveSeconds: 0 };
  readonly #options: SlotMoverOptions;
  #busy = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: SlotMoverOptions) {
    this.#options = options;
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
    if (batch === undefined) return;
    this.#busy = true;
    const startedAtMs = Date.now();
    this.#move(batch)
      .then(
        (done) => {
          if (!done) return;
          this.counters.slotsMoved += batch.slots.length;
          this.counters.moveSeconds += (Date.now() - startedAtMs) / 1000;
        },
        (error: unknown) =>
          this.#options.logger.debug({ err: error, slots: batch.slots.length }, "Slot move step failed; retrying"),
      )
      .finally(() => {
        this.#busy = false;
        setImmediate(() => this.round());
      });
  }

  #nextBatch(): Batch | undefined {
    const migrations = this.#options.map().migrations ?? [];
    const led = (m: SlotMigration): ShardReplica | undefined => {
      const replica = this.#options.replicaOf(m.from);
      return replica?.host.raw.status().role === "leader" ? replica : undefined;
    };
    const first = migrations.find((m) => led(m) !== undefined);
    if (first === undefined) return undefined;
    const source = led(first) as ShardReplica;
    const states = source.store.slotStates();
    const handedOff = states.get(first.slot)?.phase === "gone";
    const slots: number[] = [];
    let keys = 0;
    for (const m of migrations) {
      if (m.from !== first.from || m.to !== first.to || (states.get(m.slot)?.phase === "gone") !== handedOff) continue;
      const slotKeys = source.store.countKeysInSlot(m.slot);
      if (slots.length > 0 && (slots.length >= BATCH_SLOTS_MAX || keys + slotKeys > BATCH_KEYS_MAX)) break;
      slots.push(m.slot);
      keys += slotKeys;
    }
    return { from: first.from, to: first.to, slots, handedOff };
  }

  /** Takes `batch` from wherever its source's state says it is to its end; true once the map records it. */
  async #move(batch: Batch): Promise<boolean> {
    const { from, to, slots } = batch;
    const { logger } = this.#options;
    const source = this.#options.replicaOf(from);
    if (source === undefined) return false;
    const phases = (): Set<string | undefined> =>
      new Set(slots.map((slot) => source.store.slotStates().get(slot)?.phase));
    if (!batch.handedOff) {
      logger.info({ from, to, slots: slots.length, first: slots[0] }, "Slot move: freezing, copying, handing off");
      await this.#step(from, { action: "freeze", slots, shard: to });
      // Applied on this replica too (it leads; a follower's copy would wait for it): the copy taken below is final.
      if (phases().size !== 1 || !phases().has("frozen")) return false;
      await this.#step(to, { action: "importStart", slots, shard: from });
      await this.#copy(source, slots, to);
      await this.#step(to, { action: "importDone", slots });
      await this.#step(from, { action: "handOff", slots });
    }
    if (phases().size !== 1 || !phases().has("gone")) return false; // not applied here yet: the next round
    for (const slot of slots) {
      for (;;) {
        if (this.#stopped) return false;
        const keys = source.store.keysInSlot(slot, EXPORT_PAGE_KEYS * 4);
        if (keys.length === 0) break;
        await this.#step(from, { action: "drop", slots, keys });
      }
    }
    await this.#options.recordMoved(slots);
    logger.info({ from, to, slots: slots.length, first: slots[0] }, "Slot move done");
    return true;
  }

  /** Imports every key of `slots` held by `source` (frozen: its copy is final) into shard `to`: pages of keys read
   * slot after slot, their commands sent in entries of up to IMPORT_ENTRY_BYTES. */
  async #copy(source: ShardReplica, slots: readonly number[], to: GroupId): Promise<void> {
    let pending: Uint8Array[][] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      for (const argvs of importEntries(pending)) await this.#step(to, { action: "import", slots, argvs });
      this.counters.bytesMoved += pendingBytes;
      pending = [];
      pendingBytes = 0;
    };
    for (const slot of slots) {
      let after: Uint8Array | undefined;
      for (;;) {
        if (this.#stopped) throw new ShoalError("UNAVAILABLE", "The node is stopping");
        const keys = source.store.keysInSlot(slot, EXPORT_PAGE_KEYS, after);
        if (keys.length === 0) break;
        const nowMs = Date.now();
        for (const key of keys) {
          for (const command of recreateCommands(source.store, key, nowMs)) {
            pending.push(command);
            for (const part of command) pendingBytes += part.byteLength;
          }
        }
        this.counters.keysMoved += keys.length;
        if (pendingBytes >= IMPORT_ENTRY_BYTES) await flush();
        after = keys[keys.length - 1];
      }
    }
    await flush();
  }

  async #step(shard: GroupId, step: Omit<SlotCommand, "op" | "nowMs">): Promise<void> {
    const command: SlotCommand = { op: "slot", nowMs: Date.now(), ...step };
    const result = await this.#options.submitTo(shard, command);
    if (result.kind === "error") throw new ShoalError(result.code, result.message);
  }
}
