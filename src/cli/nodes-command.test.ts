import assert from "node:assert/strict";
import { test } from "node:test";
import { describeStep, formatBytes, renderPlan } from "./nodes-command.js";

test("bytes read as a person would: B, KiB, MiB, GiB", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1024), "1.0 KiB");
  assert.equal(formatBytes(1536 * 1024), "1.5 MiB");
  assert.equal(formatBytes(3 * 1024 ** 3), "3.0 GiB");
  assert.equal(formatBytes(-5), "0 B");
});

test("the rebalance plan prints each step in words, and says when it is balanced", () => {
  assert.equal(
    describeStep({ kind: "moveReplica", shard: 2, from: 1, to: 4 }),
    "move shard 2's replica from node 1 to node 4",
  );
  assert.equal(describeStep({ kind: "setLeader", shard: 3, to: 5 }), "let node 5 lead shard 3");
  assert.equal(describeStep({ kind: "removeMember", member: 1 }), "remove node 1");
  const view = {
    epoch: 7,
    paused: false,
    state: "step" as const,
    plan: [{ kind: "removeMember" as const, member: 1 }],
  };
  assert.equal(renderPlan(view), "Rebalancer running (map epoch 7); 1 step to balanced:\n  1. remove node 1\n");
  assert.equal(
    renderPlan({ epoch: 8, paused: true, state: "moving", movingShard: 2, plan: [] }),
    "Rebalancer paused (map epoch 8); moving a replica of shard 2: balanced\n",
  );
});
