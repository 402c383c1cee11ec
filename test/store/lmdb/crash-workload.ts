/**
 * @module The deterministic workload of the LMDB crash test: the command of log index `i` is a pure function of
 * `i`, so after a crash the test can rebuild the exact expected state for any applied index in a MemoryStore.
 */
import type { Command } from "../../../src/commands/command.js";

const encoder = new TextEncoder();

/** Entry `index` puts `k<index>`; every third also deletes an earlier key in a txn; every fifth sets a TTL. */
export function crashWorkloadCommand(index: number): Command {
  const nowMs = index * 10;
  const key = encoder.encode(`k${index}`);
  const value = encoder.encode(`value-${index}-`.repeat(8));
  if (index % 3 === 0) {
    return {
      op: "txn",
      nowMs,
      compares: [{ key: encoder.encode(`k${index - 1}`), target: "version", op: ">", value: 0 }],
      success: [
        { op: "put", key, value },
        { op: "delete", key: encoder.encode(`k${index - 2}`) },
      ],
      failure: [{ op: "put", key, value: encoder.encode("failure") }],
    };
  }
  if (index % 5 === 0) return { op: "put", key, value, nowMs, ttlMs: 25 };
  return { op: "put", key, value, nowMs };
}
