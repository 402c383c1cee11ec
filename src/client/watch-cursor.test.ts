import assert from "node:assert/strict";
import { test } from "node:test";
import type { WatchEvent } from "./types.js";
import { parseWatchEvent, ShardedWatchCursor, WatchCursor } from "./watch-cursor.js";

const put = (key: string, revision: number): WatchEvent => ({ type: "put", key, value: "v", revision });

test("a resumed stream repeats nothing, even inside a multi-key revision", () => {
  const cursor = new WatchCursor(3);
  assert.equal(cursor.resumeRevision(), 3);
  assert.equal(cursor.accept(put("a", 3)), true);
  assert.equal(cursor.accept(put("b", 4)), true);
  assert.equal(cursor.resumeRevision(), 4, "resume inside revision 4: it may have more keys");
  // The stream broke after b@4; the server replays from 4 inclusive.
  assert.equal(cursor.accept(put("b", 4)), false);
  assert.equal(cursor.accept(put("c", 4)), true);
  assert.equal(cursor.accept(put("a", 3)), false);
  assert.equal(cursor.accept(put("a", 5)), true);
});

test("a watch from now pins the server's revision and resumes after it", () => {
  const cursor = new WatchCursor(undefined);
  assert.equal(cursor.resumeRevision(), undefined);
  cursor.pin(10);
  assert.equal(cursor.resumeRevision(), 11);
  assert.equal(cursor.accept(put("a", 10)), false);
  assert.equal(cursor.accept(put("a", 11)), true);
  cursor.pin(20); // only the first connection pins
  assert.equal(cursor.resumeRevision(), 11);
});

test("parseWatchEvent reads Shoal's events and ignores everything else", () => {
  assert.deepEqual(parseWatchEvent('{"type":"put","key":"a","value":"1","revision":7,"modRevision":7}'), {
    type: "put",
    key: "a",
    value: "1",
    revision: 7,
  });
  assert.deepEqual(parseWatchEvent('{"type":"delete","key":"b","revision":8}'), {
    type: "delete",
    key: "b",
    revision: 8,
  });
  assert.deepEqual(parseWatchEvent('{"type":"PUT","kv":{"key":"c","value":"2","mod_revision":"9"}}'), {
    type: "put",
    key: "c",
    value: "2",
    revision: 9,
  });
  assert.deepEqual(parseWatchEvent('{"type":"put","key":"h","hash":{"f":"v","__proto__":"p"},"revision":10}'), {
    type: "put",
    key: "h",
    hash: Object.fromEntries([
      ["f", "v"],
      ["__proto__", "p"],
    ]),
    revision: 10,
  });
  assert.deepEqual(parseWatchEvent('{"type":"put","key":"h","hash":{"f":1},"revision":11}'), {
    type: "put",
    key: "h",
    revision: 11,
  });
  for (const junk of ["", "not json", "null", "[]", '{"type":"progress","revision":3}', '{"type":"put","key":"a"}']) {
    assert.equal(parseWatchEvent(junk), undefined, junk);
  }
});

test("a watch pinned at revision 0 (an empty store) resumes from revision 1, not from a later now", () => {
  const cursor = new WatchCursor(undefined);
  cursor.pin(0);
  assert.equal(cursor.resumeRevision(), 1);
  cursor.pin(5); // a reconnect's header: only the first connection pins
  assert.equal(cursor.resumeRevision(), 1);
});

test("over several shards, each shard's revisions are tracked apart and a reconnect sends one cursor", () => {
  const cursor = new ShardedWatchCursor(undefined);
  assert.deepEqual(cursor.resumeQuery(), {}, "before connecting: from now");
  cursor.connected([1, 2, 3], [10, 4, 0]);
  assert.deepEqual(cursor.resumeQuery(), { cursor: "10.4.0" });
  const on = (shard: number, key: string, revision: number): WatchEvent => ({ ...put(key, revision), shard });
  assert.equal(cursor.accept(on(2, "b", 5)), true);
  assert.equal(cursor.accept(on(1, "a", 11)), true);
  assert.equal(cursor.accept(on(1, "a", 11)), false, "a repeat of shard 1's revision 11");
  assert.equal(cursor.accept(on(3, "c", 11)), true, "shard 3's revision 11 is another revision");
  assert.equal(cursor.accept(on(2, "b", 4)), false, "shard 2 had delivered everything up to 4");
  // Each shard resumes inside its last revision (it may hold more keys): delivered whole = one less.
  assert.deepEqual(cursor.resumeQuery(), { cursor: "10.4.10" });
  assert.deepEqual(cursor.resumePosition(), { revision: 0, cursor: "10.4.10" });
  cursor.connected([1, 2, 3], [10, 4, 10]); // the reconnect's own header changes nothing
  assert.equal(cursor.accept(on(3, "c", 11)), false);
  assert.equal(cursor.accept(on(3, "d", 11)), true);
});

test("on one shard the sharded cursor is the plain one: from_revision, events without a shard", () => {
  const cursor = new ShardedWatchCursor(7);
  assert.deepEqual(cursor.resumeQuery(), { from_revision: "7" });
  cursor.connected([1], [6]);
  assert.equal(cursor.accept(put("a", 7)), true);
  assert.equal(cursor.accept(put("a", 7)), false);
  assert.deepEqual(cursor.resumeQuery(), { from_revision: "7" });
  assert.deepEqual(cursor.resumePosition(), { revision: 7 });
});
