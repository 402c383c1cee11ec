import assert from "node:assert/strict";
import { test } from "node:test";
import { ShoalError } from "../lib/errors.js";
import type { HistoryEvent } from "../store/history.js";
import { RemoteWatcher, type WatchPoll } from "./remote-watcher.js";

const event = (revision: number): HistoryEvent => ({
  revision,
  type: "delete",
  key: new TextEncoder().encode(`k${revision}`),
  record: undefined,
});

test("a remote watch hands out each poll's events and asks the next poll from where the holder read up to", async () => {
  const asked: number[] = [];
  const answers: (WatchPoll | Error)[] = [
    { events: [], next: 5 }, // nothing matched up to 4
    new ShoalError("UNAVAILABLE", "holder down"), // asked again, from the same place
    { events: [event(5), event(7)], next: 8 },
    { events: [event(9)], next: 10 },
  ];
  const watcher = new RemoteWatcher(async (from) => {
    asked.push(from);
    const answer = answers.shift() ?? { events: [], next: from };
    if (answer instanceof Error) throw answer;
    return answer;
  }, 3);
  assert.deepEqual(
    (await watcher.take())?.map((e) => e.revision),
    [5, 7],
  );
  assert.deepEqual(
    (await watcher.take())?.map((e) => e.revision),
    [9],
  );
  assert.deepEqual(asked, [3, 5, 5, 8]);
  watcher.close(undefined);
  assert.equal(await watcher.take(), undefined);
  assert.equal(await watcher.done, undefined);
});

test("a revision the holder's history no longer has ends the remote watch with COMPACTED", async () => {
  const watcher = new RemoteWatcher(async () => {
    throw new ShoalError("COMPACTED", "gone");
  }, 1);
  await assert.rejects(watcher.take(), (error: unknown) => error instanceof ShoalError && error.code === "COMPACTED");
  assert.equal((await watcher.done)?.code, "COMPACTED");
});

test("closing a remote watch that waits to retry ends its take at once", async () => {
  const watcher = new RemoteWatcher(async () => {
    throw new ShoalError("CLUSTER_DOWN", "no majority");
  }, 1);
  const taken = watcher.take();
  await new Promise((resolve) => setTimeout(resolve, 20));
  watcher.close(undefined);
  assert.equal(await taken, undefined);
});
