import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Command, CommandResult } from "../commands/command.js";
import { ShoalError } from "../lib/errors.js";
import { Prng } from "../lib/prng.js";
import type { HistoryEvent } from "../store/history.js";
import type { MemoryStore } from "../store/memory-store.js";
import { memoryCommandStore } from "./command-store.js";
import { applyCommands, bytes, stateBytes, text } from "./testing/command-store-helpers.js";
import { type Watcher, WatchHub, watchHubDefaults } from "./watch-hub.js";

const put = (key: string, value = "v"): Command => ({ op: "put", key: bytes(key), value: bytes(value), nowMs: 0 });

function setup(options: { bufferEventsMax?: number; historyRevisionsMax?: number; catchUpRevisionsMax?: number } = {}) {
  const store = memoryCommandStore({ historyRevisionsMax: options.historyRevisionsMax ?? 10_000 });
  const hub = new WatchHub({
    store,
    ...watchHubDefaults,
    bufferEventsMax: options.bufferEventsMax ?? watchHubDefaults.bufferEventsMax,
    catchUpRevisionsMax: options.catchUpRevisionsMax ?? watchHubDefaults.catchUpRevisionsMax,
  });
  const apply = (...commands: Command[]): void => {
    applyCommands(store, ...commands);
    hub.notify();
  };
  return { store, hub, apply };
}

const rows = (events: readonly HistoryEvent[]) =>
  events.map((event) => `${event.revision}:${event.type}:${text(event.key)}`);

/** Takes batches until the watcher has handed out everything up to `revision`. */
async function takeUntil(watcher: Watcher, revision: number, out: HistoryEvent[] = []): Promise<HistoryEvent[]> {
  while ((out[out.length - 1]?.revision ?? 0) < revision) {
    const batch = await watcher.take();
    assert.ok(batch !== undefined, "the watcher is still open");
    assert.ok(batch.length > 0, "a batch is never empty");
    out.push(...batch);
  }
  return out;
}

describe("WatchHub", () => {
  it("replays the history from a revision, then follows live applies, filtered by prefix", async () => {
    const { hub, apply } = setup();
    apply(put("a/1"), put("b/1"), put("a/2"));
    const watcher = hub.watch(bytes("a/"), 2);
    apply(put("a/3"), { op: "delete", key: bytes("a/1"), nowMs: 0 }, put("b/2"));
    const events = await takeUntil(watcher, 5);
    assert.deepEqual(rows(events), ["3:put:a/2", "4:put:a/3", "5:delete:a/1"]);
    apply(put("a/4"));
    assert.deepEqual(rows((await watcher.take()) ?? []), ["7:put:a/4"]);
  });

  it("starts in the future and refuses a compacted revision, naming the oldest available", async () => {
    const { hub, apply } = setup({ historyRevisionsMax: 2 });
    apply(put("a"), put("b"), put("c"));
    assert.throws(
      () => hub.watch(new Uint8Array(0), 1),
      (error: unknown) =>
        error instanceof ShoalError && error.code === "COMPACTED" && error.detail?.oldestRevision === 2,
    );
    const future = hub.watch(new Uint8Array(0), 5);
    apply(put("d"), put("e"));
    assert.deepEqual(rows((await future.take()) ?? []), ["5:put:e"]);
  });

  it("drops a slow live watcher back to the history, losing and repeating nothing", async () => {
    const { hub, apply } = setup({ bufferEventsMax: 3 });
    const watcher = hub.watch(new Uint8Array(0), 1);
    assert.equal(await Promise.race([watcher.take(), Promise.resolve("pending")]), "pending");
    assert.equal(watcher.live, true);
    for (let i = 1; i <= 10; i++) apply(put(`k${i}`));
    assert.equal(watcher.live, false, "the buffer overflowed");
    assert.equal(hub.stats().fellBehind, 1);
    const events = await takeUntil(watcher, 10);
    assert.deepEqual(
      events.map((event) => event.revision),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
  });

  it("closes a watcher that fell behind the history's window with COMPACTED", async () => {
    const { hub, apply } = setup({ bufferEventsMax: 2, historyRevisionsMax: 4 });
    const watcher = hub.watch(new Uint8Array(0), 1);
    apply(put("a"));
    assert.deepEqual(rows((await watcher.take()) ?? []), ["1:put:a"]);
    for (let i = 0; i < 10; i++) apply(put(`k${i}`));
    const error = await watcher.done;
    assert.equal(error?.code, "COMPACTED");
    await assert.rejects(watcher.take(), (e: unknown) => e instanceof ShoalError && e.code === "COMPACTED");
    assert.equal(hub.stats().watchers, 0);
  });

  it("tells live watchers when a restore skipped revisions", async () => {
    const { store, hub, apply } = setup();
    const source = memoryCommandStore();
    applyCommands(source, put("x"), put("y"), put("z"));
    apply(put("a"));
    const watcher = hub.watch(new Uint8Array(0), 1);
    assert.deepEqual(rows((await watcher.take()) ?? []), ["1:put:a"]);
    await store.restore([await stateBytes(source)]);
    hub.notify();
    await assert.rejects(watcher.take(), (e: unknown) => e instanceof ShoalError && e.code === "COMPACTED");
  });

  it("delivers every event exactly once in order under random interleavings", async () => {
    let fellBehind = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const random = new Prng(seed);
      const { hub, apply, store } = setup({
        bufferEventsMax: 1 + random.int(6),
        catchUpRevisionsMax: 1 + random.int(4),
      });
      apply(put("seed"));
      const watchers = [hub.watch(new Uint8Array(0), 1), hub.watch(bytes("k1"), 1), hub.watch(new Uint8Array(0), 3)];
      const seen: HistoryEvent[][] = watchers.map(() => []);
      // One take in flight per watcher (its contract): a step either finds it settled or leaves it pending.
      const pending = new Map<number, Promise<void>>();
      const settled = new Set<number>();
      for (let step = 0; step < 200; step++) {
        if (random.int(3) === 0) {
          const keys = Array.from({ length: 1 + random.int(3) }, (_, i) => `k${random.int(20)}-${i}`);
          apply({
            op: "txn",
            nowMs: 0,
            compares: [],
            success: keys.map((key) => ({ op: "put", key: bytes(key), value: bytes("v") })),
            failure: [],
          });
        } else {
          const i = random.int(watchers.length);
          if (settled.delete(i)) pending.delete(i);
          if (!pending.has(i)) {
            const taking = (watchers[i] as Watcher).take().then((batch) => {
              (seen[i] as HistoryEvent[]).push(...(batch ?? []));
              settled.add(i);
            });
            pending.set(i, taking);
          }
          await new Promise((done) => setImmediate(done));
        }
      }
      for (let i = 0; i < watchers.length; i++) {
        const target = lastMatching(store, i);
        const events = seen[i] as HistoryEvent[];
        if (pending.has(i) && (events[events.length - 1]?.revision ?? 0) < target) await pending.get(i);
        await takeUntil(watchers[i] as Watcher, target, events);
      }
      fellBehind += hub.stats().fellBehind;
      hub.close();
      const all = store.events(1, store.revision());
      const expected = [
        all,
        all.filter((event) => text(event.key)?.startsWith("k1")),
        all.filter((event) => event.revision >= 3),
      ];
      expected.forEach((events, i) => {
        assert.deepEqual(rows(seen[i] as HistoryEvent[]), rows(events), `seed ${seed} watcher ${i}`);
      });
    }
    assert.ok(fellBehind > 10, `the runs exercised the slow-consumer path (${fellBehind} times)`);
  });
});

/** The last revision watcher `i` of the interleaving test will see. */
function lastMatching(store: MemoryStore<CommandResult>, i: number): number {
  const events = store.events(1, store.revision()).filter((event) => i !== 1 || text(event.key)?.startsWith("k1"));
  return events[events.length - 1]?.revision ?? 0;
}
