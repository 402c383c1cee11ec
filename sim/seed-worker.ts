/**
 * @module A worker thread that runs seeds handed to it one at a time by `runSeeds` (a work queue, so a slow seed
 * does not leave the other core idle).
 */
import { parentPort, workerData } from "node:worker_threads";
import { runAnySeed } from "./seed-runner.js";
import type { SimOptions } from "./sim-options.js";

const options = workerData as SimOptions;
const port = parentPort;
if (port === null) throw new Error("seed-worker must run as a worker thread");
port.on("message", (seed: number) => {
  void runAnySeed(seed, options).then((result) => port.postMessage(result));
});
