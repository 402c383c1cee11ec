import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ShoalError } from "../lib/errors.js";
import { MapKeyspace } from "../store/testing/map-keyspace.js";
import { type ApplyState, applyEntryData } from "./apply-command.js";
import type { SlotCommand } from "./command.js";
import { COMMAND_FORMAT_V1, decodeCommand, encodeCommand } from "./command-codec.js";
import { COMMAND_LIMITS } from "./limits.js";
import { encodeUnchecked } from "./testing/unchecked-entry.js";
import { SLOT_STEP_SLOTS_MAX, validateCommand } from "./validate-command.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const NOW_MS = 1_700_000_000_000;

const slotCommand = (action: SlotCommand["action"], extra: Partial<SlotCommand> = {}): SlotCommand => ({
  op: "slot",
  nowMs: NOW_MS,
  move: 1,
  action,
  slots: [0, 16383, 12182],
  ...extra,
});

function expectError(run: () => unknown, code: string, pattern?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ShoalError, `expected a ShoalError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  });
}

const EMPTY_STATE: ApplyState = { revision: 0, clockMs: 0, nextCollectionId: 1 };

/** Applies entry data to an empty keyspace: must answer (never throw) for any bytes a proposer could log. */
function applied(data: Uint8Array): ReturnType<typeof applyEntryData> {
  return applyEntryData(new MapKeyspace(), data, EMPTY_STATE);
}

describe("slot commands: codec", () => {
  const valid: SlotCommand[] = [
    slotCommand("freeze", { shard: 2 }),
    slotCommand("importStart", { shard: 0xffff }),
    slotCommand("import", {
      argvs: [
        [bytes("SET"), bytes("{x}a"), new Uint8Array([0, 255, 1]), bytes("PXAT"), bytes("1700000000000")],
        [bytes("HSET"), bytes("{x}h"), bytes("f"), bytes("")],
      ],
    }),
    slotCommand("import", { argvs: [] }),
    slotCommand("importDone"),
    slotCommand("handOff", { slots: [5] }),
    slotCommand("drop", { keys: [bytes("a"), new Uint8Array(0), new Uint8Array([0, 255])] }),
    slotCommand("drop", { keys: [] }),
  ];

  it("round-trips every action into plain Uint8Arrays", () => {
    for (const command of valid) {
      const data = encodeCommand(command);
      assert.equal(data[0], COMMAND_FORMAT_V1);
      const decoded = decodeCommand(data);
      assert.deepStrictEqual(decoded, command);
      assert.ok(decoded.op === "slot");
      for (const part of [...(decoded.argvs ?? []).flat(), ...(decoded.keys ?? [])]) {
        assert.equal(Object.getPrototypeOf(part), Uint8Array.prototype, "plain bytes, not Buffers");
      }
    }
  });

  it("round-trips the most slots a step may name", () => {
    const slots = Array.from({ length: SLOT_STEP_SLOTS_MAX }, (_, i) => i * 16);
    const command = slotCommand("handOff", { slots });
    assert.deepStrictEqual(decodeCommand(encodeCommand(command)), command);
  });

  it("refuses invalid slot steps when encoding, with BAD_REQUEST", () => {
    const bad: [string, SlotCommand][] = [
      ["no slot", slotCommand("handOff", { slots: [] })],
      ["a slot twice", slotCommand("handOff", { slots: [1, 2, 1] })],
      [
        "too many slots",
        slotCommand("handOff", { slots: Array.from({ length: SLOT_STEP_SLOTS_MAX + 1 }, (_, i) => i) }),
      ],
      ["slot 16384", slotCommand("handOff", { slots: [16384] })],
      ["slot -1", slotCommand("handOff", { slots: [-1] })],
      ["slot 1.5", slotCommand("handOff", { slots: [1.5] })],
      ["slot NaN", slotCommand("handOff", { slots: [Number.NaN] })],
      ["freeze without a shard", slotCommand("freeze")],
      ["importStart without a shard", slotCommand("importStart")],
      ["handOff with a shard", slotCommand("handOff", { shard: 2 })],
      ["importDone with a shard", slotCommand("importDone", { shard: 2 })],
      ["shard 0", slotCommand("freeze", { shard: 0 })],
      ["shard 65536", slotCommand("freeze", { shard: 0x10000 })],
      ["shard 1.5", slotCommand("freeze", { shard: 1.5 })],
      ["import without argvs", slotCommand("import")],
      ["import with keys", slotCommand("import", { argvs: [], keys: [] })],
      ["drop without keys", slotCommand("drop")],
      ["drop with argvs", slotCommand("drop", { keys: [], argvs: [] })],
      ["freeze with keys", slotCommand("freeze", { shard: 2, keys: [] })],
      ["an empty import command", slotCommand("import", { argvs: [[]] })],
    ];
    for (const [why, command] of bad) {
      expectError(() => encodeCommand(command), "BAD_REQUEST");
      expectError(() => validateCommand(command), "BAD_REQUEST");
      // A proposer that skipped validation: every replica refuses the entry alike, nothing applied.
      const outcome = applied(encodeUnchecked(command));
      assert.equal(outcome.result.kind, "error", why);
      assert.ok(outcome.result.kind === "error");
      assert.equal(outcome.result.code, "BAD_REQUEST", why);
      assert.deepEqual(outcome.mutations, [], why);
      assert.equal(outcome.state, EMPTY_STATE, why);
    }
  });

  it("bounds a drop's keys and their sizes (TOO_LARGE)", () => {
    const many = Array.from({ length: COMMAND_LIMITS.expireKeysCountMax + 1 }, (_, i) => bytes(`k${i}`));
    expectError(() => encodeCommand(slotCommand("drop", { keys: many })), "TOO_LARGE");
    encodeCommand(slotCommand("drop", { keys: many.slice(1) }));
    const long = new Uint8Array(COMMAND_LIMITS.keySizeBytesMax + 1);
    expectError(() => encodeCommand(slotCommand("drop", { keys: [long] })), "TOO_LARGE");
    expectError(() => encodeCommand(slotCommand("import", { argvs: [[bytes("SET"), long, bytes("v")]] })), "TOO_LARGE");
  });

  it("refuses malformed slot entries with BAD_REQUEST, never another throw", () => {
    const base = { op: "slot", nowMs: NOW_MS, action: "handOff", slots: [1] };
    const malformed: [string, unknown][] = [
      ["unknown action", { ...base, action: "teleport" }],
      ["action not a string", { ...base, action: 3 }],
      ["no action", { op: "slot", nowMs: NOW_MS, slots: [1] }],
      ["no slots", { op: "slot", nowMs: NOW_MS, action: "handOff" }],
      ["slots not an array", { ...base, slots: 1 }],
      ["slots a map", { ...base, slots: { 0: 1 } }],
      ["a slot not a number", { ...base, slots: ["1"] }],
      ["a slot null", { ...base, slots: [null] }],
      ["a slot as bytes", { ...base, slots: [bytes("1")] }],
      ["shard not a number", { ...base, action: "freeze", shard: "2" }],
      ["argvs not an array", { ...base, action: "import", argvs: bytes("SET a b") }],
      ["an argv not an array", { ...base, action: "import", argvs: [bytes("SET")] }],
      ["an argument not bytes", { ...base, action: "import", argvs: [["SET", "a", "b"]] }],
      ["an argument null", { ...base, action: "import", argvs: [[bytes("SET"), null, bytes("b")]] }],
      ["keys not an array", { ...base, action: "drop", keys: bytes("a") }],
      ["a key not bytes", { ...base, action: "drop", keys: ["a"] }],
      ["a key a number", { ...base, action: "drop", keys: [1] }],
      ["nowMs missing", { op: "slot", action: "handOff", slots: [1] }],
      ["the command not a map", ["slot"]],
    ];
    for (const [why, command] of malformed) {
      const data = encodeUnchecked(command);
      expectError(() => decodeCommand(data), "BAD_REQUEST");
      const outcome = applied(data);
      assert.ok(outcome.result.kind === "error", why);
      assert.equal(outcome.result.code, "BAD_REQUEST", why);
      assert.deepEqual(outcome.mutations, [], why);
    }
  });

  it("answers any slot entry a buggy proposer could log with a result, never a throw", () => {
    const anyBytes = fc.uint8Array({ maxLength: 4 });
    const field = fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: -2, max: 70_000 }),
      fc.double(),
      fc.string({ maxLength: 4 }),
      anyBytes,
      fc.array(fc.oneof(fc.integer({ min: -2, max: 17_000 }), anyBytes, fc.constant(null)), { maxLength: 4 }),
      fc.array(fc.array(fc.oneof(anyBytes, fc.constantFrom(bytes("SET"), bytes("{s}k"))), { maxLength: 4 }), {
        maxLength: 3,
      }),
    );
    const action = fc.oneof(
      fc.constantFrom("freeze", "importStart", "import", "importDone", "handOff", "drop"),
      fc.string({ maxLength: 6 }),
      fc.integer(),
    );
    fc.assert(
      fc.property(action, field, field, field, field, (act, slots, shard, argvs, keys) => {
        const data = encodeUnchecked({ op: "slot", nowMs: NOW_MS, action: act, slots, shard, argvs, keys });
        const outcome = applied(data);
        if (outcome.result.kind === "error") {
          assert.ok(["BAD_REQUEST", "TOO_LARGE"].includes(outcome.result.code), outcome.result.message);
          assert.deepEqual(outcome.mutations, []);
        } else {
          assert.equal(outcome.result.kind, "noop");
        }
      }),
      { numRuns: 2000 },
    );
  });
});
