import assert from "node:assert/strict";
import { test } from "node:test";
import type { Clock, TimerHandle } from "../io/clock.js";
import type { Message } from "../raft/types.js";
import { LIVENESS_GROUP_ID, NodeLiveness } from "./node-liveness.js";

/** A clock that moves only when told, firing its one interval timer on the way. */
class ManualClock implements Clock {
  nowMs = 0;
  #interval: { callback: () => void; everyMs: number; nextMs: number } | undefined;
  now(): number {
    return this.nowMs;
  }
  advance(ms: number): void {
    const until = this.nowMs + ms;
    while (this.#interval !== undefined && this.#interval.nextMs <= until) {
      this.nowMs = this.#interval.nextMs;
      this.#interval.nextMs += this.#interval.everyMs;
      this.#interval.callback();
    }
    this.nowMs = until;
  }
  setInterval(callback: () => void, everyMs: number): TimerHandle {
    this.#interval = { callback, everyMs, nextMs: this.nowMs + everyMs };
    return {};
  }
  clearInterval(): void {
    this.#interval = undefined;
  }
  setTimeout(): TimerHandle {
    throw new Error("not used");
  }
  clearTimeout(): void {}
  setImmediate(): void {}
  nextTurn(): Promise<void> {
    return Promise.resolve();
  }
}

test("a peer is live while heard from within the silence bound; each peer is pinged every interval", () => {
  const clock = new ManualClock();
  const sent: Message[] = [];
  const liveness = new NodeLiveness({
    selfId: 1,
    peerIds: [2, 3],
    clock,
    pingIntervalMs: 50,
    silentAfterMs: 300,
    send: (messages) => sent.push(...messages),
  });
  liveness.start();
  assert.deepEqual(
    sent.map((m) => [m.to, m.groupId, m.type]),
    [
      [2, LIVENESS_GROUP_ID, "heartbeatResponse"],
      [3, LIVENESS_GROUP_ID, "heartbeatResponse"],
    ],
    "a ping to each peer at start",
  );
  clock.advance(250);
  assert.equal(sent.length, 2 + 5 * 2, "and every 50 ms");
  assert.ok(liveness.isLive(2) && liveness.isLive(3), "every peer gets the bound's grace at start");
  liveness.heard(2);
  clock.advance(100);
  assert.equal(liveness.isLive(2), true, "heard 100 ms ago");
  assert.equal(liveness.isLive(3), false, "not heard for 350 ms");
  assert.equal(liveness.isLive(1), true, "this node");
  assert.equal(liveness.isLive(9), false, "not a member");
  liveness.heard(9); // a stranger is not tracked
  assert.equal(liveness.isLive(9), false);
  liveness.stop();
  clock.advance(1000);
  assert.equal(sent.length, 2 + 7 * 2, "no pings after stop");
});
