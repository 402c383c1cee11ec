import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CURSOR_OWNER_MAX, foreignScanCursors, ScanCursorTable } from "./scan-cursor-table.js";

const argv = (...words: string[]): Uint8Array[] => words.map((word) => new TextEncoder().encode(word));

describe("ScanCursorTable across nodes", () => {
  it("names its node in every cursor, below 2^62", () => {
    for (const ownerId of [1, 7, CURSOR_OWNER_MAX]) {
      const table = new ScanCursorTable({ ownerId, firstTag: 2n ** 42n - 2n });
      const cursors = [table.issue(argv("a")[0] as Uint8Array), table.issue(argv("b")[0] as Uint8Array)];
      for (const cursor of cursors) {
        assert.equal(ScanCursorTable.ownerOf(cursor), ownerId);
        assert.ok(cursor > 0n && cursor < 2n ** 62n, String(cursor));
      }
      assert.notEqual(cursors[0], cursors[1]);
    }
    assert.throws(() => new ScanCursorTable({ ownerId: CURSOR_OWNER_MAX + 1 }), RangeError);
  });

  it("answers another node's question only for its own cursors; adopts the answer", () => {
    const one = new ScanCursorTable({ ownerId: 1, firstTag: 99n });
    const two = new ScanCursorTable({ ownerId: 2, firstTag: 99n });
    const cursor = one.issue(new Uint8Array([5, 6]));
    assert.deepEqual(one.positionOf(cursor), new Uint8Array([5, 6]));
    // Same tag, other node: a different cursor, unknown to node 2 — never mistaken for one of its own.
    const theirs = two.issue(new Uint8Array([9]));
    assert.notEqual(cursor, theirs);
    assert.equal(two.isForeign(cursor), true);
    assert.throws(() => two.resume(cursor), /invalid cursor/);
    assert.equal(two.positionOf(cursor), undefined);
    two.adopt(cursor, one.positionOf(cursor) as Uint8Array);
    assert.equal(two.isForeign(cursor), false);
    assert.deepEqual(two.resume(cursor), new Uint8Array([5, 6]));
    // Adopted is not owned: node 2 does not answer for node 1's cursor.
    assert.equal(two.positionOf(cursor), undefined);
    assert.equal(one.isForeign(cursor), false);
    assert.equal(one.isForeign(0n), false);
  });

  it("a restarted node (a new random start) does not take an old cursor for a new one", () => {
    const before = new ScanCursorTable({ ownerId: 3, firstTag: 1000n });
    const old = before.issue(new Uint8Array([1]));
    const after = new ScanCursorTable({ ownerId: 3, firstTag: 5_000_000n });
    for (let i = 0; i < 100; i++) after.issue(new Uint8Array([2]));
    assert.throws(() => after.resume(old), /invalid cursor/);
  });

  it("lists the foreign cursors SCAN commands of a run resume, once each", () => {
    const table = new ScanCursorTable({ ownerId: 1 });
    const own = table.issue(new Uint8Array([1]));
    const foreign = (2n << 42n) | 17n;
    assert.deepEqual(
      foreignScanCursors(
        [
          argv("SCAN", foreign.toString()),
          argv("scan", foreign.toString(), "COUNT", "5"),
          argv("SCAN", own.toString()),
          argv("SCAN", "0"),
          argv("SCAN", "nonsense"),
          argv("GET", foreign.toString()),
          argv("HSCAN", "h", foreign.toString()),
          argv("SCAN"),
        ],
        table,
      ),
      [foreign],
    );
  });
});
