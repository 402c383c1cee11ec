import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  deriveClusterId,
  holdsState,
  IDENTITY_FILE_NAME,
  MembersSeen,
  readIdentity,
  writeIdentity,
} from "./identity.js";

const dir = (): string => mkdtempSync(join(tmpdir(), "shoal-identity-"));

test("the cluster id is derived from the member ids and the name, in any order", () => {
  assert.equal(deriveClusterId([3, 1, 2], "shoal"), deriveClusterId([1, 2, 3], "shoal"));
  assert.notEqual(deriveClusterId([1, 2, 3], "shoal"), deriveClusterId([1, 2, 3], "other"));
  assert.notEqual(deriveClusterId([1, 2, 3], "shoal"), deriveClusterId([1, 2, 3, 4], "shoal"));
  assert.match(deriveClusterId([1], "shoal"), /^[0-9a-f]{16}$/);
});

test("an identity is written atomically and read back; none in a new directory", () => {
  const d = dir();
  assert.equal(readIdentity(d), undefined);
  const identity = {
    clusterId: "abc",
    nodeId: 2,
    memberIds: [1, 2, 3],
    createdAt: "2025-01-01T00:00:00.000Z",
    shardCount: 1,
    replicationFactor: 3,
  };
  writeIdentity(d, identity);
  assert.deepEqual(readIdentity(d), identity);
  assert.match(readFileSync(join(d, IDENTITY_FILE_NAME), "utf8"), /"format": 1/);
});

test("an identity file that is not one is an error, not a new directory", () => {
  const d = dir();
  writeFileSync(join(d, IDENTITY_FILE_NAME), "{ not json");
  assert.throws(() => readIdentity(d), /not valid JSON/);
  writeFileSync(join(d, IDENTITY_FILE_NAME), JSON.stringify({ format: 1, clusterId: 7 }));
  assert.throws(() => readIdentity(d), /not a Shoal identity file/);
});

test("the members heard from survive a reload", () => {
  const d = dir();
  const seen = MembersSeen.load(d);
  assert.equal(seen.has(2), false);
  seen.add(2);
  seen.add(3);
  seen.add(2);
  const again = MembersSeen.load(d);
  assert.equal(again.has(2), true);
  assert.equal(again.has(3), true);
  assert.equal(again.has(1), false);
});

test("a directory holds state once its WAL, snapshots or LMDB directory has anything in it", () => {
  const d = dir();
  assert.equal(holdsState(d), false);
  mkdirSync(join(d, "wal"));
  assert.equal(holdsState(d), false, "an empty WAL directory is no state");
  writeFileSync(join(d, "wal", "segment-1"), "x");
  assert.equal(holdsState(d), true);
});
