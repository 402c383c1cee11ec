import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClusterLayout } from "./cluster-layout.js";
import {
  type ClusterMap,
  emptyRetiringShard,
  encodeClusterMap,
  initialClusterMap,
  parseClusterMap,
  type SlotMigration,
  withShardMerged,
  withShardRemoved,
  withShardSplit,
  withSlotsMigrating,
  withSlotsMoved,
} from "./cluster-map.js";
import { Placement } from "./placement.js";
import { SlotMap } from "./slot-map.js";

// Three shards: 1 owns 0-5460, 2 owns 5461-10922, 3 owns 10923-16383.
const base = initialClusterMap(new SlotMap(3), new Placement([1, 2, 3], 3, 3));

const roundTrip = (map: ClusterMap): ClusterMap => parseClusterMap(encodeClusterMap(map));
const ownerOf = (map: ClusterMap, slot: number): number => SlotMap.fromRanges(map.shards).shardOf(slot);
const slotsOf = (map: ClusterMap, id: number) => map.shards.find((shard) => shard.id === id)?.slots;

function refused(run: () => unknown, pattern: RegExp, why?: string): void {
  assert.throws(
    run,
    (error: unknown) => {
      assert.ok(error instanceof RangeError, `expected a RangeError, got ${String(error)}`);
      assert.match(error.message, pattern, why);
      return true;
    },
    why,
  );
}

describe("withSlotsMigrating", () => {
  it("records the moves at the next epoch, in the order asked, leaving ownership as it is", () => {
    const next = withSlotsMigrating(base, [0, 10, 5460], 2);
    assert.equal(next.epoch, base.epoch + 1);
    assert.deepEqual(next.migrations, [
      { slot: 0, from: 1, to: 2, epoch: 2 },
      { slot: 10, from: 1, to: 2, epoch: 2 },
      { slot: 5460, from: 1, to: 2, epoch: 2 },
    ]);
    assert.deepEqual(next.shards, base.shards, "a slot stays its source's until its move is done");
    assert.deepEqual(roundTrip(next), next);
    const more = withSlotsMigrating(next, [16383], 1);
    assert.deepEqual(more.migrations?.at(-1), { slot: 16383, from: 3, to: 1, epoch: 3 });
    assert.equal(more.migrations?.length, 4);
    assert.equal(more.epoch, base.epoch + 2);
  });

  it("omits slots already at the destination and names a slot once", () => {
    const next = withSlotsMigrating(base, [5461, 1, 6000, 1], 2);
    assert.deepEqual(next.migrations, [{ slot: 1, from: 1, to: 2, epoch: 2 }]);
  });

  it("returns the map itself when nothing is to move", () => {
    assert.equal(withSlotsMigrating(base, [5461, 10922], 2), base);
    assert.equal(withSlotsMigrating(base, [], 2), base);
  });

  it("refuses an unknown shard and slots that do not exist", () => {
    refused(() => withSlotsMigrating(base, [1], 4), /no shard 4/);
    refused(() => withSlotsMigrating(base, [1], 0), /no shard 0/);
    refused(() => withSlotsMigrating(base, [16384], 2), /no slot 16384/);
    refused(() => withSlotsMigrating(base, [-1], 2), /no slot -1/);
    refused(() => withSlotsMigrating(base, [1.5], 2), /no slot 1.5/);
  });

  it("refuses a slot already moving, to the same or another shard", () => {
    const moving = withSlotsMigrating(base, [7], 2);
    refused(() => withSlotsMigrating(moving, [7], 2), /Slot 7 is already moving/);
    refused(() => withSlotsMigrating(moving, [8, 7], 3), /Slot 7 is already moving/);
  });

  it("refuses leaving a shard without a slot, counting the moves asked before", () => {
    const small: ClusterMap = {
      epoch: 3,
      members: [1, 2],
      shards: [
        { id: 1, slots: [{ from: 0, to: 16381 }], replicas: [1] },
        { id: 2, slots: [{ from: 16382, to: 16383 }], replicas: [2] },
      ],
    };
    refused(() => withSlotsMigrating(small, [16382, 16383], 1), /Shard 2 would be left without a slot/);
    const one = withSlotsMigrating(small, [16382], 1);
    assert.deepEqual(one.migrations, [{ slot: 16382, from: 2, to: 1, epoch: small.epoch + 1 }]);
    refused(() => withSlotsMigrating(one, [16383], 1), /Shard 2 would be left without a slot/);
    // Another slot coming to shard 2 makes up for it.
    const swapped = withSlotsMigrating(one, [0], 2);
    assert.deepEqual(withSlotsMigrating(swapped, [16383], 1).migrations?.length, 3);
  });
});

describe("withSlotsMoved", () => {
  it("gives each moved slot to its destination, splitting and merging ranges, and keeps the other moves", () => {
    const migrating = withSlotsMigrating(withSlotsMigrating(base, [100, 5460], 2), [16383], 1);
    const moved = withSlotsMoved(migrating, [100, 5460]);
    assert.equal(moved.epoch, migrating.epoch + 1);
    assert.deepEqual(slotsOf(moved, 1), [
      { from: 0, to: 99 },
      { from: 101, to: 5459 },
    ]);
    assert.deepEqual(slotsOf(moved, 2), [
      { from: 100, to: 100 },
      { from: 5460, to: 10922 },
    ]);
    assert.deepEqual(slotsOf(moved, 3), slotsOf(base, 3));
    assert.deepEqual(moved.migrations, [{ slot: 16383, from: 3, to: 1, epoch: 3 }]);
    assert.equal(ownerOf(moved, 100), 2);
    assert.equal(ownerOf(moved, 16383), 3, "a slot still moving stays its source's");
    assert.deepEqual(roundTrip(moved), moved, "the moved map is a valid map");
    // The shards keep everything but their slots.
    assert.deepEqual(
      moved.shards.map(({ slots: _, ...rest }) => rest),
      base.shards.map(({ slots: _, ...rest }) => rest),
    );
  });

  it("drops the migrations field once the last move is done", () => {
    const moved = withSlotsMoved(withSlotsMigrating(base, [0, 1], 3), [1, 0]);
    assert.equal("migrations" in moved, false);
    assert.deepEqual(slotsOf(moved, 3), [
      { from: 0, to: 1 },
      { from: 10923, to: 16383 },
    ]);
    assert.deepEqual(slotsOf(moved, 1), [{ from: 2, to: 5460 }]);
    assert.deepEqual(roundTrip(moved), moved);
  });

  it("refuses a slot that is not moving (another driver recorded it first)", () => {
    const migrating = withSlotsMigrating(base, [0], 2);
    refused(() => withSlotsMoved(migrating, [1]), /Slot 1 is not moving/);
    refused(() => withSlotsMoved(migrating, [0, 1]), /Slot 1 is not moving/);
    const moved = withSlotsMoved(migrating, [0]);
    refused(() => withSlotsMoved(moved, [0]), /Slot 0 is not moving/);
    refused(() => withSlotsMoved(base, [0]), /Slot 0 is not moving/);
  });
});

describe("parseClusterMap: slot migrations", () => {
  const withMigrations = (migrations: unknown): Uint8Array =>
    encodeClusterMap({ ...base, migrations } as unknown as ClusterMap);

  it("accepts well-formed migrations", () => {
    const migrations: SlotMigration[] = [
      { slot: 0, from: 1, to: 2, epoch: 1 },
      { slot: 16383, from: 3, to: 1, epoch: 1 },
      { slot: 6000, from: 2, to: 3, epoch: 1 },
    ];
    assert.deepEqual(parseClusterMap(withMigrations(migrations)).migrations, migrations);
    assert.deepEqual(parseClusterMap(withMigrations([])).migrations, []);
  });

  it("refuses malformed migrations", () => {
    const bad: [string, unknown][] = [
      ["not an array", { slot: 0, from: 1, to: 2, epoch: 1 }],
      ["null", [null]],
      ["a number", [7]],
      ["slot not owned by from", [{ slot: 0, from: 2, to: 3, epoch: 1 }]],
      ["from not a shard", [{ slot: 0, from: 9, to: 2, epoch: 1 }]],
      [
        "a slot twice",
        [
          { slot: 0, from: 1, to: 2, epoch: 1 },
          { slot: 0, from: 1, to: 3, epoch: 1 },
        ],
      ],
      [
        "the same move twice",
        [
          { slot: 0, from: 1, to: 2, epoch: 1 },
          { slot: 0, from: 1, to: 2, epoch: 1 },
        ],
      ],
      ["to == from", [{ slot: 0, from: 1, to: 1, epoch: 1 }]],
      ["to not a shard", [{ slot: 0, from: 1, to: 4, epoch: 1 }]],
      ["to missing", [{ slot: 0, from: 1 }]],
      ["slot missing", [{ from: 1, to: 2 }]],
      ["slot 16384", [{ slot: 16384, from: 3, to: 1, epoch: 1 }]],
      ["slot -1", [{ slot: -1, from: 1, to: 2, epoch: 1 }]],
      ["slot 1.5", [{ slot: 1.5, from: 1, to: 2, epoch: 1 }]],
      ["slot a string", [{ slot: "0", from: 1, to: 2, epoch: 1 }]],
    ];
    for (const [why, migrations] of bad) {
      refused(() => parseClusterMap(withMigrations(migrations)), /slot migrations are malformed/, why);
    }
  });
});

/** Every slot moving in `map`, done: the map as the slot movers leave it. */
const allMoved = (map: ClusterMap): ClusterMap =>
  map.migrations === undefined
    ? map
    : withSlotsMoved(
        map,
        map.migrations.map((m) => m.slot),
      );

describe("splitting and merging shards", () => {
  it("a split creates the next shard on the same members and moves the upper half of the slots to it", () => {
    const split = withShardSplit(base, 2);
    assert.equal(split.epoch, base.epoch + 1);
    const added = split.shards.find((shard) => shard.id === 4);
    assert.ok(added !== undefined);
    assert.deepEqual(added.slots, [], "no slot until the moves are done");
    assert.deepEqual(added.origin, added.replicas, "created with its members as voters");
    assert.deepEqual([...added.replicas].sort(), [1, 2, 3]);
    const moving = split.migrations ?? [];
    assert.equal(moving.length, Math.floor((10922 - 5461 + 1) / 2));
    assert.ok(moving.every((m) => m.from === 2 && m.to === 4 && m.slot > 8000));
    assert.deepEqual(roundTrip(split), split);
    const done = allMoved(split);
    assert.deepEqual(slotsOf(done, 2), [{ from: 5461, to: 8191 }]);
    assert.deepEqual(slotsOf(done, 4), [{ from: 8192, to: 10922 }]);
    // With key counts, the cut halves the keys: all keys in the first 100 slots moves only a few slots' worth.
    const byKeys = withShardSplit(base, 2, (slot) => (slot < 5561 ? 100 : 0));
    assert.equal(byKeys.migrations?.[0]?.slot, 5511, "half of 100 slots of 100 keys each stay");
  });

  it("a split refuses an unknown shard, one with a slot, and one with slots moving; ids are never given twice", () => {
    refused(() => withShardSplit(base, 9), /There is no shard 9/);
    const oneSlot = allMoved(
      withSlotsMigrating(
        base,
        Array.from({ length: 5460 }, (_, i) => i + 1),
        2,
      ),
    );
    refused(() => withShardSplit(oneSlot, 1), /nothing to split/);
    refused(() => withShardSplit(withSlotsMigrating(base, [0], 2), 2), /slots moving/);
    const merged = allMoved(withShardMerged(allMoved(withShardSplit(base, 2)), 4, 2));
    const gone = withShardRemoved(merged, 4);
    assert.ok(!gone.shards.some((shard) => shard.id === 4));
    assert.equal(gone.lastShardId, 4);
    const again = withShardSplit(gone, 1);
    assert.ok(
      again.shards.some((shard) => shard.id === 5),
      "the next split takes 5, not 4 again",
    );
  });

  it("a merge moves every slot away, then the empty shard may be removed, not before", () => {
    const merging = withShardMerged(base, 3, 1);
    assert.equal(merging.shards.find((shard) => shard.id === 3)?.retiring, true);
    assert.equal(merging.migrations?.length, 16384 - 10923);
    assert.ok(merging.migrations?.every((m) => m.from === 3 && m.to === 1));
    assert.equal(emptyRetiringShard(merging), undefined, "still holding slots");
    refused(() => withShardRemoved(merging, 3), /still holds slots/);
    refused(() => withSlotsMigrating(merging, [0], 3), /being merged away/);
    refused(() => withShardMerged(base, 3, 3), /itself/);
    refused(() => withShardMerged(merging, 3, 2), /already being merged/);
    refused(() => withShardRemoved(base, 2), /not being merged away/);
    const done = allMoved(merging);
    assert.equal(emptyRetiringShard(done), 3);
    const removed = withShardRemoved(done, 3);
    assert.deepEqual(
      removed.shards.map((shard) => shard.id),
      [1, 2],
    );
    assert.deepEqual(slotsOf(removed, 1), [
      { from: 0, to: 5460 },
      { from: 10923, to: 16383 },
    ]);
    assert.deepEqual(roundTrip(removed), removed);
  });

  it("a split-off shard's replicas start from its origin, and the layout routes by the map's slots", () => {
    const layout = new ClusterLayout(new SlotMap(3), new Placement([1, 2, 3], 3, 3));
    const split = allMoved(withShardSplit(base, 2));
    assert.ok(layout.adopt(split));
    assert.deepEqual(layout.createdVoters(4), [1, 2, 3]);
    assert.ok(layout.createdWith(4, 1));
    assert.equal(layout.slotMap.shardOf(10922), 4);
    assert.equal(layout.slotMap.shardOf(5461), 2);
    assert.ok([1, 2, 3].includes(layout.preferredLeader(4)));
  });
});
