/**
 * @module The register workload: reads, writes and compare-and-swaps on a handful of keys, checked for
 * linearizability per key.
 *
 * - Every written value is unique (`<client>.<sequence>`), so a stale read cannot hide behind an equal value.
 * - A CAS is `POST /v1/txn` comparing the value with the one the client last saw for that key and putting a new
 *   one: `succeeded: false` means it ran and found another value ("compare failed"), which the checker uses.
 * - A handful of key slots are in use at any time; each slot moves to a fresh key after `opsPerKey` operations
 *   (Jepsen's "independent" keys), which keeps every key's history short for the search.
 */

import { checkRegisterHistory, type KeyFailure } from "../../../sim/checkers/register-checker.js";
import type { Completion, HistoryOp } from "../history.js";
import { formatSeconds } from "../history.js";
import { errorCode, type HttpAnswer, kvPath, transportCompletion, writeCompletion } from "../node-client.js";
import {
  type ClientContext,
  finalRead,
  nodeClients,
  type Verdict,
  type Workload,
  type WorkloadContext,
} from "../workload.js";
import { RegisterKeys } from "./register-keys.js";

export interface RegisterWorkloadOptions {
  /** Key slots in use at once. */
  readonly keys: number;
  readonly opsPerKey: number;
  /** Chance an operation is a read (the rest: half writes, half CAS). */
  readonly readShare: number;
  readonly configurationsMax?: number;
}

export class RegisterWorkload implements Workload {
  readonly name = "register";
  readonly #options: RegisterWorkloadOptions;
  readonly #keys: RegisterKeys;
  readonly #sequence = new Map<number, number>();

  constructor(options: RegisterWorkloadOptions) {
    this.#options = options;
    this.#keys = new RegisterKeys(options.keys, options.opsPerKey);
  }

  async setup(): Promise<void> {}

  step(client: ClientContext): Promise<HistoryOp> {
    const key = this.#keys.next(client.random.int(this.#keys.slotCount));
    const seen = this.#keys.seenBy(client.id);
    const last = seen.get(key);
    const roll = client.random.next();
    if (roll < this.#options.readShare) return this.#read(client, key, "read");
    const sequence = (this.#sequence.get(client.id) ?? 0) + 1;
    this.#sequence.set(client.id, sequence);
    const value = `${client.id}.${sequence}`;
    if (last === undefined || roll < this.#options.readShare + (1 - this.#options.readShare) / 2) {
      return client.recorder.run({ client: client.id, node: client.http.node, op: "write", key, value }, async () => {
        const completion = await attempt(() => client.http.send("PUT", kvPath(key), value), writeCompletion);
        if (completion.outcome === "ok") seen.set(key, value);
        return completion;
      });
    }
    return client.recorder.run(
      { client: client.id, node: client.http.node, op: "cas", key, value, expected: last },
      async () => {
        const body = JSON.stringify({
          compare: [{ key, target: "value", op: "==", value: last }],
          success: [{ op: "put", key, value }],
          failure: [],
        });
        const completion = await attempt(() => client.http.send("POST", "/v1/txn", body), casCompletion);
        if (completion.outcome === "ok") seen.set(key, value);
        if (completion.error === "compare failed") seen.delete(key);
        return completion;
      },
    );
  }

  hotKeys(): readonly string[] {
    return this.#keys.hotKeys();
  }

  async finalReads(context: WorkloadContext): Promise<void> {
    const clients = nodeClients(context);
    await Promise.all(
      clients.map(async (http) => {
        for (const key of [...this.#keys.used].sort()) {
          await finalRead(() =>
            context.recorder.run({ client: "final", node: http.node, op: "read", key }, () =>
              attempt(() => http.send("GET", kvPath(key)), readCompletion),
            ),
          );
        }
        http.close();
      }),
    );
  }

  check(history: readonly HistoryOp[]): Verdict {
    const check = checkRegisterHistory(
      history,
      this.#options.configurationsMax === undefined ? {} : { configurationsMax: this.#options.configurationsMax },
    );
    const lines = [
      `register: ${check.keys} keys, ${check.operations} operations checked (${check.indeterminate} indeterminate), ` +
        `${check.configurations} configurations in ${check.elapsedMs} ms`,
    ];
    if (check.unknownKeys.length > 0) lines.push(`search gave up on keys: ${check.unknownKeys.join(", ")}`);
    const described = check.failures.filter((failure) => failure.window.length > 0);
    for (const failure of described) lines.push(...describeFailure(failure, history));
    const others = check.failures.filter((failure) => failure.window.length === 0).map((failure) => failure.key);
    if (others.length > 0) {
      lines.push(
        `${others.length} more keys not linearizable (no window computed): ${others.slice(0, 20).join(", ")}${others.length > 20 ? ", ..." : ""}`,
      );
    }
    return {
      valid: check.linearizable,
      lines,
      lastLine: `linearizable: ${check.linearizable}`,
      details: {
        keys: check.keys,
        operations: check.operations,
        indeterminate: check.indeterminate,
        configurations: check.configurations,
        elapsedMs: check.elapsedMs,
        unknownKeys: check.unknownKeys,
        failures: check.failures,
      },
    };
  }

  #read(client: ClientContext, key: string, op: string): Promise<HistoryOp> {
    const seen = this.#keys.seenBy(client.id);
    return client.recorder.run({ client: client.id, node: client.http.node, op, key }, async () => {
      const completion = await attempt(() => client.http.send("GET", kvPath(key)), readCompletion);
      if (completion.outcome === "ok" && typeof completion.value === "string") seen.set(key, completion.value);
      return completion;
    });
  }
}

/** Sends, and maps the answer (or the lack of one) to a completion. */
async function attempt(
  send: () => Promise<HttpAnswer>,
  complete: (answer: HttpAnswer) => Completion,
): Promise<Completion> {
  try {
    return complete(await send());
  } catch (error) {
    return transportCompletion(error);
  }
}

function readCompletion(answer: HttpAnswer): Completion {
  if (answer.status === 200) return { outcome: "ok", value: answer.body.toString("utf8") };
  if (answer.status === 404) return { outcome: "ok", value: null };
  // A read changes nothing: whatever went wrong, it is simply not part of the history.
  return { outcome: answer.status === 503 ? "fail" : "info", error: errorCode(answer) };
}

function casCompletion(answer: HttpAnswer): Completion {
  if (answer.status === 200) {
    const succeeded = (JSON.parse(answer.body.toString("utf8")) as { succeeded?: unknown }).succeeded;
    return succeeded === true ? { outcome: "ok" } : { outcome: "fail", error: "compare failed" };
  }
  if (answer.status === 412) return { outcome: "fail", error: "compare failed" };
  return writeCompletion(answer);
}

function describeFailure(failure: KeyFailure, history: readonly HistoryOp[]): string[] {
  const culprit = history.find((op) => op.index === failure.culprit);
  const lines = [
    `key ${failure.key}: not linearizable. The history stops being linearizable when operation #${failure.culprit}` +
      `${culprit === undefined ? "" : ` (${culprit.op} by client ${culprit.client} on node ${culprit.node})`} completes at ` +
      `${formatSeconds(failure.cutNs)}. Smallest window that cannot be linearized (${failure.window.length} operations, ` +
      "from any starting value; * = ran past the cut or kept as a possible concurrent write, so treated as indeterminate):",
  ];
  for (const op of failure.window)
    lines.push(`  ${describeOp(op, failure.companions.includes(op.index) || op.completeNs > failure.cutNs)}`);
  return lines;
}

export function describeOp(op: HistoryOp, indeterminate = false): string {
  const what =
    op.op === "cas"
      ? `cas ${JSON.stringify(op.expected)} -> ${JSON.stringify(op.value)}`
      : `${op.op} ${JSON.stringify(op.value)}`;
  const result = `${op.outcome}${op.error === undefined ? "" : ` (${op.error})`}`;
  return (
    `#${op.index}${indeterminate ? "*" : ""} [${formatSeconds(op.invokeNs)} .. ${formatSeconds(op.completeNs)}] ` +
    `client ${op.client} node ${op.node}: ${what} => ${result}`
  );
}
