import assert from "node:assert/strict";
import { test } from "node:test";
import type { Command, CommandResult } from "../commands/command.js";
import { type ClusterMap, encodeClusterMap, initialClusterMap, parseClusterMap } from "../slots/cluster-map.js";
import { Placement } from "../slots/placement.js";
import { SlotMap } from "../slots/slot-map.js";
import type { KeyValue } from "../store/record.js";
import { CLUSTER_MAP_KEY, ClusterMapKeeper, type MetaReplica } from "./cluster-map-keeper.js";

const running = initialClusterMap(new SlotMap(4), new Placement([1, 2, 3, 4], 4, 3));
const quiet = { info: () => undefined, debug: () => undefined, error: () => undefined };

/** A meta replica holding `map` (or nothing), in `role`; records what is submitted. */
function metaWith(map: Uint8Array | undefined, role: string) {
  const submitted: Command[] = [];
  let held = map;
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
              modRevision: 1,
              version: 1,
            } as KeyValue),
    },
    host: { raw: { status: () => ({ role }) } },
    client: {
      submit: async (command: Command): Promise<CommandResult> => {
        submitted.push(command);
        if (command.op === "put") held = command.value;
        return { kind: "put", revision: 1, prev: undefined };
      },
    },
  };
  return { meta, submitted };
}

test("the meta group's leader records the first map only if absent; a follower waits for it", async () => {
  const follower = metaWith(undefined, "follower");
  new ClusterMapKeeper(follower.meta, running, quiet).check();
  assert.equal(follower.submitted.length, 0);
  const leader = metaWith(undefined, "leader");
  const keeper = new ClusterMapKeeper(leader.meta, running, quiet);
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

test("a recorded map that places shards otherwise than this node runs them is a problem it reports", () => {
  const other: ClusterMap = {
    ...running,
    epoch: 3,
    shards: running.shards.map((s) => ({ ...s, replicas: [1, 2, 3] })),
  };
  const keeper = new ClusterMapKeeper(metaWith(encodeClusterMap(other), "follower").meta, running, quiet);
  keeper.check();
  assert.equal(keeper.epoch, 3);
  assert.match(keeper.problems()[0] ?? "", /cluster map \(epoch 3\) places slots or replicas otherwise/);
  const unreadable = new ClusterMapKeeper(metaWith(new Uint8Array([0x7b]), "follower").meta, running, quiet);
  unreadable.check();
  assert.match(unreadable.problems()[0] ?? "", /cannot be read: The cluster map is not JSON/);
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
