/**
 * @module The set workload's checker. Each client adds unique elements to one of a few set keys; the checker
 * compares what was acknowledged with what the reads saw:
 * - lost: an add acknowledged (ok) but missing from a final read of its key (any node's) — a lost write;
 * - unexpected: an element in a read that was never added, or whose add certainly failed;
 * - stale: a read during the run missing an element whose add was acknowledged before the read began (reads
 *   are linearizable, so this is a violation too, though not a lost write);
 * - an indeterminate add may be present or absent; the report counts how many made it.
 * The run is valid when nothing is lost, unexpected or stale, and every key has a final read.
 */
import { clientOps, type HistoryOp } from "../history.js";

export interface SetCheck {
  readonly valid: boolean;
  readonly acknowledged: number;
  readonly indeterminate: number;
  readonly indeterminatePresent: number;
  readonly failed: number;
  readonly lost: readonly string[];
  readonly unexpected: readonly string[];
  readonly staleReads: readonly { read: number; missing: readonly string[] }[];
  /** Set keys that were added to but never read after the heal. */
  readonly unreadKeys: readonly string[];
  readonly finalReads: number;
}

interface AddInfo {
  readonly key: string;
  readonly outcome: HistoryOp["outcome"];
  readonly completeNs: number;
}

export function checkSetHistory(history: readonly HistoryOp[]): SetCheck {
  const ops = clientOps(history);
  const adds = new Map<string, AddInfo>();
  for (const op of ops) {
    if (op.op !== "add" || op.key === null) continue;
    adds.set(String(op.value), { key: op.key, outcome: op.outcome, completeNs: op.completeNs });
  }
  const reads = ops.filter((op) => op.op === "read" && op.outcome === "ok" && op.key !== null);
  const finals = reads.filter((op) => op.client === "final");
  const lost = new Set<string>();
  const unexpected = new Set<string>();
  const presentAtEnd = new Set<string>();
  const keysRead = new Set<string>();
  for (const read of finals) {
    keysRead.add(read.key!);
    const seen = new Set(read.value as string[]);
    for (const [element, add] of adds) {
      if (add.key !== read.key) continue;
      if (seen.has(element)) presentAtEnd.add(element);
      else if (add.outcome === "ok") lost.add(element);
    }
  }
  for (const read of reads) {
    for (const element of read.value as string[]) {
      const add = adds.get(element);
      if (add === undefined || add.key !== read.key || add.outcome === "fail") unexpected.add(element);
    }
  }
  const staleReads = findStaleReads(
    reads.filter((op) => op.client !== "final"),
    adds,
  );
  const all = [...adds.values()];
  const unreadKeys = [...new Set(all.map((add) => add.key))].filter((key) => !keysRead.has(key)).sort();
  const indeterminate = [...adds].filter(([, add]) => add.outcome === "info");
  return {
    valid: lost.size === 0 && unexpected.size === 0 && staleReads.length === 0 && unreadKeys.length === 0,
    acknowledged: all.filter((add) => add.outcome === "ok").length,
    indeterminate: indeterminate.length,
    indeterminatePresent: indeterminate.filter(([element]) => presentAtEnd.has(element)).length,
    failed: all.filter((add) => add.outcome === "fail").length,
    lost: [...lost].sort(),
    unexpected: [...unexpected].sort(),
    staleReads,
    unreadKeys,
    finalReads: finals.length,
  };
}

function findStaleReads(
  reads: readonly HistoryOp[],
  adds: ReadonlyMap<string, AddInfo>,
): { read: number; missing: string[] }[] {
  const stale: { read: number; missing: string[] }[] = [];
  for (const read of reads) {
    const seen = new Set(read.value as string[]);
    const missing: string[] = [];
    for (const [element, add] of adds) {
      if (add.key === read.key && add.outcome === "ok" && add.completeNs < read.invokeNs && !seen.has(element))
        missing.push(element);
    }
    if (missing.length > 0) stale.push({ read: read.index, missing });
  }
  return stale;
}
