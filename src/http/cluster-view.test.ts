import assert from "node:assert/strict";
import { test } from "node:test";
import { slotMovesView } from "./cluster-view.js";

test("the cluster view counts the slots moving per source and destination, and leaves the field out when none", () => {
  assert.deepEqual(slotMovesView([]), {});
  assert.deepEqual(
    slotMovesView([
      { slot: 10, from: 2, to: 3, epoch: 1 },
      { slot: 5, from: 1, to: 3, epoch: 1 },
      { slot: 11, from: 2, to: 3, epoch: 1 },
    ]),
    {
      slotMoves: [
        { from: 2, to: 3, slots: 2 },
        { from: 1, to: 3, slots: 1 },
      ],
    },
  );
});
