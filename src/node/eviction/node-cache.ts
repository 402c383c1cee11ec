/**
 * @module A node's cache mode in one place: its memory limit and policy (eviction-policy.ts), the uses LRU/LFU rank
 * by (access-tracker.ts), the figures INFO and /metrics report, and write admission — Redis's rule that a
 * `denyoom` command is refused with OOM while memory is over the limit and nothing can be evicted (policy
 * `noeviction`, or a volatile policy with no key that expires). Each shard leader's Evictor (evictor.ts) does the
 * evicting; this is what they share.
 */
import { commandName } from "../../commands/redis/command-name.js";
import { DATA_COMMAND_TABLE } from "../../commands/redis/table.js";
import { ShoalError } from "../../lib/errors.js";
import { AccessTracker } from "./access-tracker.js";
import { type MemoryLimitSettings, MemoryLimits, tracksAccess } from "./eviction-policy.js";

export class NodeCache {
  readonly limits: MemoryLimits;
  readonly #usedBytes: () => number;
  #tracker: AccessTracker | undefined;
  #kickers = new Set<() => void>();
  /** Keys evicted by the evict entries this node proposed as a shard leader (Redis's `evicted_keys`). */
  evictedKeys = 0;
  /** The last eviction round over the limit found nothing it may evict. */
  #starved = false;

  constructor(settings: MemoryLimitSettings, usedBytes: () => number) {
    this.limits = new MemoryLimits(settings);
    this.#usedBytes = usedBytes;
  }

  usedBytes(): number {
    return this.#usedBytes();
  }

  /** Bytes over the limit (0 or less when under, or without a limit). */
  overBy(): number {
    const { maxmemoryBytes } = this.limits.settings;
    return maxmemoryBytes === 0 ? 0 : this.#usedBytes() - maxmemoryBytes;
  }

  /** The access table, made on first use (7 MiB that a node without an LRU/LFU policy never allocates). */
  get tracker(): AccessTracker {
    this.#tracker ??= new AccessTracker();
    return this.#tracker;
  }

  /** Records uses of `keys` when the policy ranks by them. */
  touch(keys: readonly Uint8Array[], nowMs: number): void {
    const { maxmemoryBytes, policy } = this.limits.settings;
    if (maxmemoryBytes === 0 || !tracksAccess(policy)) return;
    const tracker = this.tracker;
    for (const key of keys) tracker.touch(key, nowMs);
  }

  /** A shard leader's evictor registers how to wake it; the returned function unregisters. */
  addEvictor(kick: () => void): () => void {
    this.#kickers.add(kick);
    return () => this.#kickers.delete(kick);
  }

  /** CONFIG SET of maxmemory & co.: the evictors look again at once. */
  configure(change: Partial<MemoryLimitSettings>): void {
    this.limits.set(change);
    this.#starved = false;
    for (const kick of this.#kickers) kick();
  }

  onRound(evicted: number, starved: boolean): void {
    this.evictedKeys += evicted;
    this.#starved = starved;
  }

  /**
   * For a command that may add memory (Redis `denyoom`): over the limit, wakes the evictors, and throws OOM
   * (Redis's text) when they cannot help. Under the limit, nothing.
   */
  admitWrite(): void {
    if (this.overBy() <= 0) {
      this.#starved = false;
      return;
    }
    const { policy } = this.limits.settings;
    if (policy !== "noeviction" && !this.#starved) {
      for (const kick of this.#kickers) kick();
      return;
    }
    throw new ShoalError("OUT_OF_MEMORY", "command not allowed when used memory > 'maxmemory'.");
  }
}

/** Whether any of `argvs` is a Redis `denyoom` command (one that may add memory: SET, HSET, APPEND…). */
export function addsMemory(argvs: readonly (readonly Uint8Array[])[]): boolean {
  return argvs.some((argv) => {
    const name = argv[0];
    if (name === undefined) return false;
    return DATA_COMMAND_TABLE.find(commandName(name))?.flags.includes("denyoom") === true;
  });
}
