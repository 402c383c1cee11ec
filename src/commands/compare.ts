/**
 * @module A txn's compares (etcd's semantics): pure functions of one key's current record.
 */
import { compareBytes } from "../lib/bytes.js";
import type { StoredRecord } from "../store/record.js";
import type { Compare, CompareOp } from "./command.js";

/** Evaluates `compare` against `record`, which is undefined when the key is absent or expired. */
export function compareHolds(compare: Compare, record: StoredRecord | undefined): boolean {
  if (compare.target === "value") {
    // etcd: a value compare against a missing key fails whatever the operator.
    if (record === undefined) return false;
    return orderHolds(compare.op, compareBytes(record.value, compare.value));
  }
  const actual = record === undefined ? 0 : record[compare.target];
  return orderHolds(compare.op, actual - compare.value);
}

/** `order` is negative, zero or positive as actual sorts before, equal to or after the compared value. */
function orderHolds(op: CompareOp, order: number): boolean {
  switch (op) {
    case "==":
      return order === 0;
    case "!=":
      return order !== 0;
    case "<":
      return order < 0;
    case ">":
      return order > 0;
  }
}
