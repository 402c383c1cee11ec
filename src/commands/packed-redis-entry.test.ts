import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ShoalError } from "../lib/errors.js";
import { runSteps, type Steps } from "../lib/steps.js";
import type { Command, RedisCommand } from "./command.js";
import { COMMAND_FORMAT_V1, decodeCommand, decodeCommandSteps, encodeCommand } from "./command-codec.js";
import { COMMAND_LIMITS } from "./limits.js";
import { COMMAND_FORMAT_PACKED_ARGVS, PACKED_ARGUMENTS_MIN } from "./packed-redis-entry.js";
import { checkCommandLimits, checkCommandLimitsSteps } from "./redis/command-limits.js";
import { DATA_COMMAND_TABLE } from "./redis/table.js";
import { encodeUnchecked, packedUnchecked } from "./testing/unchecked-entry.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function mset(pairs: number, valueBytes = 3): RedisCommand {
  const argv = [bytes("MSET")];
  for (let i = 0; i < pairs; i++) argv.push(bytes(`key:${i}`), new Uint8Array(valueBytes).fill(i & 0xff));
  return { op: "redis", nowMs: 1_700_000_000_000, argvs: [argv] };
}

/** A format-2 entry written without validation, as a buggy proposer could log it. */
function pauses<T>(steps: Steps<T>): { value: T; pauses: number } {
  let count = 0;
  for (;;) {
    const next = steps.next();
    if (next.done === true) return { value: next.value, pauses: count };
    count++;
  }
}

describe("entry format 2 (a Redis command with many arguments)", () => {
  it("writes a command with many arguments in format 2 and reads it back as plain bytes, pausing as it reads", () => {
    const command = mset(50_000);
    const data = encodeCommand(command);
    assert.equal(data[0], COMMAND_FORMAT_PACKED_ARGVS);
    const { value, pauses: count } = pauses(decodeCommandSteps(data));
    assert.deepStrictEqual(value, command);
    assert.ok(count >= 10, `decoding 100,001 arguments paused ${count} times`);
    const first = (value as RedisCommand).argvs[0]?.[1];
    assert.ok(first !== undefined && !Buffer.isBuffer(first), "arguments are plain Uint8Arrays");
  });

  it("writes every Redis entry in format 2, and reads format 1 (entries logged before) alike", () => {
    const small = mset(1);
    assert.equal(encodeCommand(small)[0], COMMAND_FORMAT_PACKED_ARGVS);
    assert.deepStrictEqual(decodeCommand(encodeUnchecked(small)), decodeCommand(encodeCommand(small)));
    assert.equal(encodeUnchecked(small)[0], COMMAND_FORMAT_V1);
    const watched: Command = { ...mset(PACKED_ARGUMENTS_MIN), watches: [{ key: bytes("w"), modRevision: 7 }] };
    assert.deepStrictEqual(decodeCommand(encodeUnchecked(watched)), decodeCommand(encodeCommand(watched)));
  });

  it("copies an entry that is a slice of a bigger buffer, so its arguments do not pin that buffer", () => {
    const data = encodeCommand(mset(PACKED_ARGUMENTS_MIN));
    const segment = new Uint8Array(data.byteLength * 4);
    segment.set(data, 100);
    const decoded = decodeCommand(segment.subarray(100, 100 + data.byteLength)) as RedisCommand;
    assert.notEqual(decoded.argvs[0]?.[1]?.buffer, segment.buffer);
    assert.deepStrictEqual(decoded, decodeCommand(data));
  });

  it("refuses in apply what validation refuses when proposing: an over-long key among many (TOO_LARGE)", () => {
    const command = mset(PACKED_ARGUMENTS_MIN);
    (command.argvs[0] as Uint8Array[])[2 * 3000 + 1] = new Uint8Array(COMMAND_LIMITS.keySizeBytesMax + 1);
    assert.throws(
      () => encodeCommand(command),
      (e: unknown) => e instanceof ShoalError && e.code === "TOO_LARGE",
    );
    assert.throws(
      () => decodeCommand(packedUnchecked(command)),
      (e: unknown) => e instanceof ShoalError && e.code === "TOO_LARGE" && /shoal-key-max-bytes/.test(e.message),
    );
  });

  it("refuses every truncation and corrupted table with a ShoalError, never anything else", () => {
    const data = encodeCommand(mset(PACKED_ARGUMENTS_MIN / 2));
    for (const end of [1, 2, 5, 20, 40, 60, 100, 1000, data.byteLength - 1]) {
      assert.throws(() => decodeCommand(data.subarray(0, end).slice()), ShoalError, `truncated at ${end}`);
    }
    const longer = new Uint8Array(data.byteLength + 1);
    longer.set(data);
    assert.throws(() => decodeCommand(longer), /bytes follow the last argument/);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 200 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (flips) => {
          const corrupt = data.slice();
          for (const [at, value] of flips) corrupt[at] = value;
          try {
            decodeCommand(corrupt); // a flip may leave a valid command (another key): fine, if it validates
          } catch (error) {
            assert.ok(error instanceof ShoalError, `not a ShoalError: ${String(error)}`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("checkCommandLimitsSteps", () => {
  it("throws the same first error as checkCommandLimits, or none as it does", () => {
    const MSET = DATA_COMMAND_TABLE.find("mset");
    assert.ok(MSET !== undefined);
    const sizes = [0, 1, COMMAND_LIMITS.keySizeBytesMax, COMMAND_LIMITS.keySizeBytesMax + 1];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...sizes), { minLength: 2, maxLength: 40 }), (lengths) => {
        const argv = [bytes("MSET"), ...lengths.map((n) => new Uint8Array(n))];
        const outcome = (run: () => void): string => {
          try {
            run();
            return "ok";
          } catch (error) {
            return (error as Error).message;
          }
        };
        assert.equal(
          outcome(() => runSteps(checkCommandLimitsSteps(MSET, argv))),
          outcome(() => checkCommandLimits(MSET, argv)),
        );
      }),
    );
  });
});
