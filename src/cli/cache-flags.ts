/**
 * @module The cache-mode flags of `shoal start` (passed through by `shoal cluster`/`npm start`): `--mode cache`
 * and Redis's maxmemory settings. Cache mode trades durability of the newest writes for speed — the WAL is not
 * fsynced (a majority's page caches hold each acknowledged write; a power loss on a majority may lose the last
 * ones), Raft still replicates so a replica takes over — and evicts instead of refusing writes when full.
 */
import { totalmem } from "node:os";
import { ShoalError } from "../lib/errors.js";
import {
  type EvictionPolicy,
  type MemoryLimitSettings,
  parseEvictionPolicy,
  parseMemoryBytes,
  parseSamples,
  SAMPLES_DEFAULT,
} from "../node/eviction/eviction-policy.js";
import type { FsyncPolicy } from "../node/node-options.js";
import { CliError } from "./cli-error.js";
import { choiceFlag } from "./parse-flags.js";

export const CACHE_FLAGS = {
  mode: { type: "string" },
  maxmemory: { type: "string" },
  "maxmemory-policy": { type: "string" },
  "maxmemory-samples": { type: "string" },
} as const;

export const CACHE_FLAG_NAMES = Object.keys(CACHE_FLAGS);

export const CACHE_HELP = `  --mode MODE            store (default: every write fsynced) | cache (fsync never, evicts: maxmemory
                         defaults to a quarter of this machine's memory and the policy to allkeys-lru)
  --maxmemory SIZE       evict or refuse writes (policy) once the data passes SIZE: bytes, or 100mb, 2gb…
                         (default 0: no limit, except in cache mode)
  --maxmemory-policy P   noeviction | allkeys-lru | allkeys-lfu | volatile-lru | volatile-lfu | volatile-ttl |
                         allkeys-random | volatile-random (default noeviction; allkeys-lru in cache mode)
  --maxmemory-samples N  keys sampled per key evicted, 1-64 (default ${SAMPLES_DEFAULT})
`;

export type NodeMode = "store" | "cache";

export interface CacheChoice {
  readonly mode: NodeMode;
  readonly fsyncDefault: FsyncPolicy;
  readonly memoryLimit: MemoryLimitSettings;
}

/** A cache without a size evicts nothing; a quarter of the machine leaves room for LMDB's page cache and Raft. */
function defaultCacheBytes(): number {
  return Math.floor(totalmem() / 4);
}

export function cacheChoice(flags: Record<string, unknown>): CacheChoice {
  const mode = choiceFlag<NodeMode>(flags, "mode", ["store", "cache"], "store");
  const cache = mode === "cache";
  const text = (name: string): string | undefined => (typeof flags[name] === "string" ? flags[name] : undefined);
  try {
    const size = text("maxmemory");
    const policy = text("maxmemory-policy");
    const samples = text("maxmemory-samples");
    // The other flags' form: `Cannot parse --flag "value": …`.
    const what = (name: string, value: string): string => `Cannot parse --${name} "${value}": it`;
    return {
      mode,
      fsyncDefault: cache ? "never" : "always",
      memoryLimit: {
        maxmemoryBytes:
          size !== undefined ? parseMemoryBytes(size, what("maxmemory", size)) : cache ? defaultCacheBytes() : 0,
        policy:
          policy !== undefined
            ? parseEvictionPolicy(policy, what("maxmemory-policy", policy))
            : ((cache ? "allkeys-lru" : "noeviction") satisfies EvictionPolicy),
        samples: samples === undefined ? SAMPLES_DEFAULT : parseSamples(samples, what("maxmemory-samples", samples)),
      },
    };
  } catch (error) {
    if (error instanceof ShoalError) throw new CliError(error.message);
    throw error;
  }
}
