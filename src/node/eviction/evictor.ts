/**
 * @module Eviction on a replicated store: when the node's data is over `maxmemory`, the LEADER of each shard it
 * holds picks victims (victims.ts) and replicates them as `evict` entries, so every replica deletes the same keys
 * at the same point of the log (like the expiry scanner's `expire` entries, expiry-scanner.ts). Redis evicts
 * inside the write that crossed the limit; here eviction runs beside the writes — kicked by each write over the
 * limit and every interval — so memory may pass the limit by what the writes of one eviction round add.
 */
import type { Command, CommandResult } from "../../commands/command.js";
import type { StateMachineStore } from "../../store/state-machine-store.js";
import type { AccessTracker } from "./access-tracker.js";
import type { MemoryLimits } from "./eviction-policy.js";
import { chooseVictims } from "./victims.js";

export interface EvictorOptions {
  readonly store: StateMachineStore;
  readonly isLeader: () => boolean;
  readonly propose: (command: Command) => Promise<CommandResult>;
  readonly limits: MemoryLimits;
  readonly tracker: AccessTracker;
  /** Bytes the node's data is over maxmemory (memory-estimate.ts); 0 or less when under. */
  readonly overBy: () => number;
  readonly random: () => number;
  readonly intervalMs: number;
  /** Told after each round: keys evicted, and whether it found nothing it may evict while over the limit. */
  readonly onRound: (evicted: number, starved: boolean) => void;
}

/** What a run frees beyond the excess, as a share of maxmemory (each round at most SAMPLED_KEYS_MAX / samples keys). */
const HEADROOM = 0.01;
/** Rounds in a row that evict nothing (every victim changed meanwhile) before a run gives up until the next kick. */
const FRUITLESS_ROUNDS_MAX = 3;

export class Evictor {
  readonly #options: EvictorOptions;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(options: EvictorOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => this.kick(), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Evicts until under the limit, unless a run is going already (one at a time). */
  kick(): void {
    if (this.#running || this.#timer === undefined || !this.#wanted()) return;
    this.#running = true;
    void this.#run().finally(() => {
      this.#running = false;
    });
  }

  #wanted(): boolean {
    const { limits, overBy, isLeader } = this.#options;
    const { maxmemoryBytes, policy } = limits.settings;
    return maxmemoryBytes > 0 && policy !== "noeviction" && isLeader() && overBy() > 0;
  }

  async #run(): Promise<void> {
    const { store, limits, tracker, random, propose, onRound, overBy } = this.#options;
    let fruitless = 0;
    while (this.#timer !== undefined && this.#wanted() && fruitless < FRUITLESS_ROUNDS_MAX) {
      const { policy, samples } = limits.settings;
      if (policy === "noeviction") return;
      const { keyCount, sizeBytes } = store.stats();
      const averageBytes = keyCount === 0 ? 1 : Math.max(1, sizeBytes / keyCount);
      const nowMs = Date.now();
      // Down to a little under the limit: a round per key over it would double the log's entries under writes.
      const count = Math.ceil((overBy() + limits.settings.maxmemoryBytes * HEADROOM) / averageBytes);
      const victims = chooseVictims({ store, policy, samples, count, tracker, random, nowMs });
      if (victims.length === 0) {
        onRound(0, true);
        return;
      }
      let evicted = 0;
      try {
        const keys = victims.map((victim) => victim.key);
        const modRevisions = victims.map((victim) => victim.modRevision);
        const result = await propose({ op: "evict", keys, modRevisions, nowMs });
        if (result.kind === "evict") evicted = result.evictedCount;
      } catch {
        return; // Leadership moved or the entry timed out: the next leader's evictor takes over.
      }
      fruitless = evicted === 0 ? fruitless + 1 : 0;
      onRound(evicted, false);
    }
  }
}
