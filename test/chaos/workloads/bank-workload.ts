/**
 * @module The bank workload: money moves between a few accounts in transactions, and every read of all accounts
 * (itself one transaction, so a consistent snapshot) must see the same total.
 *
 * A transfer reads both balances with their mod revisions (two GETs), then sends one txn that compares both mod
 * revisions and puts both new balances: a conflict ("compare failed") means another transfer got there first.
 * Setup creates every account in one txn guarded by `version == 0`, so a retried setup never resets balances.
 */
import { checkBankHistory } from "../checkers/bank-checker.js";
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
  retryUntil,
  type Verdict,
  type Workload,
  type WorkloadContext,
} from "../workload.js";

export interface BankWorkloadOptions {
  readonly accounts: number;
  readonly initialBalance: number;
  readonly readShare: number;
  readonly transferMax: number;
}

const SETUP_TIMEOUT_MS = 30_000;

export class BankWorkload implements Workload {
  readonly name = "bank";
  readonly #options: BankWorkloadOptions;
  readonly accounts: readonly string[];

  constructor(options: BankWorkloadOptions) {
    this.#options = options;
    // One {hash tag}: a transfer is one transaction, which must stay within one shard on a sharded cluster.
    this.accounts = Array.from({ length: options.accounts }, (_, i) => `{bank}acct${i}`);
  }

  get total(): number {
    return this.#options.accounts * this.#options.initialBalance;
  }

  async setup(context: WorkloadContext): Promise<void> {
    const [http] = nodeClients(context);
    const body = JSON.stringify({
      compare: [{ key: this.accounts[0], target: "version", op: "==", value: 0 }],
      success: this.accounts.map((key) => ({ op: "put", key, value: String(this.#options.initialBalance) })),
      failure: [],
    });
    const created = await retryUntil(SETUP_TIMEOUT_MS, async () => {
      await context.recorder.run(
        { client: "setup", node: http!.node, op: "create-accounts", key: null, value: this.total },
        async () => {
          try {
            return writeCompletion(await http!.send("POST", "/v1/txn", body));
          } catch (error) {
            return transportCompletion(error);
          }
        },
      );
      const read = await readAll(http!, this.accounts);
      return (
        read.outcome === "ok" && Object.values(read.value as Record<string, number | null>).every((v) => v !== null)
      );
    });
    http!.close();
    if (!created) throw new Error("Cannot create the bank accounts");
  }

  step(client: ClientContext): Promise<HistoryOp> {
    if (client.random.next() < this.#options.readShare) {
      return client.recorder.run({ client: client.id, node: client.http.node, op: "read", key: null }, () =>
        readAll(client.http, this.accounts),
      );
    }
    const from = client.random.int(this.accounts.length);
    const to = (from + 1 + client.random.int(this.accounts.length - 1)) % this.accounts.length;
    const amount = 1 + client.random.int(this.#options.transferMax);
    const transfer = { from: this.accounts[from]!, to: this.accounts[to]!, amount };
    return client.recorder.run(
      { client: client.id, node: client.http.node, op: "transfer", key: null, value: transfer },
      () => this.#transfer(client.http, transfer),
    );
  }

  hotKeys(): readonly string[] {
    return this.accounts;
  }

  async finalReads(context: WorkloadContext): Promise<void> {
    await Promise.all(
      nodeClients(context).map(async (http) => {
        await finalRead(() =>
          context.recorder.run({ client: "final", node: http.node, op: "read", key: null }, () =>
            readAll(http, this.accounts),
          ),
        );
        http.close();
      }),
    );
  }

  check(history: readonly HistoryOp[]): Verdict {
    const check = checkBankHistory(history, this.accounts, this.total);
    const lines = [
      `bank: ${check.reads} reads (${check.finalReads} final), transfers ${check.transfers.ok} ok, ` +
        `${check.transfers.fail} failed, ${check.transfers.info} indeterminate`,
    ];
    for (const bad of check.badReads.slice(0, 10)) lines.push(`bad read #${bad.read}: ${bad.problem}`);
    if (check.finalReads === 0) lines.push("no final read succeeded");
    return { valid: check.valid, lines, lastLine: `total conserved: ${check.valid}`, details: check };
  }

  async #transfer(http: NodeClient, transfer: { from: string; to: string; amount: number }): Promise<Completion> {
    const balances: { value: number; revision: number }[] = [];
    for (const key of [transfer.from, transfer.to]) {
      let answer: HttpAnswer;
      try {
        answer = await http.send("GET", kvPath(key));
      } catch (error) {
        return { ...transportCompletion(error), outcome: "fail" }; // nothing was written yet
      }
      if (answer.status !== 200) return { outcome: "fail", error: `read: ${errorCode(answer)}` };
      balances.push({
        value: Number(answer.body.toString("utf8")),
        revision: Number(answer.headers["x-shoal-mod-revision"]),
      });
    }
    const [from, to] = balances as [{ value: number; revision: number }, { value: number; revision: number }];
    if (from.value < transfer.amount) return { outcome: "fail", error: "insufficient funds" };
    const body = JSON.stringify({
      compare: [
        { key: transfer.from, target: "modRevision", op: "==", value: from.revision },
        { key: transfer.to, target: "modRevision", op: "==", value: to.revision },
      ],
      success: [
        { op: "put", key: transfer.from, value: String(from.value - transfer.amount) },
        { op: "put", key: transfer.to, value: String(to.value + transfer.amount) },
      ],
      failure: [],
    });
    try {
      const answer = await http.send("POST", "/v1/txn", body);
      if (answer.status === 200) {
        const succeeded = (JSON.parse(answer.body.toString("utf8")) as { succeeded?: unknown }).succeeded === true;
        return succeeded ? { outcome: "ok" } : { outcome: "fail", error: "compare failed" };
      }
      return writeCompletion(answer);
    } catch (error) {
      return transportCompletion(error);
    }
  }
}

/** All balances in one transaction (a consistent snapshot); null for an account that does not exist. */
async function readAll(http: NodeClient, accounts: readonly string[]): Promise<Completion> {
  const body = JSON.stringify({ compare: [], success: accounts.map((key) => ({ op: "get", key })), failure: [] });
  let answer: HttpAnswer;
  try {
    answer = await http.send("POST", "/v1/txn", body);
  } catch (error) {
    return transportCompletion(error);
  }
  if (answer.status !== 200) return { outcome: answer.status === 503 ? "fail" : "info", error: errorCode(answer) };
  const result = JSON.parse(answer.body.toString("utf8")) as {
    responses: { kv: { key: string; value: string } | null }[];
  };
  const balances: Record<string, number | null> = {};
  accounts.forEach((key, i) => {
    const kv = result.responses[i]?.kv;
    balances[key] = kv === null || kv === undefined ? null : Number(kv.value);
  });
  return { outcome: "ok", value: balances };
}
