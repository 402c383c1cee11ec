/**
 * @module Loopback throughput of two PeerTransports in one process: node 1 sends appendEntries messages (one
 * entry of `--entry-bytes`, default 128) to node 2 in batches of `--batch` per event-loop turn, keeping at most
 * `--window` messages in flight so the bounded queue never drops. Both ends share one thread, so the figure
 * includes encoding, framing, the TCP round trip through the kernel, decoding and validation.
 *
 *   node dist/src/transport/throughput-bench.js [--seconds 3] [--batch 256] [--window 4096] [--entry-bytes 128]
 */

import { parseArgs } from "node:util";
import { silentLogger } from "../io/node/logger.js";
import type { Message } from "../raft/types.js";
import { appendEntries, startMesh, stopAll } from "./loopback-kit.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    batch: { type: "string", default: "256" },
    window: { type: "string", default: "4096" },
    "entry-bytes": { type: "string", default: "128" },
  },
});
const durationMs = Number(values.seconds) * 1000;
const batchCount = Number(values.batch);
const windowCount = Number(values.window);
const data = new Uint8Array(Number(values["entry-bytes"]));

const [a, b] = await startMesh(2, { logger: silentLogger });
let received = 0;
b!.onMessage(() => {
  received++;
});
let sent = 0;
const startMs = performance.now();
while (performance.now() - startMs < durationMs) {
  if (sent - received + batchCount <= windowCount) {
    const batch: Message[] = [];
    for (let i = 0; i < batchCount; i++) batch.push(appendEntries(1, 2, ++sent, data));
    a!.send(batch);
  }
  await new Promise((resolve) => setImmediate(resolve));
}
const elapsedS = (performance.now() - startMs) / 1000;
const stats = a!.stats().peers["2"]!;
const bytesPerMessage = stats.bytesSent / Math.max(1, stats.messagesSent);
console.log(
  `${Math.round(received / elapsedS)} msgs/s received (${received} in ${elapsedS.toFixed(2)} s; ` +
    `${bytesPerMessage.toFixed(0)} B/frame, ${((stats.bytesSent / elapsedS) * 8e-6).toFixed(0)} Mbit/s; ` +
    `batch ${batchCount}, window ${windowCount}, drops ${stats.drops})`,
);
await stopAll([a!, b!]);
