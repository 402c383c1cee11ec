/**
 * End-to-end: one connection to a follower keeps sending APPENDs a millisecond apart, without waiting for replies,
 * while the leader is killed (kill -9). Its runs are in flight together (node/write-order.ts), so this is where a
 * retry could reorder them or apply one twice. Afterwards the value must list the appended tokens:
 * - each at most once, in the order sent (no retry put an earlier write after a later one);
 * - every acknowledged token, exactly where its reply said (the reply is the length after it: the appends before it
 *   in the value are exactly the ones applied before it);
 * - no token whose APPEND answered TRYAGAIN (certainly not applied); an UNCERTAIN or timed-out one may be there.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Redis } from "ioredis";
import { connectIoredis, disconnectAll } from "./redis/ioredis-client.js";
import { ProcessCluster, sleep } from "./support/process-cluster.js";

async function leaderSeenBy(cluster: ProcessCluster, id: number): Promise<number> {
  const response = await fetch(`${cluster.url(id)}/readyz`, { signal: AbortSignal.timeout(1000) });
  return ((await response.json()) as { leader: number }).leader;
}

describe("pipelined writes through a follower while the leader is killed", { timeout: 120_000 }, () => {
  let cluster: ProcessCluster;
  const clients: Redis[] = [];
  before(async () => {
    // Runs in flight together (the default sends one at a time): where a retry could reorder them.
    cluster = await ProcessCluster.start({ nodes: 3, extraArgs: ["--write-runs-in-flight", "16"] });
  });
  after(async () => {
    disconnectAll(clients);
    await cluster?.stop();
  });

  test("apply at most once each, in the order sent, acknowledged ones where their replies said", async () => {
    let leader = 0;
    for (let attempt = 0; attempt < 100 && leader === 0; attempt++) {
      leader = await leaderSeenBy(cluster, 1).catch(() => 0);
      if (leader === 0) await sleep(100);
    }
    assert.ok(leader > 0, "a leader is elected");
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    const client = connectIoredis(cluster.respPort(follower), { maxRetriesPerRequest: 0 });
    clients.push(client);
    await client.ping();

    const count = 600;
    const tokens = Array.from({ length: count }, (_, i) => `${i},`);
    const replies: Promise<number | Error>[] = [];
    for (let i = 0; i < count; i++) {
      replies.push(client.append("order:failover", tokens[i] as string).catch((error: Error) => error));
      if (i === 150) void cluster.kill(leader);
      await sleep(1);
    }
    const settled = await Promise.all(replies);

    let value: string | null = null;
    for (let attempt = 0; attempt < 100 && value === null; attempt++) {
      value = await client.get("order:failover").catch(() => null);
      if (value === null) await sleep(100);
    }
    assert.ok(value !== null, "the value reads back once a new leader serves");
    const applied = value
      .split(",")
      .filter((token) => token !== "")
      .map(Number);

    assert.equal(new Set(applied).size, applied.length, "no token applied twice");
    for (let k = 1; k < applied.length; k++) {
      assert.ok((applied[k] as number) > (applied[k - 1] as number), `tokens in the order sent: ${applied.join(",")}`);
    }
    const position = new Map(applied.map((token, k) => [token, k]));
    let acknowledged = 0;
    let notApplied = 0;
    settled.forEach((reply, i) => {
      if (typeof reply === "number") {
        acknowledged++;
        const at = position.get(i);
        assert.ok(at !== undefined, `acknowledged APPEND ${i} is in the value`);
        const before = applied.slice(0, at + 1).reduce((sum, token) => sum + String(token).length + 1, 0);
        assert.equal(reply, before, `APPEND ${i} answered the length after exactly the appends before it`);
      } else if (reply.message.startsWith("TRYAGAIN")) {
        notApplied++;
        assert.ok(!position.has(i), `APPEND ${i} answered ${reply.message} yet it was applied`);
      }
    });
    assert.ok(acknowledged >= 100, `only ${acknowledged} of ${count} APPENDs acknowledged`);
    const failed = settled.length - acknowledged;
    process.stdout.write(
      `# ${acknowledged} acknowledged, ${notApplied} TRYAGAIN, ${failed - notApplied} other errors, ${applied.length} applied\n`,
    );
  });
});
