import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ShoalError } from "../lib/errors.js";
import type { SlotStates } from "./slot-states.js";
import { parseSnapshot, type SnapshotItem, snapshotChunks } from "./snapshot-format.js";
import { decodeMeta, EMPTY_META, encodeMeta, type StoreMeta } from "./store-meta.js";

const V2_BYTES = 1 + 8 * 6;

const meta: StoreMeta = {
  appliedIndex: 42,
  revision: 17,
  clockMs: 1_700_000_000_000,
  keyCount: 3,
  sizeBytes: 99,
  nextCollectionId: 5,
  slots: new Map(),
};

const slots: SlotStates = new Map([
  [12182, { phase: "frozen", shard: 2, move: 1 }],
  [3, { phase: "importing", shard: 1, move: 1 }],
  [16383, { phase: "gone", shard: 7, move: 1 }],
]);

const isBadRequest = (error: unknown): boolean => error instanceof ShoalError && error.code === "BAD_REQUEST";

describe("store meta", () => {
  it("writes V2, byte for byte as before slot moves, when no slot is recorded", () => {
    const encoded = encodeMeta(meta);
    assert.equal(encoded[0], 2);
    assert.equal(encoded.length, V2_BYTES);
    const decoded = decodeMeta(encoded);
    assert.deepEqual(decoded, meta);
    assert.equal(decoded.slots.size, 0);
    assert.deepEqual(decodeMeta(encodeMeta(EMPTY_META)), EMPTY_META);
  });

  it("writes V3 carrying the slot states, and reads them back", () => {
    const withSlots = { ...meta, slots };
    const encoded = encodeMeta(withSlots);
    assert.equal(encoded[0], 3);
    assert.equal(encoded.length, V2_BYTES + 2 + 11 * slots.size, "a run per slot: none is next to another");
    const decoded = decodeMeta(encoded);
    assert.deepEqual(decoded, withSlots);
    assert.deepEqual(encodeMeta(decoded), encoded, "re-encoding is stable");
    // The V2 fields are where V2 has them.
    assert.deepEqual(encoded.subarray(1, V2_BYTES), encodeMeta(meta).subarray(1));
  });

  it("reads a V3 meta that is a view into a bigger buffer", () => {
    const encoded = encodeMeta({ ...meta, slots });
    const padded = new Uint8Array(encoded.length + 11);
    padded.set(encoded, 5);
    assert.deepEqual(decodeMeta(padded.subarray(5, 5 + encoded.length)), { ...meta, slots });
  });

  it("still reads V1 (no collection counter)", () => {
    const v1 = new Uint8Array(1 + 8 * 5);
    v1[0] = 1;
    const view = new DataView(v1.buffer);
    for (let i = 0; i < 5; i++) view.setFloat64(1 + 8 * i, i + 1);
    assert.deepEqual(decodeMeta(v1), {
      appliedIndex: 1,
      revision: 2,
      clockMs: 3,
      keyCount: 4,
      sizeBytes: 5,
      nextCollectionId: 1,
      slots: new Map(),
    });
  });

  it("refuses a corrupt V3 with BAD_REQUEST", () => {
    const good = encodeMeta({ ...meta, slots });
    assert.throws(() => decodeMeta(good.subarray(0, V2_BYTES)), isBadRequest, "V3 without its slot count");
    assert.throws(() => decodeMeta(good.subarray(0, V2_BYTES + 1)), isBadRequest, "half a slot count");
    assert.throws(() => decodeMeta(good.subarray(0, good.length - 1)), isBadRequest, "a truncated slot entry");
    assert.throws(() => decodeMeta(Uint8Array.of(...good, 0)), isBadRequest, "a trailing byte");
    const badPhase = good.slice();
    badPhase[V2_BYTES + 2 + 4] = 9; // the first run's phase
    assert.throws(() => decodeMeta(badPhase), isBadRequest, "an unknown phase");
    const badSlot = good.slice();
    badSlot[V2_BYTES + 2 + 2] = 0xff; // the first run's last slot, high byte
    assert.throws(() => decodeMeta(badSlot), isBadRequest, "a slot out of range");
    const zeroShard = good.slice();
    zeroShard[V2_BYTES + 2 + 5] = 0;
    zeroShard[V2_BYTES + 2 + 6] = 0;
    assert.throws(() => decodeMeta(zeroShard), isBadRequest, "shard 0");
    const badField = good.slice();
    new DataView(badField.buffer).setFloat64(1, -1);
    assert.throws(() => decodeMeta(badField), isBadRequest, "a negative field");
  });

  it("refuses a V2 with slot states appended, and unknown formats", () => {
    const v3 = encodeMeta({ ...meta, slots });
    const v2WithTail = v3.slice();
    v2WithTail[0] = 2;
    assert.throws(() => decodeMeta(v2WithTail), isBadRequest);
    const v4 = encodeMeta(meta).slice();
    v4[0] = 4;
    assert.throws(() => decodeMeta(v4), isBadRequest);
    assert.throws(() => decodeMeta(new Uint8Array(0)), isBadRequest);
  });

  it("travels in a snapshot image's header", async () => {
    const withSlots: StoreMeta = { ...EMPTY_META, appliedIndex: 9, revision: 4, clockMs: 8, slots };
    const items: SnapshotItem[] = [];
    for await (const item of parseSnapshot(snapshotChunks(withSlots, [], 16))) items.push(item);
    assert.deepEqual(items, [{ kind: "header", meta: withSlots }]);
  });
});
