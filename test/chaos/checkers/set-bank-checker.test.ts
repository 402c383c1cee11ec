/**
 * The set and bank checkers on hand-written histories: they pass good runs and flag lost, unexpected and stale
 * elements, and reads whose total is off.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ClientName, HistoryOp, Outcome } from "../history.js";
import { checkBankHistory } from "./bank-checker.js";
import { checkSetHistory } from "./set-checker.js";

function history(
  ...specs: [
    client: ClientName,
    op: string,
    key: string | null,
    value: unknown,
    outcome: Outcome,
    at: [number, number],
  ][]
): HistoryOp[] {
  return specs.map(([client, op, key, value, outcome, [invokeNs, completeNs]], index) => ({
    index,
    client,
    node: 1,
    op,
    key,
    value,
    expected: null,
    outcome,
    invokeNs,
    completeNs,
  }));
}

describe("set checker", () => {
  test("every acknowledged add present at the end: valid, indeterminate adds either way", () => {
    const check = checkSetHistory(
      history(
        [0, "add", "s", "0-1", "ok", [0, 1]],
        [1, "add", "s", "1-1", "info", [0, 5]],
        [2, "add", "s", "2-1", "info", [0, 5]],
        [3, "add", "s", "3-1", "fail", [0, 5]],
        ["final", "read", "s", ["0-1", "2-1"], "ok", [10, 11]],
      ),
    );
    assert.equal(check.valid, true);
    assert.deepEqual(check.lost, []);
    assert.equal(check.indeterminate, 2);
    assert.equal(check.indeterminatePresent, 1);
  });

  test("an acknowledged add missing from any node's final read is lost", () => {
    const check = checkSetHistory(
      history(
        [0, "add", "s", "0-1", "ok", [0, 1]],
        [0, "add", "s", "0-2", "ok", [2, 3]],
        ["final", "read", "s", ["0-1", "0-2"], "ok", [10, 11]],
        ["final", "read", "s", ["0-1"], "ok", [10, 11]],
      ),
    );
    assert.equal(check.valid, false);
    assert.deepEqual(check.lost, ["0-2"]);
  });

  test("an element whose add failed, or that nobody added, is unexpected", () => {
    const check = checkSetHistory(
      history([0, "add", "s", "0-1", "fail", [0, 1]], ["final", "read", "s", ["0-1", "ghost"], "ok", [10, 11]]),
    );
    assert.equal(check.valid, false);
    assert.deepEqual(check.unexpected, ["0-1", "ghost"]);
  });

  test("a read during the run missing an add acknowledged before it began is stale; a concurrent one is not", () => {
    const check = checkSetHistory(
      history(
        [0, "add", "s", "0-1", "ok", [0, 1]],
        [0, "add", "s", "0-2", "ok", [2, 6]],
        [1, "read", "s", ["0-1"], "ok", [3, 4]], // 0-2 still in flight: fine
        [1, "read", "s", [], "ok", [5, 6]], // 0-1 was acknowledged at 1: stale
        ["final", "read", "s", ["0-1", "0-2"], "ok", [10, 11]],
      ),
    );
    assert.equal(check.valid, false);
    assert.deepEqual(check.staleReads, [{ read: 3, missing: ["0-1"] }]);
    assert.deepEqual(check.lost, []);
  });

  test("a set key without a final read makes the run invalid", () => {
    const check = checkSetHistory(history([0, "add", "s", "0-1", "ok", [0, 1]]));
    assert.equal(check.valid, false);
    assert.deepEqual(check.unreadKeys, ["s"]);
  });
});

describe("bank checker", () => {
  const accounts = ["a", "b"];

  test("reads that all see the total are valid", () => {
    const check = checkBankHistory(
      history(
        [0, "transfer", null, { from: "a", to: "b", amount: 5 }, "ok", [0, 1]],
        [1, "read", null, { a: 95, b: 105 }, "ok", [2, 3]],
        [1, "read", null, { a: 90, b: 110 }, "fail", [2, 3]],
        ["final", "read", null, { a: 95, b: 105 }, "ok", [4, 5]],
      ),
      accounts,
      200,
    );
    assert.equal(check.valid, true);
    assert.equal(check.transfers.ok, 1);
  });

  test("a read whose total is off, a negative balance or a missing account is flagged", () => {
    const check = checkBankHistory(
      history(
        [1, "read", null, { a: 95, b: 100 }, "ok", [2, 3]],
        [1, "read", null, { a: -5, b: 205 }, "ok", [4, 5]],
        [1, "read", null, { a: 200, b: null }, "ok", [6, 7]],
        ["final", "read", null, { a: 100, b: 100 }, "ok", [8, 9]],
      ),
      accounts,
      200,
    );
    assert.equal(check.valid, false);
    assert.deepEqual(
      check.badReads.map((bad) => bad.read),
      [0, 1, 2],
    );
  });

  test("without a final read the run is not valid", () => {
    assert.equal(
      checkBankHistory(history([1, "read", null, { a: 100, b: 100 }, "ok", [2, 3]]), accounts, 200).valid,
      false,
    );
  });
});
