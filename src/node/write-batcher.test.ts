import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CommandResult } from "../commands/command.js";
import { bulk } from "../commands/redis/reply.js";
import { ShoalError } from "../lib/errors.js";
import { RedisWriteBatcher } from "./write-batcher.js";
import { newWriteOrder } from "./write-order.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const set = (key: string): Uint8Array[] => [bytes("SET"), bytes(key), bytes("v")];
const name = (argv: readonly Uint8Array[]): string => new TextDecoder().decode(argv[1]);

/** A log that answers each command with a bulk of its key, and records the entries it was given. */
function fakeLog(answer?: (argvs: readonly (readonly Uint8Array[])[]) => CommandResult | Error | undefined) {
  const entries: string[][] = [];
  const resendChecks: ((() => boolean) | undefined)[] = [];
  let flush: (() => void) | undefined;
  const batcher = new RedisWriteBatcher(
    async (argvs, mayResend) => {
      entries.push(argvs.map(name));
      resendChecks.push(mayResend);
      const given = answer?.(argvs);
      if (given instanceof Error) throw given;
      return given ?? { kind: "redis", revision: 1, aborted: false, replies: argvs.map((argv) => bulk(name(argv))) };
    },
    (next) => {
      flush = next;
    },
  );
  return { batcher, entries, resendChecks, turn: () => flush?.() };
}

describe("RedisWriteBatcher", () => {
  it("sends the runs of one turn as one entry and hands each run its own replies", async () => {
    const log = fakeLog();
    const a = log.batcher.run([set("a1"), set("a2")]);
    const b = log.batcher.run([set("b1")]);
    log.turn();
    assert.deepEqual((await a).replies, [bulk("a1"), bulk("a2")]);
    assert.deepEqual((await b).replies, [bulk("b1")]);
    assert.deepEqual(log.entries, [["a1", "a2", "b1"]]);
  });

  it("sends a big run alone, at once", async () => {
    const log = fakeLog();
    const big = Array.from({ length: 100 }, (_, i) => set(`k${i}`)); // 300 arguments
    const outcome = await log.batcher.run(big);
    assert.equal(outcome.replies.length, 100);
    assert.equal(log.entries.length, 1);
  });

  it("submits each run alone when the shared entry is refused, so one run's refusal is not another's", async () => {
    const log = fakeLog((argvs) =>
      argvs.some((argv) => name(argv) === "bad")
        ? argvs.length > 1
          ? { kind: "error", revision: 1, code: "SLOT_MIGRATING", message: "slot bad is moving" }
          : new ShoalError("TOO_LARGE", "bad is too large")
        : undefined,
    );
    const good = log.batcher.run([set("good")]);
    const bad = log.batcher.run([set("bad")]);
    log.turn();
    assert.deepEqual((await good).replies, [bulk("good")]);
    await assert.rejects(bad, /bad is too large/);
    assert.deepEqual(log.entries, [["good", "bad"], ["good"], ["bad"]]);
  });

  it("falls back alike when encoding the shared entry refuses it before proposing", async () => {
    const log = fakeLog((argvs) => (argvs.length > 1 ? new ShoalError("TOO_LARGE", "entry too large") : undefined));
    const a = log.batcher.run([set("a")]);
    const b = log.batcher.run([set("b")]);
    log.turn();
    assert.deepEqual([(await a).replies, (await b).replies], [[bulk("a")], [bulk("b")]]);
  });

  it("gives every run the shared entry's unknown outcome (never a retry that could apply twice)", async () => {
    const log = fakeLog(() => new ShoalError("UNKNOWN_OUTCOME", "leader lost"));
    const a = log.batcher.run([set("a")]);
    const b = log.batcher.run([set("b")]);
    log.turn();
    await assert.rejects(a, /leader lost/);
    await assert.rejects(b, /leader lost/);
    assert.equal(log.entries.length, 1);
  });

  it("starts a new entry when the next run would pass the batch's bounds", async () => {
    const log = fakeLog();
    const runs = Array.from({ length: 30 }, (_, i) =>
      log.batcher.run(Array.from({ length: 80 }, (_, j) => [bytes("SET"), bytes(`k${i}-${j}`)])),
    );
    log.turn();
    const outcomes = await Promise.all(runs);
    assert.ok(outcomes.every((outcome) => outcome.replies.length === 80));
    assert.ok(log.entries.length >= 2, `${log.entries.length} entries`);
    assert.ok(log.entries.every((entry) => entry.length <= 2000));
  });

  it("places a small run in order, and submits what was queued before a big run, which it does not place", async () => {
    const log = fakeLog();
    const smallOrder = newWriteOrder();
    const bigOrder = newWriteOrder();
    const small = log.batcher.run([set("small")], smallOrder);
    assert.equal(smallOrder.placed, true);
    const big = log.batcher.run(
      Array.from({ length: 100 }, (_, i) => set(`k${i}`)),
      bigOrder,
    );
    assert.equal(bigOrder.placed, false, "a big run's encoding may span turns: a later small entry could overtake it");
    await Promise.all([small, big]);
    assert.deepEqual(
      log.entries.map((entry) => entry[0]),
      ["small", "k0"],
    );
  });

  it("never sends a run again once a later run of its client was sent (write-order.ts)", async () => {
    const log = fakeLog((argvs) =>
      argvs.length > 1
        ? { kind: "error", revision: 1, code: "SLOT_MIGRATING", message: "slot 7 is moving" }
        : undefined,
    );
    const overtaken = newWriteOrder();
    const a = log.batcher.run([set("a")], overtaken);
    const b = log.batcher.run([set("b")], newWriteOrder());
    overtaken.laterSent = true;
    log.turn();
    await assert.rejects(a, /Not applied: .*slot 7 is moving/);
    assert.deepEqual((await b).replies, [bulk("b")]);
    assert.deepEqual(log.entries, [["a", "b"], ["b"]]);
    // The shared entry itself could not be retried either (the forwarding layer asks this before a retry).
    assert.equal(log.resendChecks[0]?.(), false);
    assert.equal(log.resendChecks[1]?.(), true);
  });
});
