/**
 * @module Cache mode's memory limit and eviction policy (Redis's `maxmemory`, `maxmemory-policy`,
 * `maxmemory-samples`): the names, their parsing, and the live settings a node's evictors and write admission read.
 * Node-local like Redis's (a flag of `shoal start`, changed by `CONFIG SET` on the node it is sent to).
 */
import { ShoalError } from "../../lib/errors.js";

/** Redis 7's policies, with its meaning (https://redis.io/docs/reference/eviction/). */
export const EVICTION_POLICIES = [
  "noeviction",
  "allkeys-lru",
  "allkeys-lfu",
  "volatile-lru",
  "volatile-lfu",
  "volatile-ttl",
  "allkeys-random",
  "volatile-random",
] as const;
export type EvictionPolicy = (typeof EVICTION_POLICIES)[number];

export function isEvictionPolicy(value: string): value is EvictionPolicy {
  return (EVICTION_POLICIES as readonly string[]).includes(value);
}

/** Whether the policy evicts only keys with an expiry. */
export function volatileOnly(policy: EvictionPolicy): boolean {
  return policy.startsWith("volatile-");
}

/** Whether the policy ranks keys by recorded accesses (the node then records them: access-tracker.ts). */
export function tracksAccess(policy: EvictionPolicy): boolean {
  return policy.endsWith("-lru") || policy.endsWith("-lfu");
}

/** Redis's default sample size; it accepts 1 to 64. */
export const SAMPLES_DEFAULT = 5;
export const SAMPLES_MAX = 64;

export interface MemoryLimitSettings {
  /** 0: no limit (Redis's default on 64-bit). */
  readonly maxmemoryBytes: number;
  readonly policy: EvictionPolicy;
  readonly samples: number;
}

export const NO_MEMORY_LIMIT: MemoryLimitSettings = {
  maxmemoryBytes: 0,
  policy: "noeviction",
  samples: SAMPLES_DEFAULT,
};

/** The node's current settings; CONFIG SET replaces them whole. */
export class MemoryLimits {
  #settings: MemoryLimitSettings;

  constructor(settings: MemoryLimitSettings = NO_MEMORY_LIMIT) {
    this.#settings = settings;
  }

  get settings(): MemoryLimitSettings {
    return this.#settings;
  }

  set(change: Partial<MemoryLimitSettings>): void {
    this.#settings = { ...this.#settings, ...change };
  }
}

const UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1000,
  kb: 1024,
  m: 1000 ** 2,
  mb: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1024 ** 3,
};

/** A memory size as Redis's config reads it: an integer with an optional unit, case-insensitive (`1gb` is 1024³
 * bytes, `1g` 1000³, Redis's memtoull). Throws BAD_REQUEST with a sentence. */
export function parseMemoryBytes(text: string, what: string): number {
  const match = /^(\d+)([a-z]*)$/i.exec(text.trim());
  const unit = match === null ? undefined : UNITS[(match[2] ?? "").toLowerCase()];
  const bytes = match === null || unit === undefined ? Number.NaN : Number(match[1]) * unit;
  if (!Number.isSafeInteger(bytes)) {
    throw new ShoalError("BAD_REQUEST", `${what} must be a size in bytes such as 100mb or 1gb, not '${text}'`);
  }
  return bytes;
}

export function parseEvictionPolicy(text: string, what: string): EvictionPolicy {
  const policy = text.toLowerCase();
  if (!isEvictionPolicy(policy)) {
    throw new ShoalError("BAD_REQUEST", `${what} must be one of ${EVICTION_POLICIES.join(", ")}, not '${text}'`);
  }
  return policy;
}

export function parseSamples(text: string, what: string): number {
  const samples = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(samples >= 1 && samples <= SAMPLES_MAX)) {
    throw new ShoalError("BAD_REQUEST", `${what} must be an integer from 1 to ${SAMPLES_MAX}, not '${text}'`);
  }
  return samples;
}
