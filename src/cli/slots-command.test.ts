import assert from "node:assert/strict";
import { test } from "node:test";
import type { AdminShards } from "../client/types.js";
import { CliError } from "./cli-error.js";
import { formatSlotRanges, groupMoves, MoverTally, parseSlotList, renderSlots } from "./slots-command.js";
import { makeStyle } from "./terminal.js";

test("a slot list reads slots and ranges, ascending", () => {
  assert.deepEqual(parseSlotList("7000"), [7000]);
  assert.deepEqual(parseSlotList("7005-7007,7000, 5461-5462"), [5461, 5462, 7000, 7005, 7006, 7007]);
  assert.deepEqual(parseSlotList("0-0,16383"), [0, 16383]);
  assert.equal(parseSlotList("0-16383").length, 16384);
  assert.deepEqual(parseSlotList("00012"), [12]);
});

test("a slot list that is not one is a usage error (exit 2) saying why", () => {
  const refused: [string, RegExp][] = [
    ["", /an empty item/],
    ["1,,2", /an empty item/],
    ["1,", /an empty item/],
    ["16384", /there is no slot 16384 \(slots are 0-16383\)/],
    ["5-99999", /there is no slot 99999/],
    ["123456", /"123456" is not a slot/],
    ["-1", /"-1" is not a slot/],
    ["7010-7005", /the range 7010-7005 runs backwards/],
    ["1-2-3", /"1-2-3" is not a slot/],
    ["1.5", /"1.5" is not a slot/],
    ["0x10", /"0x10" is not a slot/],
    ["a-b", /"a-b" is not a slot/],
    ["1 2", /"1 2" is not a slot/],
    ["5-10,8", /slot 8 is listed twice/],
    ["0-16383,0", /slot 0 is listed twice/],
  ];
  for (const [text, why] of refused) {
    assert.throws(
      () => parseSlotList(text),
      (error: unknown) => error instanceof CliError && error.exitCode === 2 && why.test(error.message),
      `"${text}"`,
    );
  }
  assert.throws(() => parseSlotList("x".repeat(200)), /^CliError: Cannot parse SLOTS "x{57}\.\.\.": /);
});

test("slots print as compact ranges", () => {
  assert.equal(formatSlotRanges([]), "");
  assert.equal(formatSlotRanges([7000]), "7000");
  assert.equal(formatSlotRanges([5463, 5461, 5462, 7000, 7005, 7006, 7005]), "5461-5463,7000,7005-7006");
  assert.equal(formatSlotRanges(parseSlotList("5461-6000,7000,7005-7010")), "5461-6000,7000,7005-7010");
});

test("moves group by source and destination, in the order asked", () => {
  const moving = [
    { slot: 10, from: 2, to: 3, epoch: 1 },
    { slot: 5, from: 1, to: 3, epoch: 1 },
    { slot: 11, from: 2, to: 3, epoch: 1 },
  ];
  assert.deepEqual(groupMoves(moving), [
    { from: 2, to: 3, slots: [10, 11] },
    { from: 1, to: 3, slots: [5] },
  ]);
});

const shards: AdminShards = {
  epoch: 4,
  members: [1, 2, 3],
  meta: { leader: 1, voters: [1, 2, 3], learners: [] },
  shards: [
    { id: 1, slots: [[0, 5460]], replicas: [1, 2, 3], leaving: [], leader: 1 },
    { id: 2, slots: [[5461, 10922]], replicas: [1, 2, 3], leaving: [], leader: 2 },
    {
      id: 3,
      slots: [
        [7000, 7000],
        [10923, 16383],
      ],
      replicas: [1, 2, 3],
      leaving: [],
      leader: 3,
    },
  ],
};
const mover = { slotsMoved: 0, keysMoved: 0, bytesMoved: 0 };

test("shoal slots prints the moves as ranges per source and destination, then each shard's slots", () => {
  const moving = [
    ...parseSlotList("5461-7460").map((slot) => ({ slot, from: 2, to: 3, epoch: 1 })),
    { slot: 3, from: 1, to: 2, epoch: 1 },
  ];
  assert.equal(
    renderSlots({ epoch: 5, moving, mover }, shards, makeStyle(false)),
    [
      "Cluster map epoch 5",
      "",
      "Moving 2,001 slots:",
      "  5461-7460: shard 2 → shard 3 (2,000 slots)",
      "  3: shard 1 → shard 2 (1 slot)",
      "",
      "SHARD  SLOTS             COUNT",
      "    1  0-5460            5,461",
      "    2  5461-10922        5,462",
      "    3  7000,10923-16383  5,462",
      "",
    ].join("\n"),
  );
});

test("shoal slots says when no slot is moving", () => {
  const text = renderSlots({ epoch: 4, moving: [], mover }, shards, makeStyle(false));
  assert.match(text, /^Cluster map epoch 4\n\nNo slot is moving\.\n\nSHARD {2}SLOTS/);
});

test("the movers' tally counts from the first reading, keeps a silent member's, and survives a restart", () => {
  const tally = new MoverTally();
  tally.record(1, { slotsMoved: 100, keysMoved: 1000, bytesMoved: 10_000 });
  tally.record(2, undefined); // not answering yet
  assert.deepEqual(tally.total(), { slotsMoved: 0, keysMoved: 0, bytesMoved: 0 });
  tally.record(1, { slotsMoved: 110, keysMoved: 1100, bytesMoved: 11_000 });
  tally.record(2, { slotsMoved: 5, keysMoved: 50, bytesMoved: 500 }); // its first reading: the base
  assert.deepEqual(tally.total(), { slotsMoved: 10, keysMoved: 100, bytesMoved: 1000 });
  tally.record(1, undefined); // silent: keeps what it had done
  tally.record(2, { slotsMoved: 7, keysMoved: 70, bytesMoved: 700 });
  assert.deepEqual(tally.total(), { slotsMoved: 12, keysMoved: 120, bytesMoved: 1200 });
  tally.record(1, { slotsMoved: 3, keysMoved: 30, bytesMoved: 300 }); // restarted: counters from zero
  assert.deepEqual(tally.total(), { slotsMoved: 15, keysMoved: 150, bytesMoved: 1500 });
  tally.record(1, { slotsMoved: 4, keysMoved: 40, bytesMoved: 400 });
  assert.deepEqual(tally.total(), { slotsMoved: 16, keysMoved: 160, bytesMoved: 1600 });
});
