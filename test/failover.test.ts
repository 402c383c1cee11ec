/**
 * End-to-end: the leader of a real 3-node cluster is paused (SIGSTOP) while clients use a follower. The
 * follower's writes and reads that went to the paused leader must not wait out their timeout (5 s): once the
 * follower learns of the new leader, a read is retried there, and a write answers at once — applied, or with the
 * "outcome unknown" error (never retried behind the client's back, which could apply it twice).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { nodeDefaults } from "../src/node/node-options.js";
import { RespClient } from "./chaos/resp-client.js";
import { getKey, ProcessCluster, putKey, sleep } from "./support/process-cluster.js";

const REQUEST_TIMEOUT_MS = nodeDefaults.requestTimeoutMs;

/** How a request ended: "ok" or its error code, and how long it took. */
interface Ended {
  readonly outcome: string;
  readonly detail: string;
  readonly elapsedMs: number;
}

async function timed(request: () => Promise<{ outcome: string; detail: string }>): Promise<Ended> {
  const startMs = performance.now();
  const { outcome, detail } = await request();
  return { outcome, detail, elapsedMs: performance.now() - startMs };
}

async function httpPut(url: string, key: string, value: string): Promise<{ outcome: string; detail: string }> {
  const response = await fetch(`${url}/v1/kv/${key}`, { method: "PUT", body: value });
  const body = await response.text();
  if (response.status === 200) return { outcome: "ok", detail: body };
  return { outcome: (JSON.parse(body) as { code: string }).code, detail: `${response.status} ${body}` };
}

async function respSet(client: RespClient, key: string, value: string): Promise<{ outcome: string; detail: string }> {
  const reply = await client.command(["SET", key, value]);
  if (reply.type === "simple" && reply.value === "OK") return { outcome: "ok", detail: "+OK" };
  if (reply.type !== "error") return { outcome: "unexpected", detail: JSON.stringify(reply) };
  // The RESP spelling of UNKNOWN_OUTCOME is its own error word, so clients can tell it from a plain failure.
  return { outcome: reply.message.startsWith("UNCERTAIN ") ? "UNKNOWN_OUTCOME" : "error", detail: reply.message };
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadlineMs = performance.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (performance.now() > deadlineMs) throw new Error(`Timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function leaderSeenBy(cluster: ProcessCluster, id: number): Promise<number> {
  const response = await fetch(`${cluster.url(id)}/readyz`, { signal: AbortSignal.timeout(1000) });
  return ((await response.json()) as { leader: number }).leader;
}

describe("a paused leader", { timeout: 120_000 }, () => {
  let cluster: ProcessCluster;
  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 3 });
  });
  after(async () => cluster?.stop());

  test("does not hold up a follower's writes and reads for their timeout, and steps down when resumed", async () => {
    const leader = await cluster.waitForLeader();
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    const followerUrl = cluster.url(follower);
    assert.equal(await putKey(followerUrl, "before", "1"), 200);
    const resp = new RespClient(follower, cluster.respPort(follower), 30_000);
    assert.equal((await resp.command(["PING"])).type, "simple");

    cluster.signal(leader, "SIGSTOP");
    let resumed = false;
    try {
      // Sent right away, while the follower still takes the paused node for the leader: forwarded to it.
      const writes = [
        timed(() => respSet(resp, "during-resp", "r")),
        timed(() => httpPut(followerUrl, "during-http", "h")),
      ];
      const read = timed(async () => {
        const { status, value } = await getKey(followerUrl, "before");
        return { outcome: status === 200 ? "ok" : String(status), detail: value };
      });
      // A client of the paused node itself is stuck until it resumes (expected); it must then settle cleanly.
      const stuckOnLeader = httpPut(cluster.url(leader), "on-paused-leader", "p").catch((error: unknown) => ({
        outcome: "no answer",
        detail: String(error),
      }));

      for (const write of await Promise.all(writes)) {
        assert.ok(
          write.outcome === "ok" || write.outcome === "UNKNOWN_OUTCOME",
          `a write through the follower ended with ${write.outcome}: ${write.detail}`,
        );
        assert.ok(write.elapsedMs < REQUEST_TIMEOUT_MS, `a write took ${write.elapsedMs} ms: ${write.detail}`);
        if (write.outcome === "UNKNOWN_OUTCOME") assert.match(write.detail, /may or may not have been applied/);
      }
      const readEnded = await read;
      assert.equal(readEnded.outcome, "ok", readEnded.detail);
      assert.equal(readEnded.detail, "1");
      assert.ok(readEnded.elapsedMs < REQUEST_TIMEOUT_MS, `the read took ${readEnded.elapsedMs} ms`);

      const newLeader = await leaderSeenBy(cluster, follower);
      assert.ok(newLeader !== 0 && newLeader !== leader, `the follower follows ${newLeader}`);
      assert.equal(await putKey(followerUrl, "after", "a"), 200);
      assert.equal((await respSet(resp, "after-resp", "a")).outcome, "ok");

      cluster.signal(leader, "SIGCONT");
      resumed = true;
      // Resumed, the old leader learns the higher term at once and follows the new leader.
      await waitFor("the resumed node to follow the new leader", async () => {
        return (await leaderSeenBy(cluster, leader)) === newLeader;
      });
      const settled = await stuckOnLeader;
      assert.ok(
        settled.outcome === "ok" || settled.outcome === "UNKNOWN_OUTCOME",
        `the paused node's own client got ${settled.outcome}: ${settled.detail}`,
      );
      assert.equal((await getKey(cluster.url(leader), "after")).value, "a");
    } finally {
      if (!resumed) cluster.signal(leader, "SIGCONT");
      resp.close();
    }
  });
});
