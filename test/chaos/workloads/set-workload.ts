/**
 * @module The set workload: clients add unique elements (`<client>-<sequence>`) to a handful of set keys and now
 * and then read a set; the final reads, through every node, must hold every acknowledged add.
 *
 * A set is one key holding its elements comma-separated. An add reads the key (value and mod revision) and
 * writes the extended list in a transaction that compares the mod revision, retrying on a conflict: a lost
 * update anywhere in the write path shows up as a lost element. An add is `fail` only when every attempt
 * certainly did not apply; once an attempt is indeterminate, so is the add (retrying could apply it twice).
 */
import { checkSetHistory } from "../checkers/set-checker.js";
import type { Completion, HistoryOp } from "../history.js";
import {
  errorCode,
  type HttpAnswer,
  kvPath,
  type NodeClient,
  transportCompletion,
  writeCompletion,
} from "../node-client.js";
import {
  type ClientContext,
  finalRead,
  nodeClients,
  type Verdict,
  type Workload,
  type WorkloadContext,
} from "../workload.js";

export interface SetWorkloadOptions {
  readonly keys: number;
  /** Chance an operation is a read rather than an add. */
  readonly readShare: number;
  /** Attempts of one add before it gives up (each conflict or 503 is one). */
  readonly attemptsMax: number;
}

type SetRead = { kind: "ok"; elements: string[]; revision: number } | { kind: "failed"; completion: Completion };

export class SetWorkload implements Workload {
  readonly name = "set";
  readonly #options: SetWorkloadOptions;
  readonly #sequence = new Map<number, number>();

  constructor(options: SetWorkloadOptions) {
    this.#options = options;
  }

  async setup(): Promise<void> {}

  step(client: ClientContext): Promise<HistoryOp> {
    const key = `set${client.random.int(this.#options.keys)}`;
    if (client.random.next() < this.#options.readShare) {
      return client.recorder.run({ client: client.id, node: client.http.node, op: "read", key }, async () => {
        const read = await readSet(client.http, key);
        return read.kind === "ok" ? { outcome: "ok", value: read.elements } : read.completion;
      });
    }
    const sequence = (this.#sequence.get(client.id) ?? 0) + 1;
    this.#sequence.set(client.id, sequence);
    const element = `${client.id}-${sequence}`;
    return client.recorder.run({ client: client.id, node: client.http.node, op: "add", key, value: element }, () =>
      this.#add(client, key, element),
    );
  }

  hotKeys(): readonly string[] {
    return Array.from({ length: this.#options.keys }, (_, i) => `set${i}`);
  }

  async finalReads(context: WorkloadContext): Promise<void> {
    const clients = nodeClients(context);
    await Promise.all(
      clients.map(async (http) => {
        for (let i = 0; i < this.#options.keys; i++) {
          const key = `set${i}`;
          await finalRead(() =>
            context.recorder.run({ client: "final", node: http.node, op: "read", key }, async () => {
              const read = await readSet(http, key);
              return read.kind === "ok" ? { outcome: "ok", value: read.elements } : read.completion;
            }),
          );
        }
        http.close();
      }),
    );
  }

  check(history: readonly HistoryOp[]): Verdict {
    const check = checkSetHistory(history);
    const lines = [
      `set: ${check.acknowledged} adds acknowledged, ${check.indeterminate} indeterminate ` +
        `(${check.indeterminatePresent} of them present at the end), ${check.failed} failed; ${check.finalReads} final reads`,
    ];
    if (check.unreadKeys.length > 0) lines.push(`no final read of: ${check.unreadKeys.join(", ")}`);
    if (check.unexpected.length > 0) lines.push(`unexpected elements: ${check.unexpected.slice(0, 20).join(", ")}`);
    for (const stale of check.staleReads.slice(0, 5)) {
      lines.push(
        `stale read #${stale.read}: missing ${stale.missing.length} acknowledged elements (${stale.missing.slice(0, 5).join(", ")}...)`,
      );
    }
    lines.push(`stale reads: ${check.staleReads.length}`, `unexpected: ${check.unexpected.length}`);
    if (check.lost.length > 0) lines.push(`lost elements: ${check.lost.slice(0, 50).join(", ")}`);
    return {
      valid: check.valid,
      lines,
      lastLine: `lost: ${check.lost.length}`,
      details: check,
    };
  }

  async #add(client: ClientContext, key: string, element: string): Promise<Completion> {
    let last: Completion = { outcome: "fail", error: "no attempt" };
    for (let attempt = 0; attempt < this.#options.attemptsMax; attempt++) {
      if (attempt > 0) await new Promise((done) => setTimeout(done, client.random.int(20 * attempt)));
      const read = await readSet(client.http, key);
      if (read.kind === "failed") {
        // The read changed nothing; the add has not been tried yet.
        last = { outcome: "fail", error: `read: ${read.completion.error ?? read.completion.outcome}` };
        continue;
      }
      const body = JSON.stringify({
        compare: [{ key, target: "modRevision", op: "==", value: read.revision }],
        success: [{ op: "put", key, value: [...read.elements, element].join(",") }],
        failure: [],
      });
      let answer: HttpAnswer;
      try {
        answer = await client.http.send("POST", "/v1/txn", body);
      } catch (error) {
        const completion = transportCompletion(error);
        if (completion.outcome === "info") return completion;
        last = completion;
        continue;
      }
      if (answer.status === 200) {
        if ((JSON.parse(answer.body.toString("utf8")) as { succeeded?: unknown }).succeeded === true)
          return { outcome: "ok" };
        last = { outcome: "fail", error: "conflict" };
        continue;
      }
      const refused = writeCompletion(answer);
      if (refused.outcome !== "fail") return refused;
      last = refused;
    }
    return last;
  }
}

async function readSet(http: NodeClient, key: string): Promise<SetRead> {
  let answer: HttpAnswer;
  try {
    answer = await http.send("GET", kvPath(key));
  } catch (error) {
    return { kind: "failed", completion: transportCompletion(error) };
  }
  if (answer.status === 404) return { kind: "ok", elements: [], revision: 0 };
  if (answer.status !== 200)
    return {
      kind: "failed",
      completion: { outcome: answer.status === 503 ? "fail" : "info", error: errorCode(answer) },
    };
  const text = answer.body.toString("utf8");
  const revision = Number(answer.headers["x-shoal-mod-revision"]);
  return { kind: "ok", elements: text === "" ? [] : text.split(","), revision };
}
