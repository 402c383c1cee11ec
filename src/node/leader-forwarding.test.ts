import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import type { CommandResult } from "../commands/command.js";
import { ShoalError } from "../lib/errors.js";
import { type AskPeer, LeaderForwarding } from "./leader-forwarding.js";

const OK: CommandResult = { kind: "put", revision: 1, prev: undefined };

/** A follower of leader 2 whose first forward is refused "not leader" (certainly not applied), then accepted. */
function follower() {
  const asks: { ordered: boolean | undefined }[] = [];
  const ask: AskPeer = async (_to, _request, _timeoutMs, _abandon, ordered) => {
    asks.push({ ordered });
    if (asks.length === 1) throw new ShoalError("NOT_LEADER", "node 2 is not the leader any more");
    return OK;
  };
  const forwarding = new LeaderForwarding({
    log: {
      status: () => ({ role: "follower", leaderId: 2 }),
      propose: () => Promise.reject(new Error("a follower does not propose")),
      readBarrier: () => Promise.resolve(),
    },
    ask,
    requestTimeoutMs: 2_000,
    logger: pino({ level: "silent" }),
  });
  return { forwarding, asks };
}

/** A follower that knows no leader until `follow(id)`; records the first byte of each write it forwards. */
function followerWithoutLeader() {
  const sent: number[] = [];
  let leaderId = 0;
  const forwarding = new LeaderForwarding({
    log: {
      status: () => ({ role: "follower", leaderId }),
      propose: () => Promise.reject(new Error("a follower does not propose")),
      readBarrier: () => Promise.resolve(),
    },
    ask: async (_to, request) => {
      sent.push((request as { data: Uint8Array }).data[0] as number);
      return OK;
    },
    requestTimeoutMs: 2_000,
    logger: pino({ level: "silent" }),
  });
  return {
    forwarding,
    sent,
    follow: (id: number) => {
      leaderId = id;
    },
  };
}

describe("LeaderForwarding", () => {
  it("retries a forwarded write that certainly did not apply, on the ordered channel", async () => {
    const { forwarding, asks } = follower();
    assert.deepEqual(await forwarding.submit(new Uint8Array([1])), OK);
    assert.equal(asks.length, 2);
    assert.ok(
      asks.every((each) => each.ordered === true),
      "forwarded writes go on the ordered (data) channel",
    );
  });

  it("answers the refusal instead of retrying once mayResend says a later write of its client was sent", async () => {
    const { forwarding, asks } = follower();
    await assert.rejects(
      forwarding.submit(new Uint8Array([1]), () => false),
      (error: unknown) => error instanceof ShoalError && error.code === "NOT_LEADER",
    );
    assert.equal(asks.length, 1);
  });

  it("checks again after the pause before a retry: a later write may have been sent meanwhile", async () => {
    const { forwarding, asks } = follower();
    let laterSent = false;
    setTimeout(() => {
      laterSent = true; // while the retry sleeps (its first pause is 10 ms)
    }, 1);
    await assert.rejects(
      forwarding.submit(new Uint8Array([1]), () => !laterSent),
      /not the leader/,
    );
    assert.equal(asks.length, 1);
  });

  it("holds writes while no leader is known and sends them in the order they came once one is", async () => {
    const { forwarding, sent, follow } = followerWithoutLeader();
    // Never sent while no leader is known, so not a resend: a write a later one overtook still goes, in order.
    const writes = [1, 2, 3].map((n) => forwarding.submit(new Uint8Array([n]), () => false));
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(sent, [], "nothing is sent before a leader is known");
    follow(2);
    forwarding.leadershipMoved(2, 7);
    assert.deepEqual(await Promise.all(writes), [OK, OK, OK]);
    assert.deepEqual(sent, [1, 2, 3]);
  });

  it("finds a leader that became known without a reported move (lost and found between two Readies)", async () => {
    const { forwarding, sent, follow } = followerWithoutLeader();
    const writes = [1, 2].map((n) => forwarding.submit(new Uint8Array([n])));
    await new Promise((resolve) => setTimeout(resolve, 20));
    follow(3); // leadershipMoved is never called
    const startedMs = Date.now();
    assert.deepEqual(await Promise.all(writes), [OK, OK]);
    assert.ok(Date.now() - startedMs < 1_000, "sent once the leader is seen, not at the deadline");
    assert.deepEqual(sent, [1, 2]);
  });

  it("sends a write that comes once a leader is known after the writes still in line, not before them", async () => {
    const { forwarding, sent, follow } = followerWithoutLeader();
    const waiting = [1, 2].map((n) => forwarding.submit(new Uint8Array([n])));
    await new Promise((resolve) => setTimeout(resolve, 2));
    follow(4); // known to the log, not yet reported (leadershipMoved) nor polled
    const late = forwarding.submit(new Uint8Array([3]));
    assert.deepEqual(await Promise.all([...waiting, late]), [OK, OK, OK]);
    assert.deepEqual(sent, [1, 2, 3]);
  });
});
