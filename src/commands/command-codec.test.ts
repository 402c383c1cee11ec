import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Packr } from "msgpackr";
import { ShoalError } from "../lib/errors.js";
import type { Command, RedisCommand } from "./command.js";
import {
  COMMAND_FORMAT_V1,
  decodeCommand,
  encodeCommand,
  encodeCommandInSlices,
  holdsBigField,
  SLICED_FIELD_BYTES_MIN,
} from "./command-codec.js";
import { argvEncodedBytesMax, COMMAND_ENCODING_BYTES_MAX, COMMAND_LIMITS, watchEncodedBytesMax } from "./limits.js";
import { encodeUnchecked, packedUnchecked } from "./testing/unchecked-entry.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const NOW_MS = 1_700_000_000_000;

function expectError(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ShoalError, `expected a ShoalError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

describe("command codec", () => {
  const commands: Command[] = [
    { op: "put", key: bytes("k"), value: bytes("v"), nowMs: NOW_MS },
    { op: "put", key: new Uint8Array([0, 255]), value: new Uint8Array(0), nowMs: 0, ttlMs: 5, ifAbsent: true },
    { op: "put", key: bytes(""), value: bytes("v"), nowMs: NOW_MS, expiresAtMs: NOW_MS + 1, ifModRevision: 0 },
    { op: "put", key: bytes("k"), value: bytes("v"), nowMs: NOW_MS, keepTtl: true, ifPresent: true },
    { op: "delete", key: bytes("k"), nowMs: NOW_MS },
    { op: "expire", keys: [bytes("a"), bytes("b")], nowMs: 2 ** 40 + 1 },
    { op: "evict", keys: [bytes("a"), bytes("b")], modRevisions: [3, 2 ** 40], nowMs: NOW_MS },
    {
      op: "txn",
      nowMs: NOW_MS,
      compares: [
        { key: bytes("a"), target: "value", op: "==", value: bytes("x") },
        { key: bytes("b"), target: "modRevision", op: "<", value: 7 },
      ],
      success: [
        { op: "put", key: bytes("a"), value: bytes("y"), ttlMs: 10 },
        { op: "get", key: bytes("b") },
      ],
      failure: [{ op: "delete", key: bytes("a") }],
    },
  ];

  it("round-trips every command shape into plain Uint8Arrays", () => {
    for (const command of commands) {
      const data = encodeCommand(command);
      assert.equal(data[0], COMMAND_FORMAT_V1);
      assert.deepStrictEqual(decodeCommand(data), command);
    }
  });

  it("rejects garbage, unknown formats and wrong field types with BAD_REQUEST", () => {
    expectError(() => decodeCommand(new Uint8Array(0)), "BAD_REQUEST", /empty/);
    expectError(() => decodeCommand(new Uint8Array([9, 1])), "BAD_REQUEST", /unknown format 9/);
    expectError(() => decodeCommand(new Uint8Array([COMMAND_FORMAT_V1, 0xc1])), "BAD_REQUEST", /Cannot decode/);
    const packr = new Packr({ useRecords: false });
    const raw = (value: unknown): Uint8Array => new Uint8Array([COMMAND_FORMAT_V1, ...packr.pack(value)]);
    expectError(() => decodeCommand(raw([1, 2])), "BAD_REQUEST", /not a map/);
    expectError(() => decodeCommand(raw({ op: "put", key: "k", value: bytes("v"), nowMs: 1 })), "BAD_REQUEST", /key/);
    expectError(() => decodeCommand(raw({ op: "nope", nowMs: 1 })), "BAD_REQUEST", /unknown op/);
    expectError(() => decodeCommand(raw({ op: "delete", key: bytes("k") })), "BAD_REQUEST", /nowMs is missing/);
    const badTxn = { op: "txn", nowMs: 1, compares: [{ key: bytes("k"), target: "x", op: "==", value: 1 }] };
    expectError(() => decodeCommand(raw({ ...badTxn, success: [], failure: [] })), "BAD_REQUEST", /target/);
    const evict = { op: "evict", nowMs: 1, keys: [bytes("k")] };
    expectError(() => decodeCommand(raw({ ...evict, modRevisions: ["1"] })), "BAD_REQUEST", /modRevisions\[0\]/);
    expectError(() => decodeCommand(raw({ ...evict, modRevisions: [] })), "BAD_REQUEST", /one modRevision per key/);
    expectError(() => decodeCommand(raw({ ...evict, modRevisions: [-1] })), "BAD_REQUEST", /modRevision/);
  });

  it("validates limits and option combinations when encoding", () => {
    const key = bytes("k");
    const value = bytes("v");
    const longKey = new Uint8Array(COMMAND_LIMITS.keySizeBytesMax + 1);
    expectError(() => encodeCommand({ op: "put", key: longKey, value, nowMs: 1 }), "TOO_LARGE", /key/);
    expectError(() => encodeCommand({ op: "put", key, value, nowMs: 1, ttlMs: 0 }), "BAD_REQUEST", /ttlMs/);
    expectError(() => encodeCommand({ op: "put", key, value, nowMs: -1 }), "BAD_REQUEST", /nowMs/);
    expectError(() => encodeCommand({ op: "put", key, value, nowMs: 1.5 }), "BAD_REQUEST", /nowMs/);
    const both = { op: "put", key, value, nowMs: 1, ttlMs: 1, keepTtl: true } as const;
    expectError(() => encodeCommand(both), "BAD_REQUEST", /exclude/);
    const nxXx = { op: "put", key, value, nowMs: 1, ifAbsent: true, ifPresent: true } as const;
    expectError(() => encodeCommand(nxXx), "BAD_REQUEST", /exclude/);
    const twice = [
      { op: "put", key, value },
      { op: "delete", key },
    ] as const;
    expectError(
      () => encodeCommand({ op: "txn", nowMs: 1, compares: [], success: twice, failure: [] }),
      "BAD_REQUEST",
      /twice/,
    );
    const many = Array.from({ length: COMMAND_LIMITS.txnOpsCountMax + 1 }, () => ({ op: "get", key }) as const);
    expectError(
      () => encodeCommand({ op: "txn", nowMs: 1, compares: [], success: many, failure: [] }),
      "TOO_LARGE",
      /ops/,
    );
  });

  it("fits a maximal value with a maximal key in one entry, whatever the command's options", () => {
    const { keySizeBytesMax, valueSizeBytesMax, entrySizeBytesMax } = COMMAND_LIMITS;
    const key = new Uint8Array(keySizeBytesMax).fill(0x6b);
    const value = new Uint8Array(valueSizeBytesMax);
    const big = Math.floor(Number.MAX_SAFE_INTEGER / 2); // the largest time and revision a command may carry
    const largest: Command[] = [
      { op: "put", key, value, nowMs: big, expiresAtMs: big, ifModRevision: big, ifAbsent: true },
      {
        op: "txn",
        nowMs: big,
        compares: [{ key, target: "modRevision", op: "<", value: big }],
        success: [{ op: "put", key, value, expiresAtMs: big }],
        failure: [{ op: "get", key }],
      },
      {
        op: "redis",
        nowMs: big,
        argvs: [[bytes("SET"), key, value, bytes("PXAT"), bytes(String(big)), bytes("GET")]],
        watches: [{ key, modRevision: big }],
      },
    ];
    for (const command of largest) {
      const data = encodeCommand(command);
      assert.ok(data.byteLength <= valueSizeBytesMax + 3 * keySizeBytesMax + COMMAND_ENCODING_BYTES_MAX, command.op);
      assert.ok(data.byteLength <= entrySizeBytesMax, command.op);
    }
  });

  it("refuses an encoding over the entry limit when proposing and when applying (TOO_LARGE)", () => {
    const half = new Uint8Array(COMMAND_LIMITS.valueSizeBytesMax / 2 + 1);
    const command: Command = {
      op: "redis",
      nowMs: 1,
      argvs: [[bytes("MSET"), bytes("a"), half, bytes("b"), half, bytes("c"), half]],
    };
    expectError(() => encodeCommand(command), "TOO_LARGE", /shoal-entry-max-bytes/);
    expectError(() => decodeCommand(encodeUnchecked(command)), "TOO_LARGE", /shoal-entry-max-bytes/);
  });

  it("bounds a redis command's encoding by its arguments and watches (the estimate runs and MULTI rely on)", () => {
    // Around msgpack's header boundaries: bin8/16/32 at 255/256 and 65535/65536 bytes, fixarray/array16/array32
    // at 15/16 and 65535/65536 elements.
    const sizes = [0, 1, 31, 32, 255, 256, 65_535, 65_536, 70_000];
    for (const size of sizes) {
      for (const count of [1, 15, 16]) {
        const argv = [bytes("SET"), ...Array.from({ length: count }, () => new Uint8Array(size))];
        const watches = [{ key: new Uint8Array(Math.min(size, 1024)), modRevision: 2 ** 52 }];
        const command: RedisCommand = { op: "redis", nowMs: 2 ** 52, argvs: [argv, argv], watches };
        const bound =
          COMMAND_ENCODING_BYTES_MAX +
          2 * argvEncodedBytesMax(argv) +
          watchEncodedBytesMax(watches[0]?.key ?? bytes(""));
        // Format 1 (msgpack: entries logged before) and format 2 (what is written now) alike.
        for (const data of [encodeUnchecked(command), packedUnchecked(command)]) {
          assert.ok(data.byteLength <= bound, `${count} arguments of ${size} bytes: ${data.byteLength} > ${bound}`);
        }
      }
    }
    const wide = Array.from({ length: 65_536 }, () => new Uint8Array(0));
    for (const data of [
      encodeUnchecked({ op: "redis", nowMs: 1, argvs: [wide] }),
      packedUnchecked({ op: "redis", nowMs: 1, argvs: [wide] }),
    ]) {
      assert.ok(data.byteLength <= COMMAND_ENCODING_BYTES_MAX + argvEncodedBytesMax(wide));
    }
  });
});

describe("encodeCommandInSlices", () => {
  const big = (size: number, seed: number) => new Uint8Array(size).map((_, i) => (i * 31 + seed) & 0xff);
  const enc = (text: string) => new TextEncoder().encode(text);
  let turns = 0;
  const nextTurn = async () => {
    turns++;
  };

  it("produces exactly encodeCommand's bytes, copying big fields a slice per turn", async () => {
    const at = SLICED_FIELD_BYTES_MIN;
    const commands: Command[] = [
      { op: "put", key: enc("k"), value: big(at - 1, 1), nowMs: 5 },
      { op: "put", key: enc("k"), value: big(at, 2), nowMs: 5, ttlMs: 100 },
      { op: "put", key: enc("k"), value: big(3 * at + 7, 3), nowMs: 2 ** 40 },
      {
        op: "redis",
        nowMs: 9,
        argvs: [
          [enc("MSET"), enc("a"), big(at + 1, 4), enc("b"), enc("small"), enc("c"), big(at, 5)],
          [enc("GET"), enc("a")],
        ],
      },
      { op: "txn", nowMs: 1, compares: [], success: [{ op: "put", key: enc("x"), value: big(at, 6) }], failure: [] },
    ];
    for (const command of commands) {
      turns = 0;
      const sliced = await encodeCommandInSlices(command, nextTurn);
      assert.deepEqual(Buffer.from(sliced), Buffer.from(encodeCommand(command)));
      assert.deepEqual(decodeCommand(sliced), decodeCommand(encodeCommand(command)));
      if (holdsBigField(command)) assert.ok(turns >= 1, "the big fields were copied across turns");
      else assert.equal(turns, 0);
    }
  });

  it("falls back to a plain encoding when a client's bytes look like a placeholder", async () => {
    // The first placeholder of a command: the magic, then counter 0.
    const lookalike = Uint8Array.from([...enc("SHOAL-BIG-v1"), 0, 0, 0, 0]);
    const command: Command = { op: "put", key: lookalike, value: big(SLICED_FIELD_BYTES_MIN, 7), nowMs: 1 };
    assert.deepEqual(Buffer.from(await encodeCommandInSlices(command, nextTurn)), Buffer.from(encodeCommand(command)));
  });

  it("refuses what encodeCommand refuses", async () => {
    const tooBig: Command = {
      op: "put",
      key: enc("k"),
      value: new Uint8Array(COMMAND_LIMITS.valueSizeBytesMax + 1),
      nowMs: 1,
    };
    await assert.rejects(encodeCommandInSlices(tooBig, nextTurn), ShoalError);
    const bad = { op: "put", key: enc(""), value: big(SLICED_FIELD_BYTES_MIN, 1), nowMs: -1 } as Command;
    await assert.rejects(encodeCommandInSlices(bad, nextTurn), ShoalError);
  });
});
