/**
 * @module The checkers of the node simulation that watch the real host's WAL and store (the rest are shared with
 * the core simulation: Election Safety and Log Matching in ../checkers/, linearizability over the clients'
 * history in ../checkers/register-checker.ts).
 *
 * - **WAL durability** (`walDurability`): a WAL save that resolved is durable. After every restart the recovered
 *   log (replayed by the real WAL from the simulated disk, which lost what was not synced and may have torn or
 *   garbled the last write) must hold every entry of every resolved save — same term, same payload — unless a
 *   recovered snapshot covers it, and a hard state at least as new as the last one saved (a vote is never
 *   forgotten). And it must hold nothing that was never written at that index: a garbled record that replays
 *   is corruption accepted as data.
 * - **State Machine Safety** (`stateMachineSafety`, paper Figure 3): no two members apply different payloads at
 *   one index; each member's store applies the next index, without gaps or repeats.
 * - **Committed durability** (`committedDurability`): when any member applies an index, the entry is held by
 *   resolved (durable) WAL saves — or a durable snapshot — on a majority of the voters: what a client may see
 *   acknowledged can survive any minority of crashes.
 */
import type { MemoryStorage } from "../../src/raft/memory-storage.js";
import type { Entry, HardState, NodeId } from "../../src/raft/types.js";
import type { ApplyEntry } from "../../src/store/state-machine-store.js";
import { SimViolation } from "../checkers/violation.js";
import { payloadKey } from "../state-machine.js";

/** One resolved (durable) save's worth of a member's log, as the checkers remember it across crashes. */
interface DurableLog {
  /** index → payload key of the entry durably at that index. */
  readonly entries: Map<number, string>;
  /** Every payload ever written at an index (durable or not): what a recovered entry may be. */
  readonly written: Map<number, Set<string>>;
  snapshotIndex: number;
  hardState: HardState | undefined;
  /** The first index of the save in flight (written, not yet resolved), if it carries entries. A crash may leave
   * any prefix of it on the disk, and with it the truncation of the old suffix it replaces. */
  inFlightFirst: number | undefined;
}

export interface SaveBatch {
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: { readonly index: number; readonly term: number };
}

function entryKey(entry: Pick<Entry, "type" | "data">): string {
  return payloadKey({ index: 0, term: 0, type: entry.type, data: entry.data });
}

export class NodeChecks {
  readonly #voters: readonly NodeId[];
  readonly #logs = new Map<NodeId, DurableLog>();
  /** index → the payload first applied there, and by whom. */
  readonly #applied = new Map<number, { payload: string; node: NodeId }>();

  constructor(voters: readonly NodeId[]) {
    this.#voters = voters;
    for (const id of voters) {
      this.#logs.set(id, {
        entries: new Map(),
        written: new Map(),
        snapshotIndex: 0,
        hardState: undefined,
        inFlightFirst: undefined,
      });
    }
  }

  /** A save is about to be written: its entries may be on the disk from now on. */
  willSave(id: NodeId, batch: SaveBatch): void {
    const log = this.#log(id);
    if (batch.entries[0] !== undefined) log.inFlightFirst = batch.entries[0].index;
    for (const entry of batch.entries) {
      const key = `${entry.term}/${entryKey(entry)}`;
      let set = log.written.get(entry.index);
      if (set === undefined) {
        set = new Set();
        log.written.set(entry.index, set);
      }
      set.add(key);
    }
  }

  /** The save resolved: durable from now on (an entry at an existing index replaced that suffix). */
  saved(id: NodeId, batch: SaveBatch): void {
    const log = this.#log(id);
    const first = batch.entries[0];
    if (first !== undefined) {
      log.inFlightFirst = undefined;
      for (const index of [...log.entries.keys()]) if (index >= first.index) log.entries.delete(index);
      for (const entry of batch.entries) log.entries.set(entry.index, `${entry.term}/${entryKey(entry)}`);
    }
    const snapshot = batch.snapshot;
    if (snapshot !== undefined) {
      // A snapshot whose last entry this log does not hold (one installed from the leader) replaces the whole log,
      // as Raft's storage and the WAL's replay do; one this log agrees with keeps the entries after it.
      const held = log.entries.get(snapshot.index);
      if (held === undefined || !held.startsWith(`${snapshot.term}/`)) {
        for (const index of [...log.entries.keys()]) if (index > snapshot.index) log.entries.delete(index);
      }
      log.snapshotIndex = Math.max(log.snapshotIndex, snapshot.index);
    }
    if (batch.hardState !== undefined) log.hardState = batch.hardState;
  }

  /** A member restarted: `storage` is what the real WAL and snapshot files recovered. */
  recovered(id: NodeId, storage: MemoryStorage): void {
    const log = this.#log(id);
    const snapshotIndex = storage.snapshot().metadata.index;
    if (snapshotIndex < log.snapshotIndex) {
      this.#fail(
        "walDurability",
        `node ${id} recovered snapshot ${snapshotIndex}, but saved snapshot ${log.snapshotIndex}`,
      );
    }
    const hard = storage.hardState();
    const saved = log.hardState;
    if (saved !== undefined) {
      if (hard.term < saved.term || (hard.term === saved.term && hard.vote !== saved.vote && saved.vote !== 0)) {
        this.#fail(
          "walDurability",
          `node ${id} recovered term ${hard.term} vote ${hard.vote}, but saved term ${saved.term} vote ${saved.vote}`,
        );
      }
    }
    const inFlightFirst = log.inFlightFirst ?? Number.POSITIVE_INFINITY;
    log.inFlightFirst = undefined;
    for (const [index, key] of log.entries) {
      // From the save in flight on, the old suffix may be cut (the written() check below covers what is there).
      if (index <= snapshotIndex || index >= inFlightFirst) continue;
      const recovered = recoveredKey(storage, index);
      if (recovered !== key) {
        this.#fail(
          "walDurability",
          `node ${id} saved index ${index} (${key}) durably but recovered ${recovered ?? "nothing"}`,
        );
      }
    }
    for (let index = Math.max(storage.firstIndex(), snapshotIndex + 1); index <= storage.lastIndex(); index++) {
      const key = recoveredKey(storage, index) as string;
      if (log.written.get(index)?.has(key) !== true) {
        this.#fail("walDurability", `node ${id} recovered index ${index} (${key}), which it never wrote there`);
      }
    }
    // What the WAL recovered it fsynced before opening (wal.ts openLastSegment): durable from here on.
    log.entries.clear();
    for (let index = Math.max(storage.firstIndex(), snapshotIndex + 1); index <= storage.lastIndex(); index++) {
      log.entries.set(index, recoveredKey(storage, index) as string);
    }
    log.snapshotIndex = snapshotIndex;
    log.hardState = hard;
  }

  /** Entries about to be applied by member `id`'s store, which has applied up to `appliedIndex`. */
  willApply(id: NodeId, entries: readonly ApplyEntry[], appliedIndex: number): void {
    let last = appliedIndex;
    for (const entry of entries) {
      if (entry.index !== last + 1) {
        this.#fail("stateMachineSafety", `node ${id} applies index ${entry.index} after ${last}`);
      }
      last = entry.index;
      const payload = entryKey({ type: entry.type ?? "normal", data: entry.data });
      const first = this.#applied.get(entry.index);
      if (first === undefined) this.#applied.set(entry.index, { payload, node: id });
      else if (first.payload !== payload) {
        this.#fail(
          "stateMachineSafety",
          `index ${entry.index} applied as ${first.payload} on node ${first.node} but as ${payload} on node ${id}`,
        );
      }
      this.#checkMajorityDurable(id, entry.index, payload);
    }
  }

  #checkMajorityDurable(id: NodeId, index: number, payload: string): void {
    let holders = 0;
    for (const voter of this.#voters) {
      const log = this.#log(voter);
      const key = log.entries.get(index);
      if (log.snapshotIndex >= index || (key !== undefined && key.slice(key.indexOf("/") + 1) === payload)) holders++;
    }
    if (holders * 2 <= this.#voters.length) {
      this.#fail(
        "committedDurability",
        `node ${id} applies index ${index}, durable on only ${holders} of ${this.#voters.length} voters`,
      );
    }
  }

  /** Whether member `id` durably holds the log through `index` as member `leaderId` does (the same entry there,
   * or a snapshot covering it — snapshots hold committed entries only): what the move-safety checker asks. */
  holdsThrough(id: NodeId, leaderId: NodeId, index: number): boolean {
    if (index <= 0) return true;
    const log = this.#log(id);
    if (log.snapshotIndex >= index) return true;
    const mine = log.entries.get(index);
    if (mine === undefined) return false;
    const leader = this.#log(leaderId);
    const theirs = leader.entries.get(index);
    return theirs === undefined || theirs === mine; // (compacted on the leader: committed, nothing to compare)
  }

  #log(id: NodeId): DurableLog {
    const log = this.#logs.get(id);
    if (log === undefined) throw new Error(`No durable log for node ${id}`);
    return log;
  }

  #fail(checker: "walDurability" | "stateMachineSafety" | "committedDurability", message: string): never {
    throw new SimViolation(checker, message);
  }
}

function recoveredKey(storage: MemoryStorage, index: number): string | undefined {
  if (index < storage.firstIndex() || index > storage.lastIndex()) return undefined;
  const [entry] = storage.entries(index, index + 1, Number.MAX_SAFE_INTEGER);
  return entry === undefined ? undefined : `${entry.term}/${entryKey(entry)}`;
}
