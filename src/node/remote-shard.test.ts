import assert from "node:assert/strict";
import { test } from "node:test";
import { ShoalError } from "../lib/errors.js";
import type { NodeId } from "../raft/types.js";
import type { AskPeer } from "./leader-forwarding.js";
import { RemoteShard } from "./remote-shard.js";

/** A remote shard on replicas 2, 3, 4 whose members answer with `answer(to)`; records who was asked. */
function shardWith(answer: (to: NodeId) => unknown, live: (id: NodeId) => boolean = () => true) {
  const asked: NodeId[] = [];
  const ask: AskPeer = async (to) => {
    asked.push(to);
    const result = answer(to);
    if (result instanceof Error) throw result;
    return result;
  };
  const shard = new RemoteShard({
    id: 7,
    replicaIds: () => [2, 3, 4],
    ask,
    isLive: live,
    requestTimeoutMs: 1000,
    slotsText: () => "0-99",
  });
  return { shard, asked };
}

const put = { op: "put", key: new Uint8Array([1]), value: new Uint8Array([2]), nowMs: 0 } as const;

test("a call goes to the leader an answer named, and skips a replica that certainly did not run it", async () => {
  const { shard, asked } = shardWith((to) =>
    to === 2 ? new ShoalError("UNAVAILABLE", "not sent") : { leader: 4, value: { kind: "ok", revision: 1 } },
  );
  assert.deepEqual(await shard.submit(put), { kind: "ok", revision: 1 });
  assert.equal(shard.leaderId(), 4);
  asked.length = 0;
  await shard.submit(put);
  assert.deepEqual(asked, [4], "the leader first");
});

test("a write that was sent and then lost is reported, never sent to another replica", async () => {
  for (const code of ["TIMEOUT", "UNKNOWN_OUTCOME"] as const) {
    const { shard, asked } = shardWith(() => new ShoalError(code, "lost"));
    await assert.rejects(shard.submit(put), (error: unknown) => error instanceof ShoalError && error.code === code);
    assert.equal(asked.length, 1, `${code}: asked once`);
  }
});

test("a shard with a majority of its replicas unreachable answers CLUSTERDOWN without asking anyone", async () => {
  const { shard, asked } = shardWith(
    () => ({ leader: 2, value: null }),
    (id) => id === 2,
  );
  await assert.rejects(
    shard.get(new Uint8Array([1]), false),
    (error: unknown) =>
      error instanceof ShoalError &&
      error.code === "CLUSTER_DOWN" &&
      /slots 0-99: shard 7 has lost a majority of its replicas \(nodes 3, 4 of 2, 3, 4/.test(error.message),
  );
  assert.deepEqual(asked, []);
  // One of three down still serves, from the live ones only.
  const one = shardWith(
    () => ({ leader: 3, value: { kv: null, revision: 12 } }),
    (id) => id !== 2,
  );
  assert.deepEqual(await one.shard.get(new Uint8Array([1]), false), { kv: undefined, revision: 12 });
  assert.ok(!one.asked.includes(2));
});

test("a leader named by a member that is not a replica is ignored", async () => {
  const { shard } = shardWith(() => ({ leader: 9, value: null }));
  await shard.readBarrier();
  assert.equal(shard.leaderId(), 0);
  shard.leaderHeard(9);
  assert.equal(shard.leaderId(), 0);
  shard.leaderHeard(3);
  assert.equal(shard.leaderId(), 3);
});
