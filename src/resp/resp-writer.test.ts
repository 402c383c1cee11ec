import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatDouble } from "./format-double.js";
import { ReplyParser } from "./reply-parser.js";
import { RespProtocolError } from "./request-parser.js";
import type { RespValue, RespVersion } from "./resp-value.js";
import { encodeReply, RespWriter } from "./resp-writer.js";

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
const wire = (v: RespValue, version: RespVersion): string => encodeReply(v, version).toString("latin1");

/** What a value becomes after a trip through `version` (RESP2 has no RESP3-only types). */
function degrade(v: RespValue, version: RespVersion): RespValue {
  if (version === 3) {
    return v.type === "attribute"
      ? { ...v, attributes: v.attributes.map(([k, x]) => [degrade(k, 3), degrade(x, 3)]), value: degrade(v.value, 3) }
      : deep(v, 3);
  }
  switch (v.type) {
    case "map":
      return { type: "array", value: v.value.flatMap(([k, x]) => [degrade(k, 2), degrade(x, 2)]) };
    case "set":
    case "push":
      return { type: "array", value: v.value.map((x) => degrade(x, 2)) };
    case "double":
      return { type: "bulk", value: b(formatDouble(v.value)) };
    case "boolean":
      return { type: "integer", value: v.value ? 1n : 0n };
    case "verbatim":
      return { type: "bulk", value: v.value };
    case "bignum":
      return { type: "bulk", value: b(v.value.toString()) };
    case "attribute":
      return degrade(v.value, 2);
    default:
      return deep(v, 2);
  }
}

function deep(v: RespValue, version: RespVersion): RespValue {
  if (v.type === "array" || v.type === "set" || v.type === "push") {
    return { type: v.type, value: v.value.map((x) => degrade(x, version)) };
  }
  if (v.type === "map")
    return { type: "map", value: v.value.map(([k, x]) => [degrade(k, version), degrade(x, version)]) };
  return v;
}

function parseOne(bytes: Uint8Array): RespValue {
  const parser = new ReplyParser();
  parser.feed(bytes);
  const v = parser.next();
  assert.ok(
    v !== undefined && !(v instanceof RespProtocolError),
    `parse failed: ${String(v && (v as RespProtocolError).message)}`,
  );
  assert.equal(parser.next(), undefined);
  return v;
}

/** Compares with bytes normalised to plain Uint8Arrays (Buffer vs Uint8Array) and NaN-safe doubles. */
function normal(v: RespValue): unknown {
  return JSON.parse(
    JSON.stringify(v, (_k, x) => {
      if (typeof x === "bigint") return `${x}n`;
      if (x instanceof Uint8Array) return { bytes: [...x] };
      if (typeof x === "number" && !Number.isFinite(x)) return String(x);
      return x;
    }),
  );
}

const SAMPLES: Array<[string, RespValue, string, string]> = [
  ["simple", { type: "simple", value: "OK" }, "+OK\r\n", "+OK\r\n"],
  [
    "error",
    { type: "error", value: "WRONGTYPE Operation against a key holding the wrong kind of value" },
    "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
  ],
  ["integer", { type: "integer", value: -42n }, ":-42\r\n", ":-42\r\n"],
  ["bulk", { type: "bulk", value: b("a\r\nb") }, "$4\r\na\r\nb\r\n", "$4\r\na\r\nb\r\n"],
  ["empty bulk", { type: "bulk", value: b("") }, "$0\r\n\r\n", "$0\r\n\r\n"],
  ["null", { type: "null" }, "$-1\r\n", "_\r\n"],
  [
    "array",
    { type: "array", value: [{ type: "integer", value: 1n }, { type: "null" }] },
    "*2\r\n:1\r\n$-1\r\n",
    "*2\r\n:1\r\n_\r\n",
  ],
  ["empty array", { type: "array", value: [] }, "*0\r\n", "*0\r\n"],
  [
    "map",
    {
      type: "map",
      value: [
        [
          { type: "simple", value: "a" },
          { type: "integer", value: 1n },
        ],
      ],
    },
    "*2\r\n+a\r\n:1\r\n",
    "%1\r\n+a\r\n:1\r\n",
  ],
  ["set", { type: "set", value: [{ type: "bulk", value: b("x") }] }, "*1\r\n$1\r\nx\r\n", "~1\r\n$1\r\nx\r\n"],
  [
    "push",
    { type: "push", value: [{ type: "bulk", value: b("message") }] },
    "*1\r\n$7\r\nmessage\r\n",
    ">1\r\n$7\r\nmessage\r\n",
  ],
  ["double", { type: "double", value: 1.5 }, "$3\r\n1.5\r\n", ",1.5\r\n"],
  ["double inf", { type: "double", value: Number.NEGATIVE_INFINITY }, "$4\r\n-inf\r\n", ",-inf\r\n"],
  ["double nan", { type: "double", value: Number.NaN }, "$3\r\nnan\r\n", ",nan\r\n"],
  ["boolean", { type: "boolean", value: true }, ":1\r\n", "#t\r\n"],
  ["boolean false", { type: "boolean", value: false }, ":0\r\n", "#f\r\n"],
  [
    "verbatim",
    { type: "verbatim", format: "txt", value: b("Some string") },
    "$11\r\nSome string\r\n",
    "=15\r\ntxt:Some string\r\n",
  ],
  [
    "bignum",
    { type: "bignum", value: 3492890328409238509324850943850943825024385n },
    "$43\r\n3492890328409238509324850943850943825024385\r\n",
    "(3492890328409238509324850943850943825024385\r\n",
  ],
  [
    "attribute",
    {
      type: "attribute",
      attributes: [
        [
          { type: "simple", value: "ttl" },
          { type: "integer", value: 3n },
        ],
      ],
      value: { type: "integer", value: 7n },
    },
    ":7\r\n",
    "|1\r\n+ttl\r\n:3\r\n:7\r\n",
  ],
];

describe("RespWriter and ReplyParser", () => {
  for (const [name, value, resp2, resp3] of SAMPLES) {
    it(`encodes and parses back ${name} in RESP2 and RESP3`, () => {
      assert.equal(wire(value, 2), resp2);
      assert.equal(wire(value, 3), resp3);
      for (const version of [2, 3] as const) {
        assert.deepEqual(normal(parseOne(encodeReply(value, version))), normal(degrade(value, version)));
      }
    });
  }

  it("writes the RESP2 null array and nested headers, and accumulates many replies in one buffer", () => {
    const w = new RespWriter(2, 16);
    w.nullArray()
      .arrayHeader(2)
      .bulk("GET")
      .bulk(new Uint8Array([0, 255]))
      .integer(3.9)
      .simple("PONG");
    assert.equal(w.flush().toString("latin1"), "*-1\r\n*2\r\n$3\r\nGET\r\n$2\r\n\x00\xff\r\n:3\r\n+PONG\r\n");
    assert.equal(w.lengthBytes, 0);
    w.version = 3;
    assert.equal(w.nullArray().mapHeader(1).flush().toString(), "_\r\n%1\r\n");
    assert.equal(new RespWriter(2).mapHeader(3).flush().toString(), "*6\r\n");
  });

  it("keeps big bulks and encoded replies as parts of their own, uncopied, byte-identical around 64 KiB", () => {
    for (const size of [64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 3 << 20]) {
      const value = new Uint8Array(size).fill(size & 0xff);
      const encoded = Buffer.from(`$3\r\nabc\r\n${"x".repeat(size)}`);
      const expected = Buffer.concat([
        Buffer.from(`+OK\r\n$${size}\r\n`),
        value,
        Buffer.from("\r\n:1\r\n"),
        encoded,
        Buffer.from("$1\r\nz\r\n"),
      ]);
      const write = (w: RespWriter) => w.simple("OK").bulk(value).integer(1).encoded(encoded).bulk("z");
      const writer = write(new RespWriter(2));
      assert.equal(writer.lengthBytes, expected.length);
      const parts = writer.flushParts();
      assert.ok(Buffer.concat(parts).equals(expected), `parts for ${size} B`);
      const attached = size >= 64 * 1024;
      assert.equal(parts.includes(value), attached, "a big value is its own part");
      assert.equal(parts.includes(encoded), encoded.length >= 64 * 1024, "a big encoded reply is its own part");
      assert.ok(write(new RespWriter(2)).flush().equals(expected), `flush for ${size} B`);
      assert.equal(writer.lengthBytes, 0);
    }
  });

  it("keeps error text on one line", () => {
    assert.equal(new RespWriter().error("ERR bad\r\nthing").flush().toString(), "-ERR bad  thing\r\n");
  });

  it("formats doubles like Redis", () => {
    const cases: Array<[number, string]> = [
      [0, "0"],
      [1, "1"],
      [-2.5, "-2.5"],
      [0.1, "0.1"],
      [1 / 3, "0.3333333333333333"],
      [1e16, "10000000000000000"],
      [1e17, "1e+17"],
      [1.5e-5, "1.5e-05"],
      [0.0001, "0.0001"],
      [Number.POSITIVE_INFINITY, "inf"],
    ];
    for (const [value, expected] of cases) assert.equal(formatDouble(value), expected, String(value));
  });

  it("parses $-1 and *-1 as null in either version, and rejects malformed replies with error values", () => {
    assert.deepEqual(parseOne(b("*-1\r\n")), { type: "null" });
    assert.deepEqual(parseOne(b("!9\r\nERR x\r\nyz\r\n")), { type: "error", value: "ERR x\r\nyz" });
    for (const bad of ["?x\r\n", ":1.5\r\n", "$-2\r\n", "$1\r\nab\r\n", "#x\r\n", "+a\n", ",abc\r\n", "=2\r\nab\r\n"]) {
      const p = new ReplyParser();
      p.feed(b(bad));
      assert.ok(p.next() instanceof RespProtocolError, bad);
    }
    const deepNest = new ReplyParser({ depthMax: 3 });
    deepNest.feed(b("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"));
    assert.ok(deepNest.next() instanceof RespProtocolError);
  });
});

const leaf: fc.Arbitrary<RespValue> = fc.oneof(
  fc
    .string()
    .filter((s) => !/[\r\n]/.test(s))
    .map((value) => ({ type: "simple" as const, value })),
  fc
    .string()
    .filter((s) => !/[\r\n]/.test(s))
    .map((value) => ({ type: "error" as const, value: `ERR ${value}` })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ type: "integer" as const, value })),
  fc.uint8Array({ maxLength: 30 }).map((value) => ({ type: "bulk" as const, value })),
  fc.constant({ type: "null" as const }),
  fc.double().map((value) => ({ type: "double" as const, value })),
  fc.boolean().map((value) => ({ type: "boolean" as const, value })),
  fc.uint8Array({ maxLength: 20 }).map((value) => ({ type: "verbatim" as const, format: "txt", value })),
  fc.bigInt().map((value) => ({ type: "bignum" as const, value })),
);
const { tree } = fc.letrec<{ tree: RespValue }>((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("tree"), { maxLength: 4 }).map((value) => ({ type: "array" as const, value })),
    fc.array(tie("tree"), { maxLength: 4 }).map((value) => ({ type: "set" as const, value })),
    fc.array(tie("tree"), { maxLength: 4 }).map((value) => ({ type: "push" as const, value })),
    fc.array(fc.tuple(tie("tree"), tie("tree")), { maxLength: 3 }).map((value) => ({ type: "map" as const, value })),
  ),
}));

describe("RespWriter and ReplyParser: properties", () => {
  it("round-trips random reply trees in both versions through any chunking", () => {
    fc.assert(
      fc.property(
        fc.array(tree, { maxLength: 5 }),
        fc.constantFrom<RespVersion>(2, 3),
        fc.array(fc.nat(), { maxLength: 10 }),
        (values, version, cuts) => {
          const w = new RespWriter(version, 16);
          for (const v of values) w.value(v);
          const bytes = w.flush();
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
          const parser = new ReplyParser();
          const got: RespValue[] = [];
          let from = 0;
          for (const p of [...points, bytes.length]) {
            parser.feed(bytes.subarray(from, p));
            from = p;
            for (let r = parser.next(); r !== undefined; r = parser.next()) {
              assert.ok(!(r instanceof RespProtocolError), (r as RespProtocolError).message);
              got.push(r);
            }
          }
          assert.deepEqual(
            normal({ type: "array", value: got }),
            normal({ type: "array", value: values.map((v) => degrade(v, version)) }),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it("never throws on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const parser = new ReplyParser({ bulkLengthBytesMax: 100, aggregateLengthMax: 10 });
        parser.feed(bytes);
        for (let i = 0; i <= bytes.length; i++) {
          const r = parser.next();
          if (r === undefined || r instanceof RespProtocolError) return;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
