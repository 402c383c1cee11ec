/**
 * @module One client operation of a history, as the chaos harness (test/chaos/history.ts) and the simulator
 * (sim/sim-workload.ts) both record it for the linearizability checker (register-checker.ts). Outcomes follow
 * Jepsen: `ok` it happened; `fail` it certainly did not take effect (or a CAS ran and its compare failed:
 * `error` says "compare failed"); `info` indeterminate, it may take effect at any time after its invocation.
 */

export type Outcome = "ok" | "fail" | "info";

/** "final": the reads after everything healed; "setup": preparing the data; "nemesis": a fault. */
export type ClientName = number | "final" | "setup" | "nemesis";

export interface HistoryOp {
  /** Invocation order, from 0. */
  readonly index: number;
  readonly client: ClientName;
  /** The node the client sent the request to (0 for nemesis events). */
  readonly node: number;
  readonly op: string;
  readonly key: string | null;
  /** What was written, or what was read (when ok). */
  readonly value: unknown;
  /** A CAS's expected value; null otherwise. */
  readonly expected: unknown;
  readonly outcome: Outcome;
  /** Why a fail or info happened: an error code, "compare failed", "timeout", "ECONNREFUSED"... */
  readonly error?: string;
  readonly invokeNs: number;
  readonly completeNs: number;
}

export function clientOps(history: readonly HistoryOp[]): HistoryOp[] {
  return history.filter((op) => op.client !== "nemesis").sort((a, b) => a.invokeNs - b.invokeNs || a.index - b.index);
}
