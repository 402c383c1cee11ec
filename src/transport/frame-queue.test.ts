import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FrameQueue, type OutboundFrame } from "./frame-queue.js";

function frame(label: string, bytes = 10): OutboundFrame {
  const payload = Buffer.alloc(bytes, 0);
  payload.write(label);
  return { payload, isMessage: true, requestId: 0 };
}

function labels(frames: readonly OutboundFrame[]): string[] {
  return frames.map((item) => item.payload.toString("utf8").replace(/\0+$/, ""));
}

describe("FrameQueue", () => {
  it("refuses frames beyond the count bound and the byte bound", () => {
    const queue = new FrameQueue({ countMax: 3, bytesMax: 25 }, { countMax: 1, bytesMax: 100 });
    assert.ok(queue.offer(frame("a"), "ordinary"));
    assert.ok(queue.offer(frame("b"), "ordinary"));
    assert.ok(!queue.offer(frame("c", 6), "ordinary"), "byte bound");
    assert.ok(queue.offer(frame("d", 5), "ordinary"));
    assert.ok(!queue.offer(frame("e", 1), "ordinary"), "count bound");
    assert.equal(queue.count, 3);
    assert.equal(queue.bytes, 25);
    assert.ok(queue.offer(frame("bulk", 100), "bulk"), "lanes are bounded separately");
    assert.ok(!queue.offer(frame("bulk2", 1), "bulk"));
  });

  it("batches ordinary frames ahead of bulk frames, within the byte budget", () => {
    const queue = new FrameQueue({ countMax: 100, bytesMax: 10_000 }, { countMax: 100, bytesMax: 10_000 });
    queue.offer(frame("s1", 1000), "bulk");
    queue.offer(frame("s2", 1000), "bulk");
    queue.offer(frame("h1"), "ordinary");
    queue.offer(frame("h2"), "ordinary");
    assert.deepEqual(labels(queue.takeBatch(1500)), ["h1", "h2", "s1"]);
    queue.offer(frame("h3"), "ordinary");
    assert.deepEqual(labels(queue.takeBatch(1500)), ["h3", "s2"]);
    assert.equal(queue.count, 0);
    assert.equal(queue.bytes, 0);
  });

  it("always takes at least one frame, even one larger than the budget", () => {
    const queue = new FrameQueue({ countMax: 10, bytesMax: 10_000 }, { countMax: 10, bytesMax: 10_000 });
    queue.offer(frame("big", 5000), "bulk");
    queue.offer(frame("big2", 5000), "bulk");
    assert.deepEqual(labels(queue.takeBatch(100)), ["big"]);
  });

  it("keeps FIFO order across many batches and compactions", () => {
    const queue = new FrameQueue({ countMax: 5000, bytesMax: 1 << 20 }, { countMax: 1, bytesMax: 1 });
    const taken: string[] = [];
    let next = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 300; i++) queue.offer(frame(String(next++)), "ordinary");
      taken.push(...labels(queue.takeBatch(2000)));
    }
    while (queue.count > 0) taken.push(...labels(queue.takeBatch(2000)));
    assert.deepEqual(
      taken,
      Array.from({ length: next }, (_, i) => String(i)),
    );
  });

  it("removes requests by predicate and keeps the byte count exact", () => {
    const queue = new FrameQueue({ countMax: 10, bytesMax: 1000 }, { countMax: 1, bytesMax: 100 });
    queue.offer(frame("m1"), "ordinary");
    queue.offer({ payload: Buffer.alloc(30), isMessage: false, requestId: 9 }, "ordinary");
    queue.offer(frame("m2"), "ordinary");
    assert.equal(
      queue.removeWhere((item) => item.requestId === 9),
      1,
    );
    assert.equal(queue.bytes, 20);
    assert.deepEqual(labels(queue.takeBatch(1000)), ["m1", "m2"]);
  });
});
