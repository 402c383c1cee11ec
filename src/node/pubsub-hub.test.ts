import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NodeId } from "../raft/types.js";
import { type PubSubDelivery, PubSubHub, type PubSubRequest } from "./pubsub-hub.js";

const b = (text: string): Uint8Array => new TextEncoder().encode(text);
const t = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes);

/** Hubs wired to each other in memory; `down` peers never answer (like a dead node: the request times out). */
function cluster(size: number, down: Set<NodeId> = new Set()): PubSubHub[] {
  const hubs: PubSubHub[] = [];
  for (let id = 1; id <= size; id++) {
    hubs.push(
      new PubSubHub(
        {
          peerIds: () => Array.from({ length: size }, (_, i) => i + 1).filter((peer) => peer !== id),
          request: async (to: NodeId, payload: PubSubRequest) => {
            if (down.has(to)) throw new Error("timeout");
            return (hubs[to - 1] as PubSubHub).answer(structuredClone(payload));
          },
        },
        100,
      ),
    );
  }
  return hubs;
}

function inbox(): { received: string[]; deliver(message: PubSubDelivery): void } {
  const received: string[] = [];
  return {
    received,
    deliver: (m) => received.push(`${t(m.pattern) ?? "-"} ${t(m.channel)} ${t(m.message)}`),
  };
}

describe("PubSubHub", () => {
  it("delivers a message published on one node to channel and pattern subscribers on every node", async () => {
    const [one, two, three] = cluster(3) as [PubSubHub, PubSubHub, PubSubHub];
    const a = inbox();
    const c = inbox();
    one.subscribe(a, b("news"));
    three.psubscribe(c, b("n*"));
    three.subscribe(c, b("news"));
    assert.equal(await two.publish(b("news"), b("hello")), 3);
    assert.deepEqual(a.received, ["- news hello"]);
    assert.deepEqual(c.received.sort(), ["- news hello", "n* news hello"]);
    assert.equal(await two.publish(b("other"), b("x")), 0);
    assert.deepEqual((await two.channels(undefined)).map(t), ["news"]);
    assert.deepEqual(await one.numsub([b("news"), b("none")]), [2, 0]);
    assert.equal(await one.numpat(), 1);
    // The same pattern on two nodes is still one pattern.
    two.psubscribe(inbox(), b("n*"));
    two.psubscribe(inbox(), b("x*"));
    assert.equal(await one.numpat(), 2);
  });

  it("counts only the nodes that answered, and forgets a dropped subscriber everywhere", async () => {
    const [one, two, three] = cluster(3, new Set([3])) as [PubSubHub, PubSubHub, PubSubHub];
    const a = inbox();
    const c = inbox();
    one.subscribe(a, b("ch"));
    three.subscribe(c, b("ch"));
    assert.equal(await two.publish(b("ch"), b("m")), 1);
    assert.deepEqual(c.received, []);
    one.drop(a);
    assert.equal(await two.publish(b("ch"), b("m2")), 0);
    assert.deepEqual((await one.channels(undefined)).map(t), []);
  });
});
