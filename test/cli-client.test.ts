/**
 * The TypeScript client the CLI is built on (src/client/), against a real 3-node cluster: failover between
 * endpoints, conditional writes, transactions, and watches as async iterators.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ShoalClient } from "../src/client/shoal-client.js";
import type { WatchEvent } from "../src/client/types.js";
import { ShoalError } from "../src/lib/errors.js";
import { freePort, ProcessCluster } from "./support/process-cluster.js";

const decoder = new TextDecoder();

describe("ShoalClient against a 3-node cluster", () => {
  let cluster: ProcessCluster;
  let client: ShoalClient;

  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 3 });
    await cluster.waitForLeader();
    // The first endpoint is dead: every call must move on to the live one, and learn the other members.
    client = new ShoalClient({ endpoints: [`127.0.0.1:${await freePort()}`, cluster.url(2)] });
  });
  after(() => cluster.stop());

  test("get, put with conditions, delete; the cluster call teaches the client every member", async () => {
    const { revision } = await client.put("client/a", "1");
    const kv = await client.get("client/a");
    assert.equal(decoder.decode(kv?.value), "1");
    assert.equal(kv?.modRevision, revision);
    assert.equal(kv?.version, 1);
    await assert.rejects(client.put("client/a", "2", { ifModRevision: revision + 1 }), (error: unknown) => {
      assert.ok(error instanceof ShoalError);
      assert.equal(error.code, "CONFLICT");
      assert.equal(error.detail?.modRevision, revision);
      return true;
    });
    await assert.rejects(client.put("client/a", "2", { ifAbsent: true }), /Precondition failed/);
    await client.put("client/a", "2", { ifModRevision: revision });
    assert.equal(decoder.decode((await client.get("client/a"))?.value), "2");
    assert.ok((await client.delete("client/a")) !== undefined);
    assert.equal(await client.delete("client/a"), undefined);
    assert.equal(await client.get("client/a"), undefined);

    const status = await client.cluster();
    assert.equal(status.members.length, 3);
    assert.equal(status.endpoint, cluster.url(2));
    for (const id of [1, 3]) assert.ok(client.endpoints().includes(cluster.url(id)), `learnt node ${id}`);
  });

  test("a transaction applies all or nothing", async () => {
    await client.put("client/balance", "10");
    const ok = await client.txn({
      compare: [{ key: "client/balance", target: "value", op: "==", value: "10" }],
      success: [
        { op: "put", key: "client/balance", value: "7" },
        { op: "put", key: "client/log", value: "-3" },
      ],
      failure: [{ op: "get", key: "client/balance" }],
    });
    assert.equal(ok.succeeded, true);
    const failed = await client.txn({
      compare: [{ key: "client/balance", target: "value", op: "==", value: "10" }],
      success: [{ op: "delete", key: "client/balance" }],
      failure: [{ op: "get", key: "client/balance" }],
    });
    assert.equal(failed.succeeded, false);
    assert.deepEqual(
      failed.responses.map((r) => (r.op === "get" ? r.kv?.value : undefined)),
      ["7"],
    );
    assert.equal(decoder.decode((await client.get("client/log"))?.value), "-3");
  });

  test("a watch iterates events from a revision, including a transaction's several keys, and stops on abort", async () => {
    const { revision: from } = await client.put("client/w/1", "a");
    await client.txn({
      success: [
        { op: "put", key: "client/w/2", value: "b" },
        { op: "put", key: "client/w/3", value: "c" },
      ],
    });
    await client.delete("client/w/1");
    await client.put("client/other", "not watched");
    const stop = new AbortController();
    const seen: WatchEvent[] = [];
    for await (const event of client.watch({ prefix: "client/w/", fromRevision: from, signal: stop.signal })) {
      seen.push(event);
      if (seen.length === 4) stop.abort();
    }
    assert.deepEqual(
      seen.map((e) => `${e.type} ${e.key} ${e.value ?? ""}`.trim()),
      ["put client/w/1 a", "put client/w/2 b", "put client/w/3 c", "delete client/w/1"],
    );
    assert.equal(seen[1]?.revision, seen[2]?.revision, "one transaction, one revision");
  });
});
