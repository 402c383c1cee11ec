import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hashSlot } from "../slots/hash-slot.js";
import { applyEntryData } from "./apply-command.js";
import type { CommandResult } from "./command.js";
import { encodeCommand } from "./command-codec.js";
import { MapStateMachine } from "./testing/map-state-machine.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

const Harness = MapStateMachine;
const SLOT_K = hashSlot(bytes("k"));

describe("applyCommand", () => {
  it("counts versions and revisions across put, overwrite, delete and re-create", () => {
    const h = new Harness();
    const k = bytes("k");
    assert.deepEqual(h.apply({ op: "put", key: k, value: bytes("1"), nowMs: 10 }), {
      kind: "put",
      revision: 1,
      prev: undefined,
    });
    const second = h.apply({ op: "put", key: k, value: bytes("2"), nowMs: 10 });
    assert.equal(second.kind === "put" && second.prev?.version, 1);
    assert.deepEqual(h.getRecord(k), {
      type: "string",
      value: bytes("2"),
      createRevision: 1,
      modRevision: 2,
      version: 2,
      expiresAtMs: 0,
    });
    const deleted = h.apply({ op: "delete", key: k, nowMs: 10 });
    assert.equal(deleted.revision, 3);
    assert.equal(deleted.kind === "delete" && deleted.prev?.modRevision, 2);
    assert.deepEqual(h.apply({ op: "delete", key: k, nowMs: 10 }), { kind: "delete", revision: 3, prev: undefined });
    h.apply({ op: "put", key: k, value: bytes("3"), nowMs: 10 });
    assert.equal(h.getRecord(k)?.createRevision, 4);
    assert.equal(h.getRecord(k)?.version, 1);
  });

  it("computes expiry from the entry's time on the replicated clock, which never runs backwards", () => {
    const h = new Harness();
    h.apply({ op: "put", key: bytes("a"), value: bytes("v"), nowMs: 1000, ttlMs: 500 });
    assert.equal(h.getRecord(bytes("a"))?.expiresAtMs, 1500);
    // A later entry stamped by a leader whose clock is behind still runs at 1000 or later.
    h.apply({ op: "put", key: bytes("b"), value: bytes("v"), nowMs: 200, ttlMs: 500 });
    assert.equal(h.getRecord(bytes("b"))?.expiresAtMs, 1500);
    assert.equal(h.state.clockMs, 1000);
    h.apply({ op: "put", key: bytes("a"), value: bytes("w"), nowMs: 1000, keepTtl: true });
    assert.equal(h.getRecord(bytes("a"))?.expiresAtMs, 1500);
    h.apply({ op: "put", key: bytes("a"), value: bytes("x"), nowMs: 1000 });
    assert.equal(h.getRecord(bytes("a"))?.expiresAtMs, 0, "a plain put clears the TTL, as Redis SET does");
  });

  it("treats an expired key as absent for puts, deletes and compares before expire removes it", () => {
    const h = new Harness();
    const k = bytes("k");
    h.apply({ op: "put", key: k, value: bytes("v"), nowMs: 0, expiresAtMs: 100 });
    assert.deepEqual(h.apply({ op: "delete", key: k, nowMs: 100 }), { kind: "delete", revision: 1, prev: undefined });
    const put = h.apply({ op: "put", key: k, value: bytes("w"), nowMs: 100, ifAbsent: true });
    assert.deepEqual(put, { kind: "put", revision: 2, prev: undefined });
    assert.equal(h.getRecord(k)?.createRevision, 2, "re-created, not a new version of the expired key");
  });

  it("expire deletes exactly the named keys whose expiry has passed, at one revision", () => {
    const h = new Harness();
    h.apply({ op: "put", key: bytes("a"), value: bytes("v"), nowMs: 0, ttlMs: 10 });
    h.apply({ op: "put", key: bytes("b"), value: bytes("v"), nowMs: 0, ttlMs: 20 });
    h.apply({ op: "put", key: bytes("c"), value: bytes("v"), nowMs: 0 });
    const keys = [bytes("a"), bytes("b"), bytes("c"), bytes("a"), bytes("missing")];
    assert.deepEqual(h.apply({ op: "expire", keys, nowMs: 9 }), { kind: "expire", revision: 3, expiredCount: 0 });
    assert.deepEqual(h.apply({ op: "expire", keys, nowMs: 10 }), { kind: "expire", revision: 4, expiredCount: 1 });
    assert.deepEqual(h.apply({ op: "expire", keys, nowMs: 50 }), { kind: "expire", revision: 5, expiredCount: 1 });
    assert.deepEqual([...h.records.keys()], ["c"]);
  });

  it("evict deletes the named keys still at the modRevision chosen, expired ones too, at one revision", () => {
    const h = new Harness();
    h.apply({ op: "put", key: bytes("a"), value: bytes("v"), nowMs: 0 }); // revision 1
    h.apply({ op: "put", key: bytes("b"), value: bytes("v"), nowMs: 0, ttlMs: 5 }); // 2
    h.apply({ op: "put", key: bytes("c"), value: bytes("v"), nowMs: 0 }); // 3
    h.apply({ op: "put", key: bytes("c"), value: bytes("w"), nowMs: 0 }); // 4: c was used after it was chosen
    const keys = [bytes("a"), bytes("b"), bytes("c"), bytes("missing")];
    const evict = { op: "evict", keys, modRevisions: [1, 2, 3, 1], nowMs: 100 } as const;
    assert.deepEqual(h.apply(evict), { kind: "evict", revision: 5, evictedCount: 2 });
    assert.deepEqual([...h.records.keys()], ["c"]);
    assert.deepEqual(h.apply(evict), { kind: "evict", revision: 5, evictedCount: 0 }, "nothing left: no new revision");
  });

  it("answers conflict for failed conditions without changing anything", () => {
    const h = new Harness();
    const k = bytes("k");
    h.apply({ op: "put", key: k, value: bytes("1"), nowMs: 0 });
    const nx = h.apply({ op: "put", key: k, value: bytes("2"), nowMs: 0, ifAbsent: true });
    assert.equal(nx.kind, "conflict");
    assert.equal(nx.revision, 1);
    assert.equal(nx.kind === "conflict" && nx.current?.modRevision, 1);
    assert.equal(
      h.apply({ op: "put", key: bytes("x"), value: bytes("2"), nowMs: 0, ifPresent: true }).kind,
      "conflict",
    );
    assert.equal(h.apply({ op: "put", key: k, value: bytes("2"), nowMs: 0, ifModRevision: 7 }).kind, "conflict");
    assert.equal(h.apply({ op: "put", key: bytes("y"), value: bytes("2"), nowMs: 0, ifModRevision: 0 }).kind, "put");
    assert.equal(h.apply({ op: "put", key: k, value: bytes("3"), nowMs: 0, ifModRevision: 1 }).kind, "put");
    assert.equal(h.state.revision, 3);
  });

  it("runs a txn branch at one revision, ops seeing earlier ops", () => {
    const h = new Harness();
    h.apply({ op: "put", key: bytes("a"), value: bytes("1"), nowMs: 0 });
    const result = h.apply({
      op: "txn",
      nowMs: 0,
      compares: [
        { key: bytes("a"), target: "value", op: "==", value: bytes("1") },
        { key: bytes("b"), target: "version", op: "==", value: 0 },
      ],
      success: [
        { op: "put", key: bytes("b"), value: bytes("2") },
        { op: "get", key: bytes("b") },
        { op: "delete", key: bytes("a") },
      ],
      failure: [],
    });
    assert.equal(result.kind, "txn");
    assert.ok(result.kind === "txn");
    assert.equal(result.succeeded, true);
    assert.equal(result.revision, 2);
    assert.equal(result.responses[1]?.op === "get" && result.responses[1].kv?.modRevision, 2);
    assert.equal(result.responses[2]?.op === "delete" && result.responses[2].prev?.modRevision, 1);
    const failed = h.apply({
      op: "txn",
      nowMs: 0,
      compares: [{ key: bytes("a"), target: "value", op: "!=", value: bytes("1") }],
      success: [{ op: "put", key: bytes("c"), value: bytes("x") }],
      failure: [{ op: "get", key: bytes("b") }],
    });
    assert.ok(failed.kind === "txn");
    assert.equal(failed.succeeded, false, "a value compare against a missing key is false, even !=");
    assert.equal(failed.revision, 2, "a read-only branch does not move the revision");
  });

  it("turns empty and invalid entry data into noop and error results", () => {
    const h = new Harness();
    assert.deepEqual(applyEntryData(h, new Uint8Array(0), h.state).result, { kind: "noop", revision: 0 });
    const bad = applyEntryData(h, new Uint8Array([1, 0xc1]), h.state);
    assert.equal(bad.result.kind, "error");
    assert.equal(bad.mutations.length, 0);
    const good = applyEntryData(h, encodeCommand({ op: "put", key: bytes("k"), value: bytes("v"), nowMs: 5 }), h.state);
    assert.equal(good.result.kind, "put");
    assert.deepEqual(good.state, { revision: 1, clockMs: 5, nextCollectionId: 1 });
  });
});

describe("a slot import's revision floor", () => {
  const importing = (h: MapStateMachine, revisionFloor: number): CommandResult =>
    h.apply({
      op: "slot",
      nowMs: 1,
      move: 1,
      action: "import",
      slots: [SLOT_K],
      argvs: [[bytes("SET"), bytes("k"), bytes("v")]],
      revisionFloor,
    });

  it("takes the revision after the floor or the group's, whichever is higher", () => {
    const h = new Harness();
    h.apply({ op: "slot", nowMs: 1, move: 1, action: "importStart", slots: [SLOT_K], shard: 2 });
    assert.equal(importing(h, 40).revision, 41);
    assert.equal(h.getRecord(bytes("k"))?.modRevision, 41);
    assert.equal(importing(h, 7).revision, 42);
  });

  it("refuses a floor no revision can follow, changing nothing", () => {
    const h = new Harness();
    h.apply({ op: "slot", nowMs: 1, move: 1, action: "importStart", slots: [SLOT_K], shard: 2 });
    for (const floor of [2 ** 53, -1, 1.5, Number.NaN]) {
      const result = importing(h, floor);
      assert.equal(result.kind, "error");
      assert.equal(h.state.revision, 0);
      assert.equal(h.getRecord(bytes("k")), undefined);
    }
  });
});
