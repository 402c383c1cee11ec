import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ShoalError } from "../lib/errors.js";
import type { Message } from "../raft/types.js";
import { ATTACHMENT_BYTES_MIN, decodeEnvelope, encodeEnvelope, encodeEnvelopeParts, payloadParts } from "./envelope.js";
import { appendEntries, heartbeat, snapshotChunk } from "./loopback-kit.js";

const SAMPLES: Message[] = [
  appendEntries(1, 2, 5, new Uint8Array([1, 2, 3])),
  { ...appendEntries(1, 2, 9, new Uint8Array(0)), entries: [] },
  {
    type: "appendEntriesResponse",
    groupId: 3,
    from: 2,
    to: 1,
    term: 4,
    reject: true,
    index: 8,
    hintIndex: 6,
    hintTerm: 2,
  },
  {
    type: "requestVote",
    groupId: 0,
    from: 1,
    to: 3,
    term: 9,
    preVote: true,
    lastLogIndex: 2 ** 40,
    lastLogTerm: 8,
    leadershipTransfer: false,
  },
  { type: "requestVoteResponse", groupId: 0, from: 3, to: 1, term: 9, preVote: true, granted: false },
  heartbeat(1, 2, 77),
  { type: "heartbeatResponse", groupId: 1, from: 2, to: 1, term: 3, readContext: "ctx-1" },
  snapshotChunk(1, 2, 4096, new Uint8Array([9, 8, 7])),
  { type: "installSnapshotResponse", groupId: 7, from: 2, to: 1, term: 3, snapshotIndex: 100, offset: 7, done: true },
  { type: "timeoutNow", groupId: 2, from: 1, to: 2, term: 5 },
  { type: "readIndex", groupId: 2, from: 2, to: 1, term: 5, readContext: "r" },
  { type: "readIndexResponse", groupId: 2, from: 1, to: 2, term: 5, readContext: "r", index: 12 },
];

function isBadRequest(error: unknown): boolean {
  return error instanceof ShoalError && error.code === "BAD_REQUEST";
}

describe("envelope", () => {
  it("round-trips every message type, with byte fields as Uint8Array", () => {
    for (const message of SAMPLES) {
      const decoded = decodeEnvelope(encodeEnvelope({ k: "raft", m: message }));
      assert.equal(decoded.k, "raft");
      if (decoded.k !== "raft") continue;
      // Buffers compare equal to Uint8Arrays only by content, so normalise before deepEqual.
      assert.deepEqual(
        JSON.parse(JSON.stringify(decoded.m, bytesAsArrays)),
        JSON.parse(JSON.stringify(message, bytesAsArrays)),
      );
    }
    const chunk = decodeEnvelope(encodeEnvelope({ k: "raft", m: SAMPLES[7]! }));
    assert.ok(chunk.k === "raft" && chunk.m.type === "installSnapshot" && chunk.m.chunk instanceof Uint8Array);
    const entry = decodeEnvelope(encodeEnvelope({ k: "raft", m: SAMPLES[0]! }));
    assert.ok(entry.k === "raft" && entry.m.type === "appendEntries");
    assert.ok(entry.m.entries[0]!.data instanceof Uint8Array);
    assert.deepEqual([...entry.m.entries[0]!.data], [1, 2, 3]);
  });

  it("round-trips requests and responses", () => {
    const request = decodeEnvelope(encodeEnvelope({ k: "req", id: 4, p: { op: "set", value: Buffer.from("v") } }));
    assert.equal(request.k, "req");
    const failure = decodeEnvelope(encodeEnvelope({ k: "res", id: 4, ok: false, code: "NOT_LEADER", msg: "go" }));
    assert.deepEqual(failure, { k: "res", id: 4, ok: false, code: "NOT_LEADER", msg: "go" });
  });

  it("rejects messages with missing or mistyped fields", () => {
    const bad: unknown[] = [
      { k: "raft", m: { ...heartbeat(1, 2, 3), commit: "3" } },
      { k: "raft", m: { ...heartbeat(1, 2, 3), from: -1 } },
      { k: "raft", m: { ...heartbeat(1, 2, 3), type: "vote" } },
      { k: "raft", m: { ...snapshotChunk(1, 2, 0, new Uint8Array(1)), chunk: [1] } },
      { k: "raft", m: { ...appendEntries(1, 2, 3, new Uint8Array(1)), entries: [{ term: 1, index: 1 }] } },
      { k: "hello", v: 1, from: "1", to: 2 },
      { k: "res", id: 1, ok: false, code: "NOPE", msg: "" },
      { k: "other" },
      [1, 2, 3],
      "text",
    ];
    for (const value of bad) {
      assert.throws(() => decodeEnvelope(encodeEnvelope(value as never)), isBadRequest, JSON.stringify(value));
    }
  });

  it("carries big byte fields beside the msgpack head, uncopied, at and around the threshold", () => {
    for (const size of [ATTACHMENT_BYTES_MIN - 1, ATTACHMENT_BYTES_MIN, ATTACHMENT_BYTES_MIN + 1, 3 << 20]) {
      const big = Buffer.alloc(size, size & 0xff);
      const message: Message = {
        ...appendEntries(1, 2, 5, big),
        entries: [
          { term: 1, index: 6, type: "normal", data: new Uint8Array([1]) },
          { term: 1, index: 7, type: "normal", data: big },
          { term: 1, index: 8, type: "normal", data: big.subarray(1) },
        ],
      };
      const parts = payloadParts(encodeEnvelopeParts({ k: "raft", m: message }));
      const attached = [size, size - 1].filter((bytes) => bytes >= ATTACHMENT_BYTES_MIN).length;
      // Attached: prefix, head, then the entries' own bytes (the same objects, not copies).
      assert.equal(parts.length, attached > 0 ? 2 + attached : 1, `parts for ${size} B`);
      if (attached) assert.ok(parts[2] === big, "an attachment is the caller's buffer");
      const decoded = decodeEnvelope(encodeEnvelope({ k: "raft", m: message }));
      assert.ok(decoded.k === "raft" && decoded.m.type === "appendEntries");
      assert.deepEqual(
        decoded.m.entries.map((e) =>
          Buffer.from(e.data).equals(Buffer.from((message as typeof decoded.m).entries[e.index - 6]!.data)),
        ),
        [true, true, true],
      );
    }
    const request = decodeEnvelope(
      encodeEnvelope({
        k: "req",
        id: 9,
        p: { kind: "propose", data: Buffer.alloc(1 << 20, 3), small: Buffer.from("x") },
      }),
    );
    assert.ok(request.k === "req");
    const p = request.p as { kind: string; data: Buffer; small: Buffer };
    assert.equal(p.kind, "propose");
    assert.ok(p.data.equals(Buffer.alloc(1 << 20, 3)) && p.small.equals(Buffer.from("x")));
  });

  it("refuses a damaged attachment frame with BAD_REQUEST", () => {
    const whole = encodeEnvelope({ k: "req", id: 1, p: { data: Buffer.alloc(ATTACHMENT_BYTES_MIN, 1) } });
    const damaged = [
      whole.subarray(0, 3), // shorter than its header
      Buffer.concat([Buffer.from([0xc1, 0xff, 0xff, 0xff, 0xff]), whole.subarray(5)]), // head beyond the frame
      whole.subarray(0, whole.length - 1), // an attachment cut short
    ];
    for (const bytes of damaged) assert.throws(() => decodeEnvelope(bytes), isBadRequest);
  });

  it("never throws anything but BAD_REQUEST on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
        try {
          decodeEnvelope(Buffer.from(bytes));
        } catch (error) {
          assert.ok(isBadRequest(error), String(error));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

function bytesAsArrays(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: [...value] };
  if (typeof value === "object" && value !== null && (value as { type?: unknown }).type === "Buffer") {
    return { bytes: (value as { data: number[] }).data };
  }
  return value;
}
