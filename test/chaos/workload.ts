/**
 * @module What a chaos workload provides to the run: setup before the clients start, one operation of one client
 * at a time (recorded into the history), the final reads once everything healed, and the checker's verdict.
 */
import type { Prng } from "../../src/lib/prng.js";
import type { ChaosCluster } from "./chaos-cluster.js";
import type { HistoryOp, HistoryRecorder } from "./history.js";
import { NodeClient } from "./node-client.js";

export interface WorkloadContext {
  readonly cluster: ChaosCluster;
  readonly recorder: HistoryRecorder;
  readonly opTimeoutMs: number;
}

/** One concurrent client: bound to one node for the whole run, with its own seeded PRNG. */
export interface ClientContext {
  readonly id: number;
  readonly http: NodeClient;
  readonly random: Prng;
  readonly recorder: HistoryRecorder;
}

export interface Verdict {
  /** "unknown": the checker could not decide (the run counts as failed). */
  readonly valid: boolean | "unknown";
  /** The report, printed before the last line. */
  readonly lines: readonly string[];
  /** Exactly `linearizable: true`, `lost: 0`, `total conserved: true`... */
  readonly lastLine: string;
  /** For summary.json. */
  readonly details: unknown;
}

export interface Workload {
  readonly name: string;
  setup(context: WorkloadContext): Promise<void>;
  /** Runs and records one operation of this client. */
  step(client: ClientContext): Promise<HistoryOp>;
  /** The keys the clients use now and are about to use: the membership nemesis moves their hash slots between
   * shards more often than others. */
  hotKeys?(): readonly string[];
  /** Reads everything back, through every node, after the nemesis healed the cluster. */
  finalReads(context: WorkloadContext): Promise<void>;
  check(history: readonly HistoryOp[]): Verdict;
}

/** A client per node for setup and final reads (client name "setup" or "final"). */
export function nodeClients(context: WorkloadContext): NodeClient[] {
  return context.cluster.ids.map((id) => new NodeClient(id, context.cluster.httpPort(id), context.opTimeoutMs));
}

/** Retries `attempt` until it returns true or `timeoutMs` passes. */
export async function retryUntil(timeoutMs: number, attempt: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await attempt()) return true;
    await new Promise((done) => setTimeout(done, 100));
  }
  return false;
}

const FINAL_READ_ATTEMPTS = 5;

/** A final read, retried (each attempt is its own operation in the history) until one is ok: a hiccup right
 * after the heal must not leave a key without its final read. */
export async function finalRead(read: () => Promise<HistoryOp>): Promise<HistoryOp> {
  let op = await read();
  for (let attempt = 1; attempt < FINAL_READ_ATTEMPTS && op.outcome !== "ok"; attempt++) {
    await new Promise((done) => setTimeout(done, 200 * attempt));
    op = await read();
  }
  return op;
}
