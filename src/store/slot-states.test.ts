import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ShoalError } from "../lib/errors.js";
import { hashSlot, SLOT_COUNT } from "../slots/hash-slot.js";
import {
  askError,
  askTarget,
  checkServed,
  decodeSlotStates,
  encodeSlotStatesInto,
  NO_SLOT_STATES,
  type SlotState,
  type SlotStates,
  slotMigrating,
  slotRefusal,
  slotStatesBytes,
} from "./slot-states.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** `states` encoded alone (offset 0, the view exactly its size). */
function encode(states: SlotStates, offset = 0): Uint8Array {
  const out = new Uint8Array(offset + slotStatesBytes(states));
  encodeSlotStatesInto(new DataView(out.buffer), offset, states);
  return out;
}

function decode(encoded: Uint8Array, offset = 0): SlotStates {
  return decodeSlotStates(new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength), offset);
}

const states = (...entries: [number, SlotState][]): SlotStates => new Map(entries);

const isBadRequest = (error: unknown): boolean => error instanceof ShoalError && error.code === "BAD_REQUEST";

describe("slot states encoding", () => {
  it("round trips every phase, the edge slots and shard ids, in any insertion order", () => {
    const original = states(
      [16383, { phase: "gone", shard: 0xffff, move: 1 }],
      [0, { phase: "frozen", shard: 2, move: 1 }],
      [777, { phase: "importing", shard: 1, move: 1 }],
    );
    const encoded = encode(original);
    assert.equal(encoded.length, 2 + 11 * 3, "three runs of one slot each");
    assert.equal(slotStatesBytes(original), encoded.length);
    const decoded = decode(encoded);
    assert.deepEqual(decoded, original);
    // Slot order: equal records encode equally whatever order they were built in.
    const reordered = states(
      [0, { phase: "frozen", shard: 2, move: 1 }],
      [777, { phase: "importing", shard: 1, move: 1 }],
      [16383, { phase: "gone", shard: 0xffff, move: 1 }],
    );
    assert.deepEqual(encode(reordered), encoded);
    assert.deepEqual([...decoded.keys()], [0, 777, 16383]);
  });

  it("round trips no states and states after an offset", () => {
    assert.deepEqual(encode(NO_SLOT_STATES), Uint8Array.of(0, 0));
    assert.equal(decode(encode(NO_SLOT_STATES)).size, 0);
    const original = states([5, { phase: "frozen", shard: 3, move: 1 }]);
    const encoded = encode(original, 9);
    assert.deepEqual(decode(encoded, 9), original);
  });

  it("refuses truncated, overlong and malformed records with BAD_REQUEST", () => {
    const good = encode(states([1, { phase: "frozen", shard: 2, move: 1 }], [2, { phase: "gone", shard: 3, move: 1 }]));
    assert.throws(() => decode(good.subarray(0, 1)), isBadRequest, "no count");
    assert.throws(() => decode(good.subarray(0, good.length - 1)), isBadRequest, "truncated entry");
    assert.throws(() => decode(Uint8Array.of(...good, 0)), isBadRequest, "trailing byte");
    const withCount = (count: number): Uint8Array => Uint8Array.of(count >> 8, count & 0xff, ...good.subarray(2));
    assert.throws(() => decode(withCount(3)), isBadRequest, "count above the entries");
    assert.throws(() => decode(withCount(1)), isBadRequest, "count below the entries");
    const entry = (slot: number, phase: number, shard: number, to = slot): Uint8Array =>
      Uint8Array.of(0, 1, slot >> 8, slot & 0xff, to >> 8, to & 0xff, phase, shard >> 8, shard & 0xff, 0, 0, 0, 1);
    assert.deepEqual(decode(entry(16383, 2, 1)), states([16383, { phase: "gone", shard: 1, move: 1 }]));
    assert.throws(() => decode(entry(SLOT_COUNT, 0, 1)), isBadRequest, "slot out of range");
    assert.throws(() => decode(entry(0xffff, 0, 1)), isBadRequest, "slot out of range");
    assert.throws(() => decode(entry(1, 4, 1)), isBadRequest, "unknown phase");
    assert.throws(() => decode(entry(1, 0xff, 1)), isBadRequest, "unknown phase");
    assert.throws(() => decode(entry(1, 0, 0)), isBadRequest, "shard 0");
    assert.throws(() => decode(entry(9, 0, 1, 8)), isBadRequest, "a run that ends before it starts");
    const twice = Uint8Array.of(0, 2, 0, 7, 0, 9, 0, 0, 2, 0, 0, 0, 1, 0, 9, 0, 9, 2, 0, 3, 0, 0, 0, 1);
    assert.throws(() => decode(twice), isBadRequest, "a slot twice (overlapping runs)");
  });

  it("encodes consecutive slots in the same state as one run: a split's half is a few bytes", () => {
    const half = new Map<number, SlotState>();
    for (let slot = 8192; slot < 16384; slot++) half.set(slot, { phase: "gone", shard: 4, move: 1 });
    half.set(100, { phase: "frozen", shard: 4, move: 1 });
    half.set(101, { phase: "frozen", shard: 5, move: 1 }); // another destination: another run
    assert.equal(slotStatesBytes(half), 2 + 11 * 3);
    assert.deepEqual(decode(encode(half)), half);
  });
});

describe("slotRefusal", () => {
  const recorded = states(
    [10, { phase: "frozen", shard: 2, move: 1 }],
    [11, { phase: "importing", shard: 3, move: 1 }],
    [12, { phase: "gone", shard: 4, move: 1 }],
  );

  it("serves a slot not recorded, reads and writes alike", () => {
    assert.equal(slotRefusal(recorded, 9, true), undefined);
    assert.equal(slotRefusal(recorded, 9, false), undefined);
    assert.equal(slotRefusal(NO_SLOT_STATES, 10, true), undefined);
  });

  it("serves reads of a frozen slot and refuses its writes with SLOT_MIGRATING", () => {
    assert.equal(slotRefusal(recorded, 10, false), undefined);
    const refusal = slotRefusal(recorded, 10, true);
    assert.ok(refusal instanceof ShoalError);
    assert.equal(refusal.code, "SLOT_MIGRATING");
    assert.match(refusal.message, /Slot 10 /);
    assert.equal(refusal.retryable, true);
  });

  it("refuses reads and writes of an importing slot with SLOT_MIGRATING", () => {
    assert.equal(slotRefusal(recorded, 11, false)?.code, "SLOT_MIGRATING");
    assert.equal(slotRefusal(recorded, 11, true)?.code, "SLOT_MIGRATING");
  });

  it("refuses reads and writes of a gone slot with ASK naming the destination", () => {
    for (const writes of [false, true]) {
      const refusal = slotRefusal(recorded, 12, writes);
      assert.ok(refusal !== undefined);
      assert.equal(refusal.code, "ASK");
      assert.deepEqual(askTarget(refusal), { slot: 12, shard: 4 });
      assert.deepEqual(refusal.detail, { slot: 12, shard: 4 });
    }
  });
});

describe("checkServed", () => {
  const tagged = (tag: string, name: string): Uint8Array => bytes(`{${tag}}${name}`);
  const frozenSlot = hashSlot(bytes("frozen"));
  const goneSlot = hashSlot(bytes("gone"));
  const recorded = states(
    [frozenSlot, { phase: "frozen", shard: 2, move: 1 }],
    [goneSlot, { phase: "gone", shard: 5, move: 1 }],
  );

  it("passes keys of slots served, and reads of a frozen slot", () => {
    checkServed(recorded, [bytes("elsewhere"), tagged("x", "y")], true);
    checkServed(recorded, [tagged("frozen", "a")], false);
    checkServed(NO_SLOT_STATES, [tagged("gone", "a")], true);
    checkServed(recorded, [], true);
  });

  it("throws the refusal of the first key not served", () => {
    assert.throws(
      () => checkServed(recorded, [bytes("elsewhere"), tagged("frozen", "a"), tagged("gone", "b")], true),
      (error: unknown) => error instanceof ShoalError && error.code === "SLOT_MIGRATING",
    );
    assert.throws(
      () => checkServed(recorded, [tagged("gone", "b"), tagged("frozen", "a")], true),
      (error: unknown) => error instanceof ShoalError && error.code === "ASK",
    );
    assert.throws(
      () => checkServed(recorded, [tagged("frozen", "a"), tagged("gone", "b")], false),
      (error: unknown) => error instanceof ShoalError && error.code === "ASK" && askTarget(error)?.shard === 5,
      "a read passes the frozen key and stops at the gone one",
    );
  });
});

describe("askError and askTarget", () => {
  it("round trip a slot and shard through the message alone", () => {
    for (const [slot, shard] of [
      [0, 1],
      [16383, 65535],
      [1234, 7],
    ] as const) {
      const error = askError(slot, shard);
      assert.equal(error.code, "ASK");
      assert.equal(error.message, `${slot} ${shard}`);
      // Only the message crosses the wire: a ShoalError rebuilt from code and message still names the target.
      assert.deepEqual(askTarget(new ShoalError("ASK", error.message)), { slot, shard });
    }
  });

  it("names no target for other errors or other messages", () => {
    assert.equal(askTarget(slotMigrating(3)), undefined);
    assert.equal(askTarget(new ShoalError("MOVED", "3 2")), undefined);
    assert.equal(askTarget(new ShoalError("ASK", "3")), undefined);
    assert.equal(askTarget(new ShoalError("ASK", "3 2 1")), undefined);
    assert.equal(askTarget(new ShoalError("ASK", "slot 3 shard 2")), undefined);
    assert.equal(askTarget(new ShoalError("ASK", "123456 2")), undefined);
    assert.equal(askTarget(new ShoalError("ASK", " 3 2")), undefined);
  });

  it("slotMigrating is a retryable SLOT_MIGRATING naming the slot", () => {
    const error = slotMigrating(42);
    assert.equal(error.code, "SLOT_MIGRATING");
    assert.match(error.message, /^Slot 42 is moving/);
    assert.equal(error.retryable, true);
  });
});
