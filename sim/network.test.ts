import assert from "node:assert/strict";
import { test } from "node:test";
import type { HeartbeatMessage } from "../src/raft/types.js";
import { SimNetwork } from "./network.js";
import { derivePrng } from "./random.js";

function heartbeat(from: number, to: number, commit = 0): HeartbeatMessage {
  return { type: "heartbeat", groupId: 1, from, to, term: 1, commit, readContext: "", quiesce: false };
}

test("messages arrive after their delay, and only then", () => {
  const network = new SimNetwork(derivePrng(1, "t"), {
    dropChance: 0,
    duplicateChance: 0,
    delayTicksMin: 2,
    delayTicksMax: 2,
  });
  network.send(heartbeat(1, 2), 10);
  assert.deepEqual(network.takeDue(11), []);
  assert.equal(network.takeDue(12).length, 1);
  assert.equal(network.inFlightCount(), 0);
});

test("random delays reorder messages; the same seed reorders them the same way", () => {
  const order = (seed: number): number[] => {
    const network = new SimNetwork(derivePrng(seed, "t"), {
      dropChance: 0,
      duplicateChance: 0,
      delayTicksMin: 1,
      delayTicksMax: 8,
    });
    for (let i = 0; i < 20; i++) network.send(heartbeat(1, 2, i), 0);
    const arrived: number[] = [];
    for (let tick = 1; tick <= 8; tick++)
      for (const m of network.takeDue(tick)) arrived.push((m as HeartbeatMessage).commit);
    return arrived;
  };
  assert.equal(order(3).length, 20);
  assert.notDeepEqual(
    order(3),
    [...order(3)].sort((a, b) => a - b),
    "some message overtook another",
  );
  assert.deepEqual(order(3), order(3));
});

test("a one-way cut stops one direction only; heal restores it; a cut loses messages already in flight", () => {
  const network = new SimNetwork(derivePrng(1, "t"), {
    dropChance: 0,
    duplicateChance: 0,
    delayTicksMin: 1,
    delayTicksMax: 1,
  });
  network.send(heartbeat(1, 2), 0);
  network.cutOneWay(1, 2);
  assert.deepEqual(network.takeDue(1), [], "in flight when the link went down");
  network.send(heartbeat(1, 2), 1);
  network.send(heartbeat(2, 1), 1);
  assert.deepEqual(
    network.takeDue(2).map((m) => m.from),
    [2],
  );
  network.healAll();
  network.send(heartbeat(1, 2), 2);
  assert.equal(network.takeDue(3).length, 1);
});

test("isolation cuts every link of a node; a partition cuts across groups only", () => {
  const network = new SimNetwork(derivePrng(1, "t"), {
    dropChance: 0,
    duplicateChance: 0,
    delayTicksMin: 1,
    delayTicksMax: 1,
  });
  network.isolate(3, [1, 2, 3]);
  assert.equal(network.linkUp(1, 3), false);
  assert.equal(network.linkUp(3, 2), false);
  assert.equal(network.linkUp(1, 2), true);
  network.healAll();
  network.partition([
    [1, 2],
    [3, 4, 5],
  ]);
  assert.equal(network.linkUp(1, 2), true);
  assert.equal(network.linkUp(4, 5), true);
  assert.equal(network.linkUp(2, 4), false);
  assert.equal(network.linkUp(5, 1), false);
});

test("drops and duplicates happen at about their rates", () => {
  const network = new SimNetwork(derivePrng(9, "t"), {
    dropChance: 0.2,
    duplicateChance: 0.1,
    delayTicksMin: 1,
    delayTicksMax: 1,
  });
  for (let i = 0; i < 10_000; i++) network.send(heartbeat(1, 2), 0);
  assert.ok(Math.abs(network.stats.dropped - 2000) < 300, `dropped ${network.stats.dropped}`);
  assert.ok(Math.abs(network.stats.duplicated - 800) < 200, `duplicated ${network.stats.duplicated}`);
  assert.equal(network.takeDue(1).length, 10_000 - network.stats.dropped + network.stats.duplicated);
});
