import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { array, bulk, errorReply, integer, NULL, NULL_ARRAY, type Reply, simple } from "../../commands/redis/reply.js";
import { ScanCursorTable } from "../../commands/redis/scan-cursor-table.js";
import { ShoalError } from "../../lib/errors.js";
import { RespWriter } from "../resp-writer.js";
import { errorFromException, errorText, writeReply } from "./error-reply.js";

function encode(reply: Reply, version: 2 | 3): string {
  const writer = new RespWriter(version);
  writeReply(writer, reply);
  return writer.flush().toString("latin1");
}

describe("error-reply", () => {
  it("maps each code to Redis's prefix", () => {
    assert.equal(errorText("BAD_REQUEST", "syntax error"), "ERR syntax error");
    assert.equal(errorText("WRONG_TYPE", "Operation"), "WRONGTYPE Operation");
    assert.equal(errorText("UNAUTHENTICATED", "Authentication required."), "NOAUTH Authentication required.");
    assert.equal(errorText("WRONG_PASSWORD", "x"), "WRONGPASS x");
    assert.equal(errorText("EXEC_ABORTED", "x"), "EXECABORT x");
    assert.equal(errorText("UNSUPPORTED_PROTOCOL", "x"), "NOPROTO x");
    for (const code of ["NOT_LEADER", "UNAVAILABLE", "PROPOSAL_DROPPED"] as const)
      assert.equal(errorText(code, "x"), "TRYAGAIN x");
    for (const code of ["TOO_LARGE", "INTERNAL", "TIMEOUT"] as const) assert.equal(errorText(code, "x"), "ERR x");
  });

  it("keeps a ShoalError's code and reports anything else as INTERNAL", () => {
    assert.deepEqual(errorFromException(new ShoalError("WRONG_TYPE", "w")), errorReply("WRONG_TYPE", "w"));
    assert.deepEqual(errorFromException(new Error("boom")), errorReply("INTERNAL", "internal error: boom"));
  });

  it("encodes every reply kind in RESP2 and RESP3", () => {
    const cases: [Reply, string, string][] = [
      [simple("OK"), "+OK\r\n", "+OK\r\n"],
      [errorReply("WRONG_TYPE", "bad"), "-WRONGTYPE bad\r\n", "-WRONGTYPE bad\r\n"],
      [integer(2n ** 63n - 1n), ":9223372036854775807\r\n", ":9223372036854775807\r\n"],
      [bulk("ab"), "$2\r\nab\r\n", "$2\r\nab\r\n"],
      [NULL, "$-1\r\n", "_\r\n"],
      [NULL_ARRAY, "*-1\r\n", "_\r\n"],
      [array([integer(1), NULL]), "*2\r\n:1\r\n$-1\r\n", "*2\r\n:1\r\n_\r\n"],
      [
        { kind: "map", entries: [[bulk("f"), bulk("v")]] },
        "*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
        "%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
      ],
      [{ kind: "set", items: [bulk("m")] }, "*1\r\n$1\r\nm\r\n", "~1\r\n$1\r\nm\r\n"],
      [{ kind: "double", value: 1.5 }, "$3\r\n1.5\r\n", ",1.5\r\n"],
      [{ kind: "verbatim", value: "a:b" }, "$3\r\na:b\r\n", "=7\r\ntxt:a:b\r\n"],
    ];
    for (const [reply, resp2, resp3] of cases) {
      assert.equal(encode(reply, 2), resp2, reply.kind);
      assert.equal(encode(reply, 3), resp3, reply.kind);
    }
  });
});

describe("ScanCursorTable", () => {
  it("issues distinct non-zero cursors, resumes them, and forgets the oldest past its capacity", () => {
    const table = new ScanCursorTable({ capacity: 2 });
    assert.equal(table.resume(0n), undefined);
    const key = new Uint8Array([1, 2]);
    const a = table.issue(key);
    key[0] = 9; // the table keeps its own copy
    const b = table.issue(new Uint8Array([3]));
    assert.notEqual(a, 0n);
    assert.notEqual(a, b);
    assert.deepEqual(table.resume(a), new Uint8Array([1, 2]));
    table.issue(new Uint8Array([4]));
    assert.equal(table.size, 2);
    assert.throws(
      () => table.resume(a),
      (error: unknown) => error instanceof ShoalError && error.message === "invalid cursor",
    );
    assert.deepEqual(table.resume(b), new Uint8Array([3]));
    assert.throws(() => table.resume(12345n), /invalid cursor/);
  });
});
