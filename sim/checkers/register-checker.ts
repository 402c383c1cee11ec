/**
 * @module The register workload's checker: splits the history per key (P-compositionality), runs the
 * linearizability search on each key, and for a key that fails finds the smallest window of operations that
 * cannot be linearized on its own.
 *
 * Which recorded operations take part (see history.ts for the outcomes):
 * - read ok: determinate, returns its value (null for 404); a read that failed or is unknown is dropped — it had
 *   no effect and tells nothing;
 * - write ok: determinate; write info: indeterminate; write fail: dropped (certainly not applied);
 * - cas ok: succeeded; cas fail with "compare failed": ran and saw another value (kept, it constrains the
 *   order); cas info: indeterminate; any other cas fail: dropped.
 *
 * The window, for a failing key, in two sound steps (each keeps "the window cannot be linearized" implying "the
 * whole history cannot"):
 * 1. The shortest failing prefix: the operations invoked by time T, where an operation still running at T is
 *    made indeterminate (a running read is dropped). Linearizability is prefix-closed, so failure is monotone in
 *    T and a binary search over completion times finds the first T at which it fails.
 * 2. The latest start: drop the earliest-invoked operations while the rest still fails from an UNKNOWN initial
 *    state. Writes and CASes among the dropped ones that completed after the window's first invocation are kept
 *    as indeterminate companions: they may have been linearized among the window's operations, so dropping them
 *    could make a linearizable history look broken.
 */
import { clientOps, type HistoryOp } from "./history-op.js";
import { type Operation, type SearchResult, searchLinearization } from "./linearizability.js";
import { type RegisterInput, type RegisterOutput, registerModel } from "./register-model.js";

export type RegisterOperation = Operation<RegisterInput, RegisterOutput>;

export interface KeyFailure {
  readonly key: string;
  /** The history records of the window, in invocation order. */
  readonly window: readonly HistoryOp[];
  /** Indices (HistoryOp.index) in the window that were dropped-then-kept as indeterminate companions. */
  readonly companions: readonly number[];
  /** The operation (HistoryOp.index) whose completion first made the key non-linearizable. */
  readonly culprit: number;
  /** Its completion time: the window is cut there (operations still running then count as indeterminate). */
  readonly cutNs: number;
  /** The longest linearizable sequence the search found for the failing prefix (HistoryOp indices). */
  readonly longestPrefix: readonly number[];
}

export interface RegisterCheck {
  readonly linearizable: boolean | "unknown";
  readonly keys: number;
  readonly operations: number;
  readonly indeterminate: number;
  readonly configurations: number;
  readonly unknownKeys: readonly string[];
  readonly failures: readonly KeyFailure[];
  readonly elapsedMs: number;
}

export interface RegisterCheckOptions {
  readonly configurationsMax?: number;
  /** Stop after this many failing keys (each window costs searches). */
  readonly failuresMax?: number;
}

/** The operations of every key that take part in the search, with the record each came from. */
export function registerOperations(
  history: readonly HistoryOp[],
): Map<string, { op: RegisterOperation; record: HistoryOp }[]> {
  const byKey = new Map<string, { op: RegisterOperation; record: HistoryOp }[]>();
  for (const record of clientOps(history)) {
    const op = toOperation(record);
    if (op === undefined || record.key === null) continue;
    let list = byKey.get(record.key);
    if (list === undefined) {
      list = [];
      byKey.set(record.key, list);
    }
    list.push({ op, record });
  }
  return byKey;
}

function toOperation(record: HistoryOp): RegisterOperation | undefined {
  const base = { id: record.index, invokeNs: record.invokeNs };
  const unknown = { ...base, completeNs: Number.POSITIVE_INFINITY, output: undefined };
  const known = { ...base, completeNs: record.completeNs };
  switch (record.op) {
    case "read":
      if (record.outcome !== "ok") return undefined;
      return { ...known, input: { f: "read" }, output: { f: "read", value: record.value as string | null } };
    case "write": {
      const input: RegisterInput = { f: "write", value: record.value as string };
      if (record.outcome === "ok") return { ...known, input, output: { f: "write" } };
      return record.outcome === "info" ? { ...unknown, input } : undefined;
    }
    case "cas": {
      const input: RegisterInput = { f: "cas", expected: record.expected as string, value: record.value as string };
      if (record.outcome === "ok") return { ...known, input, output: { f: "cas", ok: true } };
      if (record.outcome === "info") return { ...unknown, input };
      return record.error === "compare failed" ? { ...known, input, output: { f: "cas", ok: false } } : undefined;
    }
    case "incr": {
      const input: RegisterInput = { f: "incr" };
      if (record.outcome === "ok") return { ...known, input, output: { f: "incr", value: record.value as string } };
      return record.outcome === "info" ? { ...unknown, input } : undefined;
    }
    default:
      return undefined;
  }
}

export function checkRegisterHistory(history: readonly HistoryOp[], options: RegisterCheckOptions = {}): RegisterCheck {
  const started = Date.now();
  const byKey = registerOperations(history);
  const failures: KeyFailure[] = [];
  const unknownKeys: string[] = [];
  let operations = 0;
  let indeterminate = 0;
  let configurations = 0;
  for (const [key, list] of byKey) {
    const ops = list.map((item) => item.op);
    operations += ops.length;
    indeterminate += ops.filter((op) => op.output === undefined).length;
    const result = searchLinearization(registerModel(), ops, options);
    configurations += result.configurations;
    if (result.linearizable === "unknown") unknownKeys.push(key);
    if (result.linearizable !== false) continue;
    if (failures.length < (options.failuresMax ?? 3)) failures.push(findWindow(key, list, options));
    else
      failures.push({
        key,
        window: [],
        companions: [],
        culprit: -1,
        cutNs: Number.NaN,
        longestPrefix: result.longestPrefix,
      });
  }
  const linearizable = failures.length > 0 ? false : unknownKeys.length > 0 ? "unknown" : true;
  return {
    linearizable,
    keys: byKey.size,
    operations,
    indeterminate,
    configurations,
    unknownKeys,
    failures,
    elapsedMs: Date.now() - started,
  };
}

/** The operations invoked by `cutNs`, as they looked at that time. */
export function prefixAt(ops: readonly RegisterOperation[], cutNs: number): RegisterOperation[] {
  const prefix: RegisterOperation[] = [];
  for (const op of ops) {
    if (op.invokeNs > cutNs) continue;
    if (op.completeNs <= cutNs) prefix.push(op);
    else if (op.input.f !== "read") prefix.push({ ...op, completeNs: Number.POSITIVE_INFINITY, output: undefined });
  }
  return prefix;
}

function findWindow(
  key: string,
  list: readonly { op: RegisterOperation; record: HistoryOp }[],
  options: RegisterCheckOptions,
): KeyFailure {
  const records = new Map(list.map((item) => [item.op.id, item.record]));
  const ops = list.map((item) => item.op).sort((a, b) => a.invokeNs - b.invokeNs || a.id - b.id);
  const fails = (candidate: readonly RegisterOperation[], initial: "absent" | "unknown"): SearchResult =>
    searchLinearization(registerModel(initial), candidate, options);

  // 1. The first completion time at which the prefix cannot be linearized.
  const cuts = [...new Set(ops.filter((op) => Number.isFinite(op.completeNs)).map((op) => op.completeNs))].sort(
    (a, b) => a - b,
  );
  let low = 0;
  let high = cuts.length - 1;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (fails(prefixAt(ops, cuts[middle]!), "absent").linearizable === false) high = middle;
    else low = middle + 1;
  }
  const cutNs = cuts[low]!;
  const prefix = prefixAt(ops, cutNs);
  const prefixResult = fails(prefix, "absent");
  const culprit = ops.find((op) => op.completeNs === cutNs)!.id;

  // 2. The latest start from which the rest still fails from an unknown state.
  let window = prefix;
  let companions: RegisterOperation[] = [];
  for (let start = prefix.length - 1; start > 0; start--) {
    const firstInvokeNs = prefix[start]!.invokeNs;
    const kept = prefix.slice(start);
    const extra = prefix
      .slice(0, start)
      .filter((op) => op.completeNs >= firstInvokeNs && mayWrite(op))
      .map((op) => ({ ...op, completeNs: Number.POSITIVE_INFINITY, output: undefined }));
    if (fails([...extra, ...kept], "unknown").linearizable === false) {
      window = kept;
      companions = extra;
      break;
    }
  }
  const windowRecords = [...companions, ...window]
    .map((op) => records.get(op.id)!)
    .sort((a, b) => a.invokeNs - b.invokeNs || a.index - b.index);
  return {
    key,
    window: windowRecords,
    companions: companions.map((op) => op.id),
    culprit,
    cutNs,
    longestPrefix: prefixResult.longestPrefix,
  };
}

/** Whether an operation may change the register: writes, and CASes not known to have failed. */
function mayWrite(op: RegisterOperation): boolean {
  if (op.input.f === "write") return true;
  if (op.input.f !== "cas") return false;
  return op.output === undefined || (op.output as { ok: boolean }).ok;
}
