/**
 * @module Tests only: a Redis keyspace driven through the pure path (log entries on a MapStateMachine, and
 * read-only runs through executeCommands without a write set), with replies rendered the way redis-cli prints
 * them so expectations can be checked against a real redis-server line by line.
 */
import assert from "node:assert/strict";
import { keyId } from "../../../lib/bytes.js";
import { Prng } from "../../../lib/prng.js";
import { encodeHash } from "../../keyspace/hash-value.js";
import { MapStateMachine } from "../../testing/map-state-machine.js";
import { executeCommands } from "../execute.js";
import type { Reply } from "../reply.js";
import { ScanCursorTable } from "../scan-cursor-table.js";

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export const b = (text: string): Uint8Array => textEncoder.encode(text);

/** A command as words split on single spaces, or as explicit arguments (for empty ones or ones with spaces). */
export type Line = string | readonly (string | Uint8Array)[];

export function toArgv(line: Line): Uint8Array[] {
  const words = typeof line === "string" ? line.split(" ") : line;
  return words.map((word) => (typeof word === "string" ? b(word) : word));
}

/** redis-cli's rendering: OK, (nil), (integer) 5, "text", 1) … for arrays, and errors with their prefix. */
export function render(reply: Reply): string {
  switch (reply.kind) {
    case "simple":
      return reply.value;
    case "error":
      return `${reply.code === "WRONG_TYPE" ? "WRONGTYPE" : reply.code === "BAD_REQUEST" ? "ERR" : reply.code} ${reply.message}`;
    case "integer":
      return `(integer) ${reply.value}`;
    case "bulk":
      return JSON.stringify(textDecoder.decode(reply.value));
    case "null":
    case "nullArray":
      return "(nil)";
    case "array":
    case "set":
      return `[${reply.items.map(render).join(", ")}]`;
    case "map":
      return `{${reply.entries.map(([k, v]) => `${render(k)}: ${render(v)}`).join(", ")}}`;
    case "pairs": // as RESP2 (and redis-cli over it) shows them: one flat list
      return `[${reply.pairs.flatMap(([a, b]) => [render(a), render(b)]).join(", ")}]`;
    case "double":
      return `(double) ${reply.value}`;
    case "verbatim":
      return reply.value;
    case "encoded":
      return `(encoded ${reply.bytes.byteLength} bytes)`;
  }
}

export class TestRedis {
  readonly sm = new MapStateMachine();
  /** The time the next command runs at (the replicated clock never goes back, whatever this says). */
  nowMs = 1_000_000;
  readonly cursors = new ScanCursorTable();
  seed = 7;

  /** One command as its own log entry: the raw reply. */
  reply(line: Line): Reply {
    const result = this.sm.apply({ op: "redis", nowMs: this.nowMs, argvs: [toArgv(line)] });
    if (result.kind !== "redis") throw new Error(`unexpected result ${result.kind}`);
    return result.replies[0] as Reply;
  }

  /** One command through the log, rendered. */
  run(line: Line): string {
    return render(this.reply(line));
  }

  /** One command through the read-only path (no write set: a write asserts), rendered. */
  read(line: Line): string {
    const [reply] = executeCommands(this.sm, undefined, [toArgv(line)], {
      nowMs: this.nowMs,
      revision: this.sm.state.revision,
      random: new Prng(this.seed),
      cursors: this.cursors,
    });
    return render(reply as Reply);
  }

  /** Stores a hash directly (HSET may live in another family). */
  putHash(key: string, fields: Record<string, string>): void {
    const map = new Map(Object.entries(fields).map(([field, value]) => [keyId(b(field)), b(value)]));
    this.sm.records.set(keyId(b(key)), {
      type: "hash",
      value: encodeHash(map),
      createRevision: 1,
      modRevision: 1,
      version: 1,
      expiresAtMs: 0,
    });
  }
}

export const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";
export const NOT_INT = "ERR value is not an integer or out of range";

/** Runs each line and checks its redis-cli rendering against the expected text (from redis-server). */
export function session(redis: TestRedis, steps: readonly (readonly [Line, string])[]): void {
  for (const [line, expected] of steps) assert.equal(redis.run(line), expected, `${line}`);
}

/** A keyspace holding one hash `h` (f → v), for WRONGTYPE checks. */
export function withHash(): TestRedis {
  const redis = new TestRedis();
  redis.putHash("h", { f: "v" });
  return redis;
}
