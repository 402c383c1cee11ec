/**
 * @module The deterministic workload of the LMDB crash test: the command of log index `i` is a pure function of
 * `i`, so after a crash the test can rebuild the exact expected state for any applied index in a MemoryStore.
 */
import type { Command } from "../../../src/commands/command.js";

const encoder = new TextEncoder();

/** Every BIG_EVERY-th entry puts a value of BIG_VALUE_BYTES: the child applies a batch holding one off the event
 * loop (applyEntriesOffLoop), as the node does, so a kill lands inside lmdb-js's asynchronous commits too. */
export const BIG_EVERY = 97;
const BIG_VALUE_BYTES = 1024 * 1024 + 3;

/** Entry `index` puts `k<index>`; every third also deletes an earlier key in a txn; every fifth sets a TTL; every
 * BIG_EVERY-th puts a value over 1 MiB (overwriting the previous big one). */
export function crashWorkloadCommand(index: number): Command {
  const nowMs = index * 10;
  if (index % BIG_EVERY === 0) {
    return { op: "put", key: encoder.encode("big"), value: new Uint8Array(BIG_VALUE_BYTES).fill(index & 0xff), nowMs };
  }
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
