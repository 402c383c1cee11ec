/**
 * @module The bank workload's checker. Transfers move money between accounts in transactions; every read (one
 * transaction reading all accounts, so it is a consistent snapshot) must see the same total, no negative balance
 * and every account. The run is valid when every read conserves the total and a final read happened.
 */
import { clientOps, type HistoryOp } from "../history.js";

export interface BankCheck {
  readonly valid: boolean;
  readonly reads: number;
  readonly finalReads: number;
  readonly transfers: { readonly ok: number; readonly fail: number; readonly info: number };
  /** Reads whose total, accounts or balances were wrong. */
  readonly badReads: readonly { read: number; total: number; problem: string }[];
}

export function checkBankHistory(history: readonly HistoryOp[], accounts: readonly string[], total: number): BankCheck {
  const ops = clientOps(history);
  const reads = ops.filter((op) => op.op === "read" && op.outcome === "ok");
  const badReads: { read: number; total: number; problem: string }[] = [];
  for (const read of reads) {
    const balances = read.value as Record<string, number | null>;
    const sum = accounts.reduce((acc, account) => acc + (balances[account] ?? 0), 0);
    const missing = accounts.filter((account) => typeof balances[account] !== "number");
    const negative = accounts.filter((account) => (balances[account] ?? 0) < 0);
    if (missing.length > 0)
      badReads.push({ read: read.index, total: sum, problem: `missing accounts ${missing.join(",")}` });
    else if (negative.length > 0)
      badReads.push({ read: read.index, total: sum, problem: `negative balances ${negative.join(",")}` });
    else if (sum !== total) badReads.push({ read: read.index, total: sum, problem: `total ${sum}, expected ${total}` });
  }
  const transfers = ops.filter((op) => op.op === "transfer");
  const finalReads = reads.filter((op) => op.client === "final").length;
  return {
    valid: badReads.length === 0 && finalReads > 0,
    reads: reads.length,
    finalReads,
    transfers: {
      ok: transfers.filter((op) => op.outcome === "ok").length,
      fail: transfers.filter((op) => op.outcome === "fail").length,
      info: transfers.filter((op) => op.outcome === "info").length,
    },
    badReads,
  };
}
