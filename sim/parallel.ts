/**
 * @module Runs a range of seeds on worker threads (one per core asked for). Each run is independent and fully
 * determined by its seed, so spreading them changes nothing but the wall time.
 */
import { Worker } from "node:worker_threads";
import type { SeedResult } from "./run-seed.js";
import { runAnySeed } from "./seed-runner.js";
import type { SimOptions } from "./sim-options.js";

export async function runSeeds(options: SimOptions): Promise<SeedResult[]> {
  const seeds = Array.from({ length: options.seeds }, (_, i) => options.start + i);
  if (options.workers <= 1 || seeds.length < 2) {
    const results: SeedResult[] = [];
    for (const seed of seeds) results.push(await runAnySeed(seed, options));
    return results;
  }
  const queue = [...seeds];
  const results: SeedResult[] = [];
  const workerCount = Math.min(options.workers, seeds.length);
  await Promise.all(Array.from({ length: workerCount }, () => drainQueue(queue, options, results)));
  return results.sort((a, b) => a.seed - b.seed);
}

function drainQueue(queue: number[], options: SimOptions, results: SeedResult[]): Promise<void> {
  const worker = new Worker(new URL("./seed-worker.js", import.meta.url), { workerData: options });
  return new Promise((resolve, reject) => {
    const next = (): void => {
      const seed = queue.shift();
      if (seed === undefined) {
        void worker.terminate().then(() => resolve());
        return;
      }
      worker.postMessage(seed);
    };
    worker.on("message", (result: SeedResult) => {
      results.push(result);
      next();
    });
    worker.on("error", reject);
    next();
  });
}
