import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ShoalError } from "../../lib/errors.js";
import { AccessTracker } from "./access-tracker.js";
import { parseEvictionPolicy, parseMemoryBytes, parseSamples } from "./eviction-policy.js";
import { addsMemory, NodeCache } from "./node-cache.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("eviction settings", () => {
  it("reads sizes as Redis does: kb is 1024, k is 1000, any case", () => {
    assert.equal(parseMemoryBytes("0", "maxmemory"), 0);
    assert.equal(parseMemoryBytes("100", "maxmemory"), 100);
    assert.equal(parseMemoryBytes("1k", "maxmemory"), 1000);
    assert.equal(parseMemoryBytes("1KB", "maxmemory"), 1024);
    assert.equal(parseMemoryBytes("2gb", "maxmemory"), 2 * 1024 ** 3);
    for (const bad of ["", "-1", "1.5mb", "1tb", "mb", "1 m b", "99999999999999999999"]) {
      assert.throws(() => parseMemoryBytes(bad, "maxmemory"), ShoalError, bad);
    }
  });

  it("knows Redis's policies and sample bounds", () => {
    assert.equal(parseEvictionPolicy("ALLKEYS-LRU", "p"), "allkeys-lru");
    assert.throws(() => parseEvictionPolicy("lru", "p"), /must be one of noeviction/);
    assert.equal(parseSamples("64", "s"), 64);
    for (const bad of ["0", "65", "x", "5.5"]) assert.throws(() => parseSamples(bad, "s"), ShoalError);
  });

  it("counts SET, APPEND and HSET as adding memory, not GET, DEL or EXPIRE", () => {
    assert.equal(addsMemory([[bytes("get"), bytes("k")]]), false);
    assert.equal(
      addsMemory([
        [bytes("DEL"), bytes("k")],
        [bytes("expire"), bytes("k"), bytes("1")],
      ]),
      false,
    );
    for (const name of ["SET", "append", "hset"]) assert.equal(addsMemory([[bytes(name), bytes("k")]]), true, name);
  });
});

describe("AccessTracker", () => {
  it("ranks by last use for LRU: a key never used here is the stalest", () => {
    const tracker = new AccessTracker(() => 0.5, 10);
    tracker.touch(bytes("a"), 0);
    tracker.touch(bytes("b"), 0);
    tracker.touch(bytes("a"), 0);
    assert.ok(tracker.idleUses(bytes("b")) > tracker.idleUses(bytes("a")));
    assert.ok(tracker.idleUses(bytes("never")) > tracker.idleUses(bytes("b")));
  });

  it("counts uses logarithmically for LFU, from 5, and decays one per idle minute", () => {
    const tracker = new AccessTracker(() => 0, 10); // every increment's draw succeeds
    const key = bytes("k");
    assert.equal(tracker.frequency(key, 0), 0);
    tracker.touch(key, 0);
    assert.equal(tracker.frequency(key, 0), 5);
    for (let i = 0; i < 300; i++) tracker.touch(key, 0);
    assert.equal(tracker.frequency(key, 0), 255, "saturates");
    assert.equal(tracker.frequency(key, 10 * 60_000), 245, "ten idle minutes");
    assert.equal(tracker.frequency(key, 10 * 60_000), 245, "a read does not decay again");
    const rare = new AccessTracker(() => 0.99, 10); // the draws fail once past 6
    for (let i = 0; i < 100; i++) rare.touch(key, 0);
    assert.equal(rare.frequency(key, 0), 6);
  });
});

describe("NodeCache write admission", () => {
  it("refuses a write over the limit with noeviction or when eviction finds nothing, and wakes evictors otherwise", () => {
    let used = 100;
    const cache = new NodeCache({ maxmemoryBytes: 50, policy: "noeviction", samples: 5 }, () => used);
    let kicks = 0;
    cache.addEvictor(() => kicks++);
    assert.throws(
      () => cache.admitWrite(),
      (error: unknown) => (error as ShoalError).code === "OUT_OF_MEMORY",
    );
    cache.configure({ policy: "allkeys-lru" });
    kicks = 0;
    cache.admitWrite();
    assert.equal(kicks, 1);
    cache.onRound(0, true);
    assert.throws(() => cache.admitWrite(), /maxmemory/);
    used = 10;
    cache.admitWrite(); // under the limit again
    cache.configure({ maxmemoryBytes: 0 });
    used = 1e9;
    cache.admitWrite(); // no limit
  });
});
