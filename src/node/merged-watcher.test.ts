import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Command } from "../commands/command.js";
import { ShoalError } from "../lib/errors.js";
import { memoryCommandStore } from "./command-store.js";
import { MergedWatcher, type ShardBatch, WatchCursorVector } from "./merged-watcher.js";
import { applyCommands, bytes, text } from "./testing/command-store-helpers.js";
import { WatchHub, watchHubDefaults } from "./watch-hub.js";

const put = (key: string): Command => ({ op: "put", key: bytes(key), value: bytes("v"), nowMs: 0 });

/** One shard: a store and its hub. */
function shard(historyRevisionsMax = 10_000) {
  const store = memoryCommandStore({ historyRevisionsMax });
  const hub = new WatchHub({ store, ...watchHubDefaults });
  const apply = (...commands: Command[]): void => {
    applyCommands(store, ...commands);
    hub.notify();
  };
  return { hub, apply };
}

const rows = (batch: ShardBatch | undefined): string[] =>
  (batch?.events ?? []).map((event) => `${batch?.shard}:${event.revision}:${text(event.key)}`);

describe("MergedWatcher", () => {
  it("hands out every shard's batches as they come, each shard's in its own revision order", async () => {
    const [a, b] = [shard(), shard()];
    a.apply(put("a1"));
    const merged = new MergedWatcher(
      new Map([
        [0, a.hub.watch(new Uint8Array(0), 1)],
        [1, b.hub.watch(new Uint8Array(0), 1)],
      ]),
    );
    assert.deepEqual(rows(await merged.take()), ["0:1:a1"]);
    b.apply(put("b1"), put("b2"));
    const seen: string[] = [];
    while (seen.length < 2) seen.push(...rows(await merged.take()));
    assert.deepEqual(seen, ["1:1:b1", "1:2:b2"]);
    a.apply(put("a2"));
    assert.deepEqual(rows(await merged.take()), ["0:2:a2"]);
    merged.close(undefined);
    assert.equal(await merged.take(), undefined, "closed: the end");
  });

  it("ends with the error of the first shard whose watcher fails (COMPACTED), closing the others", async () => {
    const [a, b] = [shard(), shard()];
    const watchA = a.hub.watch(new Uint8Array(0), 1);
    const watchB = b.hub.watch(new Uint8Array(0), 1);
    const merged = new MergedWatcher(
      new Map([
        [0, watchA],
        [1, watchB],
      ]),
    );
    const pending = merged.take();
    watchB.close(new ShoalError("COMPACTED", "fell behind"));
    await assert.rejects(pending, (error: unknown) => error instanceof ShoalError && error.code === "COMPACTED");
    assert.equal((await watchA.done)?.code, "COMPACTED", "the other shard's watcher closed too");
    await assert.rejects(merged.take(), (error: unknown) => error instanceof ShoalError && error.code === "COMPACTED");
  });
});

describe("WatchCursorVector", () => {
  it("reads back what it writes, and resumes each shard after what it delivered", () => {
    const cursor = WatchCursorVector.parse("12.0.7", 3, "cursor");
    assert.deepEqual([cursor.nextOf(0), cursor.nextOf(1), cursor.nextOf(2)], [13, 1, 8]);
    cursor.delivered(1, 5);
    cursor.delivered(0, 3); // never moves back
    assert.equal(cursor.toString(), "12.5.7");
    assert.equal(WatchCursorVector.parse("42", 1, "Last-Event-ID").nextOf(0), 43, "one shard: a plain revision");
  });

  it("refuses a cursor of another shard count or a malformed one, saying what it expects", () => {
    for (const [textIn, count] of [
      ["1.2", 3],
      ["1.2.3", 1],
      ["1..3", 3],
      ["a.b.c", 3],
      ["-1", 1],
      ["1e5", 1],
      ["9999999999999999", 1],
    ] as const) {
      assert.throws(
        () => WatchCursorVector.parse(textIn, count, "cursor"),
        (error: unknown) =>
          error instanceof ShoalError && error.code === "BAD_REQUEST" && error.message.includes("cursor"),
        textIn,
      );
    }
  });
});
