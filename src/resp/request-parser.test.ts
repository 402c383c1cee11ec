import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RequestParser, type RequestParserOptions, RespProtocolError } from "./request-parser.js";

const enc = (s: string): Uint8Array => Buffer.from(s, "latin1");
const text = (args: Uint8Array[]): string[] => args.map((a) => Buffer.from(a).toString("latin1"));

/** Feeds `chunks` and drains after each; returns requests as strings and the error message, if any. */
function parseAll(chunks: Uint8Array[], options?: RequestParserOptions): { requests: string[][]; error?: string } {
  const parser = new RequestParser(options);
  const requests: string[][] = [];
  for (const chunk of chunks) {
    parser.feed(chunk);
    for (let r = parser.next(); r !== undefined; r = parser.next()) {
      if (r instanceof RespProtocolError) return { requests, error: r.message };
      requests.push(text(r));
    }
  }
  return { requests };
}

const parseText = (s: string, options?: RequestParserOptions) => parseAll([enc(s)], options);

describe("RequestParser: multibulk", () => {
  it("parses pipelined requests and skips empty ones like Redis", () => {
    const out = parseText("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*0\r\n*-1\r\n*3\r\n$3\r\nSET\r\n$0\r\n\r\n$3\r\na\nb\r\n");
    assert.deepEqual(out, {
      requests: [
        ["GET", "k"],
        ["SET", "", "a\nb"],
      ],
    });
  });

  it("is binary safe and returns views of the fed chunk when an argument lies inside it", () => {
    const body = new Uint8Array(1000).fill(7);
    body.set([0, 13, 10, 255]);
    const chunk = Buffer.concat([enc("*1\r\n$1000\r\n"), body, enc("\r\n")]);
    const parser = new RequestParser();
    parser.feed(chunk);
    const r = parser.next() as Uint8Array[];
    assert.deepEqual(new Uint8Array(r[0] as Uint8Array), body);
    assert.equal((r[0] as Uint8Array).buffer, chunk.buffer); // a view, not a copy
  });

  it("waits for the rest of a request split anywhere", () => {
    const parser = new RequestParser();
    parser.feed(enc("*1\r\n$4\r"));
    assert.equal(parser.next(), undefined);
    parser.feed(enc("\nPI"));
    assert.equal(parser.next(), undefined);
    parser.feed(enc("NG\r\n"));
    assert.deepEqual(text(parser.next() as Uint8Array[]), ["PING"]);
    assert.equal(parser.next(), undefined);
    assert.equal(parser.bufferedBytes, 0);
  });

  it("assembles big bulks (at and around 256 KiB, and 3 MiB) as chunks arrive, byte-exact, whatever the split", () => {
    for (const size of [256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 3 * 1024 * 1024]) {
      const body = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7) & 0xff));
      const stream = Buffer.concat([
        enc(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${size}\r\n`),
        body,
        enc("\r\n*1\r\n$4\r\nPING\r\n"),
      ]);
      for (const chunkBytes of [1, 4096, 65536, 1_000_003]) {
        if (chunkBytes === 1 && size > 300_000) continue; // byte by byte: the small sizes cover it
        const parser = new RequestParser();
        const requests: Uint8Array[][] = [];
        let bufferedMax = 0;
        for (let at = 0; at < stream.length; at += chunkBytes) {
          parser.feed(stream.subarray(at, at + chunkBytes));
          for (let r = parser.next(); r !== undefined; r = parser.next()) {
            assert.ok(!(r instanceof RespProtocolError), String(r));
            requests.push(r as Uint8Array[]);
          }
          bufferedMax = Math.max(bufferedMax, parser.bufferedBytes);
        }
        assert.equal(requests.length, 2, `${size} B in ${chunkBytes}-byte chunks`);
        assert.ok(Buffer.from(requests[0]?.[2] as Uint8Array).equals(body), `${size} B in ${chunkBytes}-byte chunks`);
        assert.deepEqual(text(requests[1] as Uint8Array[]), ["PING"]);
        assert.ok(bufferedMax <= size + chunkBytes + 64, "a bulk being assembled is not held twice");
        assert.equal(parser.bufferedBytes, 0);
      }
    }
  });

  const errors: Array<[string, string, RequestParserOptions?]> = [
    ["*abc\r\n", "Protocol error: invalid multibulk length"],
    ["*01\r\n", "Protocol error: invalid multibulk length"],
    ["*+1\r\n", "Protocol error: invalid multibulk length"],
    ["*1048577\r\n", "Protocol error: invalid multibulk length"],
    ["*3\r\n", "Protocol error: invalid multibulk length", { arrayLengthMax: 2 }],
    ["*1\r\nx\r\n", "Protocol error: expected '$', got 'x'"],
    ["*2\r\n$1\r\na\r\n:1\r\n", "Protocol error: expected '$', got ':'"],
    ["*1\r\n$-1\r\n", "Protocol error: invalid bulk length"],
    ["*1\r\n$abc\r\n", "Protocol error: invalid bulk length"],
    ["*1\r\n$536870913\r\n", "Protocol error: invalid bulk length"],
    ["*1\r\n$11\r\n", "Protocol error: invalid bulk length", { bulkLengthBytesMax: 10 }],
    ["*1\r\n$99999999999999999999999\r\n", "Protocol error: invalid bulk length"],
    [`*${"1".repeat(70_000)}`, "Protocol error: too big mbulk count string"],
    [`*1\r\n$${"1".repeat(70_000)}`, "Protocol error: too big bulk count string"],
    ["a".repeat(65 * 1024), "Protocol error: too big inline request"],
    ['set k "v\r\n', "Protocol error: unbalanced quotes in request"],
  ];
  for (const [input, message, options] of errors) {
    it(`rejects ${JSON.stringify(input.slice(0, 24))} with "${message}"`, () => {
      assert.equal(parseText(input, options).error, message);
    });
  }

  it("rejects an oversized bulk at its header, before its body arrives, and then drops input", () => {
    const parser = new RequestParser({ bulkLengthBytesMax: 1000 });
    parser.feed(enc("*1\r\n$1001\r\n"));
    const r = parser.next();
    assert.ok(r instanceof RespProtocolError);
    assert.equal(r.replyText, "ERR Protocol error: invalid bulk length");
    parser.feed(new Uint8Array(5000));
    assert.equal(parser.bufferedBytes, 0);
    assert.equal(parser.next(), r);
  });
});

describe("RequestParser: before AUTH", () => {
  it("applies Redis's pre-authentication limits only while unauthenticated", () => {
    const run = (input: string, unauthenticated: boolean): string | undefined => {
      const parser = new RequestParser();
      parser.unauthenticated = unauthenticated;
      parser.feed(enc(input));
      const r = parser.next();
      return r instanceof RespProtocolError ? r.message : undefined;
    };
    assert.equal(run("*11\r\n", true), "Protocol error: unauthenticated multibulk length");
    assert.equal(run("*11\r\n", false), undefined);
    assert.equal(run("*10\r\n", true), undefined);
    assert.equal(run("*1\r\n$16385\r\n", true), "Protocol error: unauthenticated bulk length");
    assert.equal(run("*1\r\n$16384\r\n", true), undefined);
    assert.equal(run("*1\r\n$16385\r\n", false), undefined);
  });

  it("returns the requests before an error first, then the error", () => {
    const out = parseText("PING\r\n*1\r\n$4\r\nECHO\r\n*1\r\n$x\r\nPING\r\n");
    assert.deepEqual(out, { requests: [["PING"], ["ECHO"]], error: "Protocol error: invalid bulk length" });
  });
});

describe("RequestParser: inline", () => {
  // Expected results are Redis's (sdssplitargs in sds.c; observed with redis-cli/telnet against redis-server 7).
  const cases: Array<[string, string[] | "unbalanced"]> = [
    ["PING\r\n", ["PING"]],
    ["PING\n", ["PING"]],
    ["set k v\r\n", ["set", "k", "v"]],
    ["  set \t k   v  \r\n", ["set", "k", "v"]],
    ['set "foo bar" baz\r\n', ["set", "foo bar", "baz"]],
    ['set k "\\x41\\x42\\n\\r\\t\\b\\a"\r\n', ["set", "k", "AB\n\r\t\b\x07"]],
    ['set k "\\xZZ"\r\n', ["set", "k", "xZZ"]],
    ['set k "\\e\\"\\\\"\r\n', ["set", "k", 'e"\\']],
    ["set k 'it\\'s'\r\n", ["set", "k", "it's"]],
    ["set k '\\n'\r\n", ["set", "k", "\\n"]],
    ["set k 'a \"b\" c'\r\n", ["set", "k", 'a "b" c']],
    ['set k ""\r\n', ["set", "k", ""]],
    ['set k foo"bar"\r\n', ["set", "k", "foobar"]],
    ["echo a\x00b c\r\n", ["echo", "a"]],
    ['set k "foo"bar\r\n', "unbalanced"],
    ["set k 'foo'bar\r\n", "unbalanced"],
    ['set k "foo\r\n', "unbalanced"],
    ["set k 'foo\r\n", "unbalanced"],
    ['set k "a\\"\r\n', "unbalanced"],
  ];
  for (const [line, expected] of cases) {
    it(`splits ${JSON.stringify(line)} like Redis`, () => {
      const out = parseText(line);
      if (expected === "unbalanced") assert.equal(out.error, "Protocol error: unbalanced quotes in request");
      else assert.deepEqual(out, { requests: [expected] });
    });
  }

  it("skips blank lines and mixes with multibulk in one pipeline", () => {
    const out = parseText("\r\n\n   \r\nPING\r\n*1\r\n$4\r\nPING\r\nECHO x\n");
    assert.deepEqual(out, { requests: [["PING"], ["PING"], ["ECHO", "x"]] });
  });

  it("accepts an inline request exactly at the limit and rejects one byte over while incomplete", () => {
    assert.deepEqual(parseText(`${"a".repeat(100)}\n`, { inlineLengthBytesMax: 100 }).requests, [["a".repeat(100)]]);
    assert.equal(parseText("a".repeat(100), { inlineLengthBytesMax: 100 }).error, undefined);
    assert.equal(
      parseText("a".repeat(101), { inlineLengthBytesMax: 100 }).error,
      "Protocol error: too big inline request",
    );
  });

  it("does linear work on an inline request fed one byte at a time", () => {
    const line = enc(`${"a".repeat(60_000)}\r\n`);
    const started = performance.now();
    const out = parseAll([...line].map((b) => new Uint8Array([b])));
    assert.equal(out.requests[0]?.[0]?.length, 60_000);
    assert.ok(performance.now() - started < 2000, "byte-at-a-time parsing should be linear");
  });
});

// ---- property tests ----

const arg = fc.uint8Array({ maxLength: 40 });
const inlineSafeArg = fc.stringMatching(/^[a-zA-Z0-9_:.-]{1,12}$/).map(enc);
const request = fc.oneof(
  fc.array(arg, { minLength: 1, maxLength: 6 }).map((args) => ({ args, inline: false })),
  fc.array(inlineSafeArg, { minLength: 1, maxLength: 6 }).map((args) => ({ args, inline: true })),
);

function encodeRequest(r: { args: Uint8Array[]; inline: boolean }): Uint8Array {
  if (r.inline) return Buffer.concat([...r.args.flatMap((a, i) => (i === 0 ? [a] : [enc(" "), a])), enc("\r\n")]);
  const parts: Uint8Array[] = [enc(`*${r.args.length}\r\n`)];
  for (const a of r.args) parts.push(enc(`$${a.length}\r\n`), a, enc("\r\n"));
  return Buffer.concat(parts);
}

function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  return chunks;
}

describe("RequestParser: properties", () => {
  it("parses any split of a valid stream exactly as the whole stream, recovering every request", () => {
    fc.assert(
      fc.property(fc.array(request, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (requests, cuts) => {
        const stream = Buffer.concat(requests.map(encodeRequest));
        const whole = parseAll([stream]);
        const split = parseAll(splitAt(stream, cuts));
        assert.deepEqual(split, whole);
        assert.deepEqual(whole, { requests: requests.map((r) => text(r.args)) });
      }),
      { numRuns: 500 },
    );
  });

  it("parses any stream identically when each call may read only a few arguments, and never reads more", () => {
    fc.assert(
      fc.property(
        fc.array(request, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.integer({ min: 1, max: 4 }),
        (requests, cuts, argsMax) => {
          const parser = new RequestParser();
          const parsed: string[][] = [];
          for (const chunk of splitAt(Buffer.concat(requests.map(encodeRequest)), cuts)) {
            parser.feed(chunk);
            for (;;) {
              const r = parser.next(argsMax);
              assert.ok(parser.argsParsed <= argsMax, `${parser.argsParsed} arguments read in one call`);
              if (r instanceof RespProtocolError) assert.fail(r.message);
              if (r !== undefined) parsed.push(text(r));
              else if (parser.argsParsed < argsMax) break; // needs more input, not more budget
            }
          }
          assert.deepEqual(
            parsed,
            requests.map((r) => text(r.args)),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  const limits = { bulkLengthBytesMax: 64, arrayLengthMax: 8, inlineLengthBytesMax: 32 };
  const protocolish = fc.array(
    fc.oneof(
      fc.constantFrom(..."*$\r\n\"' \\x0123456789-abc".split("").map((c) => c.charCodeAt(0))),
      fc.integer({ min: 0, max: 255 }),
    ),
    { maxLength: 400 },
  );

  it("never throws on random bytes, only returns error values, and keeps buffered bytes bounded", () => {
    fc.assert(
      fc.property(protocolish, fc.array(fc.nat(), { maxLength: 20 }), (bytes, cuts) => {
        const parser = new RequestParser(limits);
        let calls = 0;
        for (const chunk of splitAt(Uint8Array.from(bytes), cuts)) {
          parser.feed(chunk);
          for (let r = parser.next(); r !== undefined; r = parser.next()) {
            calls++;
            assert.ok(calls <= bytes.length + 1, "each result consumes input");
            if (r instanceof RespProtocolError) {
              assert.match(r.message, /^Protocol error: /);
              break;
            }
            for (const a of r) assert.ok(a.length <= Math.max(limits.bulkLengthBytesMax, bytes.length));
          }
          const bound = Math.max(limits.inlineLengthBytesMax, limits.bulkLengthBytesMax) + 2;
          assert.ok(parser.bufferedBytes <= bound, `buffered ${parser.bufferedBytes} > ${bound}`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("parses random bytes identically whole and in random chunks (errors included)", () => {
    fc.assert(
      fc.property(protocolish, fc.array(fc.nat(), { maxLength: 20 }), (bytes, cuts) => {
        const stream = Uint8Array.from(bytes);
        const whole = parseAll([stream], limits);
        const split = parseAll(splitAt(stream, cuts), limits);
        if (whole.error?.startsWith("Protocol error: too big") || split.error?.startsWith("Protocol error: too big")) {
          return; // like Redis, "too big" depends on how much unterminated input has arrived at once
        }
        assert.deepEqual(split, whole);
      }),
      { numRuns: 2000 },
    );
  });
});
