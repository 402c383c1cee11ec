import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyCommand } from "../apply-command.js";
import type { Command } from "../command.js";
import { MapStateMachine } from "../testing/map-state-machine.js";
import { bulk, errorReply, integer, NULL, OK } from "./reply.js";

const b = (text: string): Uint8Array => new TextEncoder().encode(text);
const argv = (line: string): Uint8Array[] => line.split(" ").map(b);

describe("redis entries", () => {
  it("run commands in order at one revision, each failure an error reply", () => {
    const sm = new MapStateMachine();
    const result = sm.apply({ op: "redis", nowMs: 1, argvs: [argv("SET k v"), argv("get k"), argv("nosuch a b")] });
    assert.deepEqual(result, {
      kind: "redis",
      revision: 1,
      aborted: false,
      replies: [
        OK,
        bulk("v"),
        errorReply("BAD_REQUEST", "unknown command 'nosuch', with args beginning with: 'a' 'b' "),
      ],
    });
    const arity = sm.apply({ op: "redis", nowMs: 2, argvs: [argv("get")] });
    assert.deepEqual(arity, {
      kind: "redis",
      revision: 1,
      aborted: false,
      replies: [errorReply("BAD_REQUEST", "wrong number of arguments for 'get' command")],
    });
  });

  it("abort when a watched key's revision moved, and run when it did not", () => {
    const sm = new MapStateMachine();
    sm.apply({ op: "redis", nowMs: 1, argvs: [argv("SET k v1")] });
    const stale = sm.apply({
      op: "redis",
      nowMs: 2,
      argvs: [argv("SET k v2")],
      watches: [{ key: b("k"), modRevision: 0 }],
    });
    assert.deepEqual(stale, { kind: "redis", revision: 1, aborted: true, replies: [] });
    const fresh = sm.apply({
      op: "redis",
      nowMs: 3,
      argvs: [argv("SET k v3")],
      watches: [{ key: b("k"), modRevision: 1 }],
    });
    assert.deepEqual(fresh, { kind: "redis", revision: 2, aborted: false, replies: [OK] });
  });

  it("skip readonly commands where no client waits for the replies, reaching the same state", () => {
    const leader = new MapStateMachine();
    const follower = new MapStateMachine();
    const setup: Command = { op: "redis", nowMs: 1, argvs: [argv("HSET h a 1 b 2 c 3")] };
    leader.apply(setup);
    follower.apply(setup);
    const entry: Command = {
      op: "redis",
      nowMs: 2,
      argvs: [argv("HRANDFIELD h"), argv("GET k"), argv("SET k v"), argv("INCR n"), argv("GET k")],
    };
    const answered = applyCommand(leader, entry, leader.state, true);
    const skipped = applyCommand(follower, entry, follower.state, false);
    assert.deepEqual(skipped.mutations, answered.mutations);
    assert.deepEqual(skipped.state, answered.state);
    assert.ok(answered.result.kind === "redis" && skipped.result.kind === "redis");
    assert.equal(answered.result.replies[0]?.kind, "bulk");
    assert.deepEqual(answered.result.replies.slice(1), [NULL, OK, integer(1), bulk("v")]);
    assert.deepEqual(skipped.result.replies, [NULL, NULL, OK, integer(1), NULL]);
  });
});
