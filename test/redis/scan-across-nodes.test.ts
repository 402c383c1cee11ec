/**
 * SCAN cursors are valid on every node of a real 3-node cluster: a full SCAN that alternates between nodes
 * returns every key, and a cursor no node can resolve answers "invalid cursor" — never a wrong position, which
 * once silently skipped tens of thousands of keys.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { RespValue } from "../../src/resp/resp-value.js";
import { RawClient, show } from "../../src/resp/server/testing/raw-client.js";
import { ProcessCluster } from "../support/process-cluster.js";

const KEYS = 3000;

describe("SCAN across nodes", { timeout: 120_000 }, () => {
  let cluster: ProcessCluster;
  const clients = new Map<number, RawClient>();

  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 3 });
    await cluster.waitForLeader();
    for (const id of [1, 2, 3]) clients.set(id, await RawClient.connect(cluster.respPort(id)));
    const writer = clients.get(1) as RawClient;
    for (let from = 0; from < KEYS; from += 500) {
      const pairs = Array.from({ length: 500 }, (_, i) => [`scan:${(from + i).toString().padStart(5, "0")}`, "v"]);
      assert.equal(show(await writer.call("MSET", ...pairs.flat())), "+OK");
    }
  });
  after(async () => {
    for (const client of clients.values()) client.close();
    await cluster?.stop();
  });

  /** One command on node `id`, with room for an election on a loaded machine. */
  async function reply(id: number, ...args: string[]): Promise<RespValue> {
    const client = clients.get(id) as RawClient;
    client.send(args);
    return client.readOne(20_000);
  }

  async function call(id: number, ...args: string[]): Promise<string> {
    return show(await reply(id, ...args));
  }

  async function scan(id: number, cursor: string, count: number): Promise<{ next: string; keys: string[] }> {
    const page = await reply(id, "SCAN", cursor, "MATCH", "scan:*", "COUNT", String(count));
    if (page.type !== "array") throw new Error(`SCAN on node ${id} answered ${show(page)}`);
    const [next, keys] = page.value as [RespValue, RespValue];
    if (next.type !== "bulk" || keys.type !== "array") throw new Error(show(page));
    return {
      next: Buffer.from(next.value).toString(),
      keys: keys.value.map((key) => (key.type === "bulk" ? Buffer.from(key.value).toString() : show(key))),
    };
  }

  test("a full SCAN alternating between nodes returns every key exactly once", async () => {
    for (const order of [
      [1, 2],
      [2, 3, 1],
    ]) {
      const seen: string[] = [];
      let cursor = "0";
      let call = 0;
      do {
        const page = await scan(order[call % order.length] as number, cursor, 97);
        seen.push(...page.keys);
        cursor = page.next;
        call++;
      } while (cursor !== "0" && call < 1000);
      assert.equal(cursor, "0", `unfinished after ${call} calls`);
      assert.equal(seen.length, KEYS, `keys returned in order ${order}`);
      assert.equal(new Set(seen).size, KEYS);
    }
  });

  test("a cursor no node can resolve answers invalid cursor, on every node", async () => {
    // A follower issues a cursor, then goes down: nobody can say where it stood. (A follower, so the others keep
    // their leader and answer at once; losing the leader is the failover tests' business.)
    const leader = await cluster.waitForLeader();
    const victim = [1, 2, 3].find((id) => id !== leader) as number;
    const others = [1, 2, 3].filter((id) => id !== victim);
    const { next } = await scan(victim, "0", 10);
    assert.notEqual(next, "0");
    await cluster.kill(victim);
    for (const id of others) assert.equal(await call(id, "SCAN", next), "-ERR invalid cursor");
    // A cursor no node issued: one of the leader's never handed out, and one naming no member.
    const forged = ((BigInt(leader) << 42n) | 12345n).toString();
    const nobody = ((77n << 42n) | 1n).toString();
    for (const cursor of [forged, nobody])
      assert.equal(await call(leader, "SCAN", cursor), "-ERR invalid cursor", cursor);
  });
});
