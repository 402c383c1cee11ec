import assert from "node:assert/strict";
import { test } from "node:test";
import { SseParser } from "./sse-parser.js";

test("parses events, joins data lines, keeps the last id, skips comments", () => {
  const parser = new SseParser();
  const messages = parser.push(': hello\n\nevent: put\ndata: {"a":1}\nid: 7\n\ndata: one\ndata: two\n\n');
  assert.deepEqual(messages, [
    { event: "put", data: '{"a":1}', id: "7" },
    { event: "message", data: "one\ntwo", id: "7" },
  ]);
});

test("an event split anywhere across chunks, with any line ending, parses the same", () => {
  const text = "event: put\r\ndata: x\r\n\r\nevent: delete\rdata: y\r\rdata:z\n\n";
  const expected = new SseParser().push(text);
  assert.equal(expected.length, 3);
  for (let cut = 0; cut <= text.length; cut++) {
    for (let cut2 = cut; cut2 <= text.length; cut2 += 3) {
      const parser = new SseParser();
      const got = [
        ...parser.push(text.slice(0, cut)),
        ...parser.push(text.slice(cut, cut2)),
        ...parser.push(text.slice(cut2)),
      ];
      assert.deepEqual(got, expected, `cuts at ${cut}, ${cut2}`);
    }
  }
});

test("a field without a colon, or without data, dispatches nothing", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push("event: x\n\nretry: 10\n\ndata\n\n"), [{ event: "message", data: "", id: "" }]);
});
