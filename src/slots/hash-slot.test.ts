import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { commonSlot, hashSlot, hashTagOf, SLOT_COUNT } from "./hash-slot.js";

const enc = (text: string) => new TextEncoder().encode(text);

/** An independent CRC16/XMODEM, bit by bit (poly 0x1021, init 0, no reflection), per the Redis Cluster spec. */
function crc16Bitwise(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

describe("hash slots", () => {
  it("computes CRC16/XMODEM as the Redis Cluster spec's check value says", () => {
    assert.equal(crc16Bitwise(enc("123456789")), 0x31c3);
  });

  it("answers what Redis answers for CLUSTER KEYSLOT", () => {
    // From Redis's documentation and its cluster tests.
    assert.equal(hashSlot(enc("foo")), 12182);
    assert.equal(hashSlot(enc("somekey")), 11058);
    assert.equal(hashSlot(enc("foo{hash_tag}")), 2515);
    assert.equal(hashSlot(enc("bar{hash_tag}")), 2515);
    assert.equal(hashSlot(enc("")), 0);
    // As a cluster-enabled redis-server 7 answers (an empty first tag hashes the whole key).
    assert.equal(hashSlot(enc("{user1000}.following")), 3443);
    assert.equal(hashSlot(enc("foo{}{bar}")), 8363);
    assert.equal(hashSlot(enc("foo{{bar}}zap")), 4015);
    assert.equal(hashSlot(enc("foo{bar}{zap}")), 5061);
  });

  it("hashes the first non-empty {tag} only", () => {
    const cases: [string, string][] = [
      ["{user1000}.following", "user1000"],
      ["foo{}{bar}", "foo{}{bar}"], // an empty first tag: the whole key
      ["foo{{bar}}zap", "{bar"],
      ["foo{bar}{zap}", "bar"],
      ["{}", "{}"],
      ["{a", "{a"],
      ["a}b{c", "a}b{c"],
      ["}{x}", "x"],
    ];
    for (const [key, hashed] of cases) {
      assert.equal(new TextDecoder().decode(hashTagOf(enc(key))), hashed, key);
      assert.equal(hashSlot(enc(key)), crc16Bitwise(enc(hashed)) % SLOT_COUNT, key);
    }
    assert.equal(hashSlot(enc("{user1000}.following")), hashSlot(enc("{user1000}.followers")));
  });

  it("agrees with the bitwise CRC over the hash tag for any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (key) => {
        const slot = hashSlot(key);
        assert.ok(slot >= 0 && slot < SLOT_COUNT);
        assert.equal(slot, crc16Bitwise(hashTagOf(key)) % SLOT_COUNT);
      }),
      { numRuns: 2000 },
    );
  });

  it("finds the one slot of several keys, or none when they span slots (CROSSSLOT)", () => {
    assert.equal(commonSlot([enc("{t}a"), enc("{t}b"), enc("t")]), hashSlot(enc("t")));
    assert.equal(commonSlot([enc("foo"), enc("bar")]), undefined);
    assert.equal(commonSlot([]), undefined);
  });
});
