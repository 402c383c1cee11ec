import assert from "node:assert/strict";
import { test } from "node:test";
import type { Command, CommandResult } from "../commands/command.js";
import { ShoalError } from "../lib/errors.js";
import { ClusterLayout } from "../slots/cluster-layout.js";
import {
  type ClusterMap,
  encodeClusterMap,
  initialClusterMap,
  parseClusterMap,
  withReplicaLeft,
  withReplicaMoved,
} from "../slots/cluster-map.js";
import { withMemberJoined, withMemberRemoved } from "../slots/membership.js";
import { Placement } from "../slots/placement.js";
import { SlotMap } from "../slots/slot-map.js";
import type { KeyValue } from "../store/record.js";
import { CLUSTER_MAP_KEY, ClusterMapKeeper, type MetaReplica } from "./cluster-map-keeper.js";

const placement = new Placement([1, 2, 3, 4], 4, 3);
const running = initialClusterMap(new SlotMap(4), placement);
const layout = (): ClusterLayout => new ClusterLayout(new SlotMap(4), placement);
const quiet = { info: () => undefined, debug: () => undefined, error: () => undefined };

/** A meta replica holding `map` (or nothing), in `role`; records what is submitted. */
function metaWith(map: Uint8Array | undefined, role: string) {
  const submitted: Command[] = [];
  let held = map;
  let modRevision = 1;
  const meta: MetaReplica = {
    store: {
      get: () =>
        held === undefined
          ? undefined
          : ({
              key: CLUSTER_MAP_KEY,
              type: "string",
              value: held,
              createRevision: 1,
              modRevision,
              version: 1,
            } as KeyValue),
    },
    host: { raw: { status: () => ({ role }) } },
    client: {
      submit: async (command: Command): Promise<CommandResult> => {
        submitted.push(command);
        if (command.op !== "put") throw new Error("only puts");
        if (command.ifModRevision !== undefined && command.ifModRevision !== modRevision) {
          return { kind: "conflict", revision: modRevision, current: undefined };
        }
        held = command.value;
        modRevision++;
        return { kind: "put", revision: modRevision, prev: undefined };
      },
      linearize: async () => {},
    },
  };
  /** Another member changes the map behind this one's back. */
  const changeElsewhere = (next: ClusterMap): void => {
    held = encodeClusterMap(next);
    modRevision++;
  };
  return { meta, submitted, changeElsewhere };
}

test("the meta group's leader records the first map only if absent; a follower waits for it", async () => {
  const follower = metaWith(undefined, "follower");
  new ClusterMapKeeper(follower.meta, layout(), quiet).check();
  assert.equal(follower.submitted.length, 0);
  const leader = metaWith(undefined, "leader");
  const keeper = new ClusterMapKeeper(leader.meta, layout(), quiet);
  keeper.check();
  keeper.check(); // one proposal at a time
  assert.equal(leader.submitted.length, 1);
  const put = leader.submitted[0];
  assert.ok(put?.op === "put" && put.ifAbsent === true && Buffer.from(put.key).equals(CLUSTER_MAP_KEY));
  await new Promise((resolve) => setImmediate(resolve));
  keeper.check();
  assert.equal(keeper.epoch, 1);
  assert.deepEqual(keeper.problems(), []);
});

test("a recorded map that places shards otherwise than this node computed is a problem it reports", () => {
  const other: ClusterMap = { ...running, shards: running.shards.map((s) => ({ ...s, replicas: [1, 2, 3] })) };
  const keeper = new ClusterMapKeeper(metaWith(encodeClusterMap(other), "follower").meta, layout(), quiet);
  keeper.check();
  assert.equal(keeper.epoch, 1);
  assert.match(keeper.problems()[0] ?? "", /cluster map \(epoch 1\) places slots or replicas otherwise/);
  // A later epoch may add members, move replicas and slots between shards, split and merge shards.
  const swapped: ClusterMap = {
    ...running,
    epoch: 3,
    shards: running.shards.map((s, i) => ({ ...s, id: s.id + (i === 0 ? 10 : 0) })),
  };
  const joined = new ClusterMapKeeper(
    metaWith(encodeClusterMap({ ...running, epoch: 3, members: [1, 2, 3, 4, 5] }), "follower").meta,
    layout(),
    quiet,
  );
  joined.check();
  assert.deepEqual(joined.problems(), []);
  const slotsMoved: ClusterMap = {
    ...running,
    epoch: 3,
    shards: running.shards.map((s, i) => ({ ...s, slots: running.shards[i ^ 1]?.slots ?? s.slots })),
  };
  const resharded = new ClusterMapKeeper(metaWith(encodeClusterMap(slotsMoved), "follower").meta, layout(), quiet);
  resharded.check();
  assert.deepEqual(resharded.problems(), []);
  const later = new ClusterMapKeeper(metaWith(encodeClusterMap(swapped), "follower").meta, layout(), quiet);
  later.check();
  assert.deepEqual(later.problems(), []);
  const unreadable = new ClusterMapKeeper(metaWith(new Uint8Array([0x7b]), "follower").meta, layout(), quiet);
  unreadable.check();
  assert.match(unreadable.problems()[0] ?? "", /cannot be read: The cluster map is not JSON/);
});

test("a node follows a newer map with moved replicas, never an older one", () => {
  const moved = withReplicaMoved(running, 1, running.shards[0]?.replicas[0] ?? 0, 4);
  const { meta, changeElsewhere } = metaWith(encodeClusterMap(moved), "follower");
  const followed: number[] = [];
  const own = layout();
  const keeper = new ClusterMapKeeper(meta, own, quiet, (map) => followed.push(map.epoch));
  keeper.check();
  assert.deepEqual(keeper.problems(), []);
  assert.deepEqual(followed, [2]);
  assert.deepEqual(own.replicasOf(1), moved.shards[0]?.replicas);
  assert.deepEqual(own.leavingOf(1), moved.shards[0]?.leaving);
  changeElsewhere({ ...running, epoch: 1 });
  keeper.check();
  assert.deepEqual(followed, [2], "an older epoch is not followed");
  assert.equal(own.epoch, 2);
});

test("a map change is a compare-and-set: one made elsewhere first is a CONFLICT, a refused one BAD_REQUEST", async () => {
  const { meta, changeElsewhere } = metaWith(encodeClusterMap(running), "follower");
  const own = layout();
  const keeper = new ClusterMapKeeper(meta, own, quiet);
  keeper.check();
  const from = running.shards[0]?.replicas[0] ?? 0;
  const next = await keeper.update((map) => withReplicaMoved(map, 1, from, 4));
  assert.equal(next.epoch, 2);
  assert.equal(own.epoch, 2);
  // Another member records epoch 3 after this one last read: its own change must not overwrite it blindly. It is
  // made again of the newer map, where it no longer makes sense (the move is recorded done already).
  let calls = 0;
  const stale = keeper.update((map) => {
    calls++;
    const left = withReplicaLeft(map, 1, from);
    changeElsewhere(left);
    return left;
  });
  await assert.rejects(stale, (error: unknown) => error instanceof ShoalError && error.code === "BAD_REQUEST");
  assert.equal(calls, 2);
  // One that meets another change on every attempt gives up with CONFLICT.
  const busy = keeper.update((map) => {
    const paused = { ...map, epoch: map.epoch + 1, rebalancePaused: !(map.rebalancePaused ?? false) };
    changeElsewhere(paused);
    return paused;
  });
  await assert.rejects(busy, (error: unknown) => error instanceof ShoalError && error.code === "CONFLICT");
  await assert.rejects(
    keeper.update((map) => withReplicaMoved(map, 1, 4, 4)),
    (error: unknown) => error instanceof ShoalError && error.code === "BAD_REQUEST",
  );
});

test("a cluster map must own every slot once and place shards on members only", () => {
  assert.deepEqual(parseClusterMap(encodeClusterMap(running)), running);
  const bad = (change: (map: ClusterMap) => unknown, message: RegExp) =>
    assert.throws(() => parseClusterMap(new TextEncoder().encode(JSON.stringify(change(running)))), message);
  bad((m) => ({ ...m, shards: m.shards.slice(1) }), /Slot 0 has no owner/);
  bad(
    (m) => ({ ...m, shards: [...m.shards, { id: 9, slots: [{ from: 5, to: 5 }], replicas: [1] }] }),
    /Slot 5 has two owners/,
  );
  bad((m) => ({ ...m, shards: m.shards.map((s) => ({ ...s, replicas: [7] })) }), /shard 1 is malformed/);
  bad((m) => ({ ...m, epoch: 0 }), /lacks an epoch/);
});

test("a member joins under an id never used in the cluster, with its addresses in the map", () => {
  const address = { peer: "127.0.0.1:7105", http: "http://127.0.0.1:8005" };
  const joined = withMemberJoined(running, 5, address);
  assert.equal(joined.epoch, running.epoch + 1);
  assert.deepEqual(joined.members, [1, 2, 3, 4, 5]);
  assert.deepEqual(joined.joined, { 5: address });
  assert.deepEqual(joined.shards, running.shards, "a joined member holds nothing until replicas move to it");
  assert.deepEqual(parseClusterMap(encodeClusterMap(joined)), joined);
  assert.throws(() => withMemberJoined(joined, 5, address), RangeError, "a member's id");
  assert.throws(() => withMemberJoined(running, 2, address), RangeError, "a first member's id");
  // Above MEMBER_ID_MAX a replica id's member (its remainder) would name another member.
  assert.throws(() => withMemberJoined(running, 1_048_577, address), /integer from 1 to 1000000/);
  assert.throws(() => withMemberJoined(running, 0, address), /integer from 1 to 1000000/);
  // A member removed from the cluster never joins again under its id.
  const removed = withMemberRemoved(joined, 5);
  assert.deepEqual(removed.removed, [5]);
  assert.equal(removed.joined, undefined);
  assert.throws(() => withMemberJoined(removed, 5, address), /was a member of this cluster before/);
  const stray = { ...joined, joined: { 9: address } };
  assert.throws(() => parseClusterMap(encodeClusterMap(stray)), /joined member 9 is malformed/);
});
