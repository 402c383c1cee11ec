/**
 * @module The history of a chaos run: every client operation with its invocation and completion times
 * (monotonic nanoseconds since the run began, `process.hrtime.bigint()`), and every nemesis event, in one list.
 * It is written as JSON lines (history.jsonl), one record per completed operation, and kept in memory for the
 * checkers.
 *
 * Outcomes, as Jepsen names them:
 * - `ok`: it happened, with the recorded result;
 * - `fail`: it certainly did not take effect (503 UNAVAILABLE / NOT_LEADER / PROPOSAL_DROPPED / CLUSTER_DOWN /
 *   SLOT_MIGRATING, 421 ASK / MOVED; through RESP -TRYAGAIN, -ASK, -MOVED, -CLUSTERDOWN; connection refused), or it
 *   ran and its condition was false (a CAS answering 412 or `succeeded: false`: `error` says "compare failed");
 * - `info`: indeterminate — it may or may not have taken effect, at any time after its invocation (504 TIMEOUT or
 *   UNKNOWN_OUTCOME, a client-side timeout, a connection lost after the request was sent). Never counted as a
 *   failure.
 */
import { appendFileSync, closeSync, openSync } from "node:fs";

export type { ClientName, HistoryOp, Outcome } from "../../sim/checkers/history-op.js";
export { clientOps } from "../../sim/checkers/history-op.js";

import type { ClientName, HistoryOp, Outcome } from "../../sim/checkers/history-op.js";

export interface Invocation {
  readonly client: ClientName;
  readonly node: number;
  readonly op: string;
  readonly key: string | null;
  readonly value?: unknown;
  readonly expected?: unknown;
}

export interface Completion {
  readonly outcome: Outcome;
  /** Replaces the invocation's value (a read's result). */
  readonly value?: unknown;
  readonly error?: string;
}

/** Records operations; appends each completed one to `path` (when given) as a JSON line. */
export class HistoryRecorder {
  readonly ops: HistoryOp[] = [];
  readonly #startNs: bigint;
  readonly #fd: number | undefined;
  #nextIndex = 0;

  constructor(path: string | undefined, startNs = process.hrtime.bigint()) {
    this.#startNs = startNs;
    this.#fd = path === undefined ? undefined : openSync(path, "a");
  }

  nowNs(): number {
    return Number(process.hrtime.bigint() - this.#startNs);
  }

  /** Runs `body` as one operation: records its invocation now and its completion when `body` settles. A throw
   * from `body` records an indeterminate outcome (and is not rethrown). */
  async run(invocation: Invocation, body: () => Promise<Completion>): Promise<HistoryOp> {
    const index = this.#nextIndex++;
    const invokeNs = this.nowNs();
    let completion: Completion;
    try {
      completion = await body();
    } catch (error) {
      completion = { outcome: "info", error: (error as Error).message };
    }
    return this.#add({
      index,
      client: invocation.client,
      node: invocation.node,
      op: invocation.op,
      key: invocation.key,
      value: completion.value !== undefined ? completion.value : (invocation.value ?? null),
      expected: invocation.expected ?? null,
      outcome: completion.outcome,
      ...(completion.error === undefined ? {} : { error: completion.error }),
      invokeNs,
      completeNs: this.nowNs(),
    });
  }

  /** Records a nemesis event that spans [invokeNs, now]. */
  nemesis(op: string, value: unknown, invokeNs: number, error?: string): HistoryOp {
    return this.#add({
      index: this.#nextIndex++,
      client: "nemesis",
      node: 0,
      op,
      key: null,
      value,
      expected: null,
      outcome: error === undefined ? "ok" : "info",
      ...(error === undefined ? {} : { error }),
      invokeNs,
      completeNs: this.nowNs(),
    });
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
  }

  #add(op: HistoryOp): HistoryOp {
    this.ops.push(op);
    if (this.#fd !== undefined) appendFileSync(this.#fd, `${JSON.stringify(op)}\n`);
    return op;
  }
}

/** Client operations only, sorted by invocation. */
/** "12.345s" for a run-relative nanosecond time. */
export function formatSeconds(ns: number): string {
  return Number.isFinite(ns) ? `${(ns / 1e9).toFixed(3)}s` : "never";
}
