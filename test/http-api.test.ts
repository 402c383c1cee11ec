/**
 * The HTTP API end to end against a real 3-node cluster (child processes, real TCP, WAL and LMDB): compare-and-
 * swap, transactions, ranges, watches across a leader's kill -9, /metrics as Prometheus text, readiness, and
 * JSON 4xx answers to bad input of every kind.
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { inParallel, ProcessCluster, sleep } from "./support/process-cluster.js";

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

describe("the HTTP API on a 3-node cluster", { timeout: 120_000 }, () => {
  let cluster: ProcessCluster;
  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 3 });
    await cluster.waitForLeader();
  });
  after(async () => cluster?.stop());

  const follower = async (): Promise<number> => {
    const leader = await cluster.waitForLeader();
    return [1, 2, 3].find((id) => id !== leader) as number;
  };

  test("compare-and-swap: If-None-Match and If-Match answer 412 CONFLICT with the current mod revision", async () => {
    const url = `${cluster.url(await follower())}/v1/kv/cas-key`;
    const created = await put(url, "v1", { "if-none-match": "*" });
    assert.equal(created.status, 200);
    const again = await put(url, "v2", { "if-none-match": "*" });
    assert.equal(again.status, 412);
    assert.deepEqual(again.body, {
      code: "CONFLICT",
      message: `Precondition failed: the key's mod revision is ${created.body.revision}`,
      modRevision: created.body.revision,
    });
    assert.equal((await put(url, "v2", { "if-match": "0" })).status, 412, "0 means absent");
    const read = await fetch(url);
    assert.equal(await read.text(), "v1");
    const etag = read.headers.get("etag") ?? "";
    assert.equal(etag, `"${created.body.revision}"`);
    assert.equal(read.headers.get("x-shoal-mod-revision"), String(created.body.revision));
    const swapped = await put(url, "v2", { "if-match": etag });
    assert.equal(swapped.status, 200);
    const stale = await put(url, "v3", { "if-match": String(created.body.revision) });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.modRevision, swapped.body.revision);
  });

  test("compare-and-swap increments from every node lose no update", async () => {
    const key = "cas-counter";
    assert.equal((await put(`${cluster.url(1)}/v1/kv/${key}`, "0")).status, 200);
    let conflicts = 0;
    await Promise.all(
      [1, 2, 3].map(async (id) => {
        const url = `${cluster.url(id)}/v1/kv/${key}`;
        for (let done = 0; done < 5; ) {
          const read = await fetch(url);
          const value = Number(await read.text());
          const answer = await put(url, String(value + 1), { "if-match": read.headers.get("etag") ?? "" });
          if (answer.status === 200) done++;
          else if (answer.status === 412) conflicts++;
          else assert.fail(`unexpected ${answer.status}`);
        }
      }),
    );
    assert.equal(await (await fetch(`${cluster.url(2)}/v1/kv/${key}`)).text(), "15");
    assert.ok(conflicts > 0, "concurrent swaps did conflict");
  });

  test("a transaction applies all of its branch or nothing, at one revision", async () => {
    const base = cluster.url(await follower());
    await put(`${base}/v1/kv/txn/a`, "1");
    const b = await put(`${base}/v1/kv/txn/b`, "1");
    await put(`${base}/v1/kv/txn/c`, "1");
    const transfer = {
      compare: [
        { key: "txn/a", target: "value", op: "==", value: "1" },
        { key: "txn/b", target: "modRevision", op: "==", value: b.body.revision },
        { key: "txn/new", target: "version", op: "==", value: 0 },
      ],
      success: [
        { op: "put", key: "txn/a", value: "2" },
        { op: "put", key: "txn/b", value: "2" },
        { op: "put", key: "txn/new", value: "fresh", ttl: 3600 },
        { op: "delete", key: "txn/c" },
        { op: "get", key: "txn/a" },
      ],
      failure: [{ op: "get", key: "txn/a" }],
    };
    const first = await postJson(`${base}/v1/txn`, transfer);
    assert.equal(first.status, 200);
    assert.equal(first.body.succeeded, true);
    const revision = first.body.revision as number;
    assert.deepEqual(
      first.body.responses.map((r: { op: string }) => r.op),
      ["put", "put", "put", "delete", "get"],
    );
    assert.equal(first.body.responses[4].kv.value, "2", "a get sees the txn's own earlier put");
    const after = await getJson(`${base}/v1/kv?prefix=txn/`);
    assert.deepEqual(
      after.body.kvs.map((kv: { key: string; value: string; modRevision: number }) => [
        kv.key,
        kv.value,
        kv.modRevision,
      ]),
      [
        ["txn/a", "2", revision],
        ["txn/b", "2", revision],
        ["txn/new", "fresh", revision],
      ],
    );
    // Run again: the compares now fail, so only the failure branch (a get) runs and nothing changes.
    const second = await postJson(`${base}/v1/txn`, transfer);
    assert.equal(second.body.succeeded, false);
    assert.equal(second.body.revision, revision);
    assert.deepEqual(second.body.responses, [{ op: "get", kv: after.body.kvs[0] }]);
    // An invalid transaction (a branch writing a key twice) is refused whole.
    const twice = await postJson(`${base}/v1/txn`, {
      success: [
        { op: "put", key: "txn/a", value: "9" },
        { op: "put", key: "txn/a", value: "10" },
      ],
    });
    assert.equal(twice.status, 400);
    assert.deepEqual((await getJson(`${base}/v1/kv?prefix=txn/`)).body.kvs, after.body.kvs);
  });

  test("ranges page through a prefix in key order, linearizably from a follower", async () => {
    const leaderUrl = cluster.url(await cluster.waitForLeader());
    await inParallel(25, 8, async (i) => {
      assert.equal((await put(`${leaderUrl}/v1/kv/range/${String(i).padStart(2, "0")}`, `v${i}`)).status, 200);
    });
    await put(`${leaderUrl}/v1/kv/rangeX`, "not under the prefix");
    const base = cluster.url(await follower());
    const keys: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const query = new URLSearchParams({ prefix: "range/", limit: "10", ...(after === undefined ? {} : { after }) });
      const page = await getJson(`${base}/v1/kv?${query}`);
      assert.equal(page.status, 200);
      assert.ok(page.body.revision > 0);
      keys.push(...page.body.kvs.map((kv: { key: string }) => kv.key));
      pages++;
      if (!page.body.more) break;
      after = page.body.next;
    }
    assert.equal(pages, 3);
    assert.deepEqual(
      keys,
      Array.from({ length: 25 }, (_, i) => `range/${String(i).padStart(2, "0")}`),
    );
    const stale = await getJson(`${base}/v1/kv?prefix=range/2&consistency=stale`);
    assert.deepEqual(
      stale.body.kvs.map((kv: { value: string }) => kv.value),
      ["v20", "v21", "v22", "v23", "v24"],
    );
  });

  test("a hash written over RESP reaches HTTP as its fields (watch, listing, txn) and answers 409 to a single GET", async () => {
    const base = cluster.url(2);
    // Opened on another node than the one the HSET goes to, before it: the event arrives live.
    const watch = await SseStream.open(`${base}/v1/watch?prefix=resp/h/`);
    assert.equal(watch.status, 200);
    // A field named like an array index and one named __proto__ stay plain fields; values are any UTF-8.
    const reply = await respCall(cluster.respPort(1), ["HSET", "resp/h/1", "f", "v", "g", "w", "10", "ten"]);
    assert.equal(reply, ":3\r\n");
    assert.equal(await respCall(cluster.respPort(1), ["HSET", "resp/h/1", "__proto__", "é"]), ":1\r\n");
    const fields = Object.fromEntries([
      ["f", "v"],
      ["g", "w"],
      ["10", "ten"],
      ["__proto__", "é"],
    ]);
    const events = await watch.until((seen) => seen.filter((e) => e.event === "put").length >= 2, 10_000);
    watch.close();
    const puts = events.filter((e) => e.event === "put").map((e) => e.data);
    assert.deepEqual(puts[0].hash, { f: "v", g: "w", 10: "ten" });
    assert.deepEqual(puts[1].hash, fields);
    assert.equal(puts[1].version, 2);
    for (const event of puts) assert.equal("value" in event, false, "a hash event carries no raw value");

    const single = await getJson(`${base}/v1/kv/resp/h/1`);
    assert.equal(single.status, 409);
    assert.equal(single.body.code, "WRONG_TYPE");
    const listing = await getJson(`${base}/v1/kv?prefix=resp/h/`);
    assert.equal(listing.body.kvs.length, 1);
    const [kv] = listing.body.kvs;
    assert.deepEqual([kv.key, kv.hash, "value" in kv], ["resp/h/1", fields, false]);
    assert.equal(kv.modRevision, puts[1].revision);
    const txn = await fetch(`${base}/v1/txn`, {
      method: "POST",
      body: JSON.stringify({ success: [{ op: "get", key: "resp/h/1" }] }),
    });
    const answer = (await txn.json()) as { responses: { kv: { hash: unknown } }[] };
    assert.deepEqual(answer.responses[0]?.kv.hash, fields);
  });

  test("a hash past the compact size reaches HTTP as its field count, not its fields", async () => {
    const base = cluster.url(3);
    const watch = await SseStream.open(`${base}/v1/watch?prefix=resp/big/`);
    const args = ["HSET", "resp/big/1"];
    for (let i = 0; i < 200; i++) args.push(`field-${i}`, `value-${i}`);
    assert.equal(await respCall(cluster.respPort(1), args), ":200\r\n");
    const events = await watch.until((seen) => seen.some((e) => e.event === "put"), 10_000);
    watch.close();
    const put = events.find((e) => e.event === "put")?.data;
    assert.deepEqual([put?.hashFieldCount, "hash" in (put ?? {}), "value" in (put ?? {})], [200, false, false]);
    const listing = await getJson(`${base}/v1/kv?prefix=resp/big/`);
    const [kv] = listing.body.kvs;
    assert.deepEqual([kv.key, kv.hashFieldCount, "hash" in kv, "value" in kv], ["resp/big/1", 200, false, false]);
  });

  test("/readyz, /healthz and /v1/cluster on every node", async () => {
    for (const id of [1, 2, 3]) {
      const ready = await getJson(`${cluster.url(id)}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal(ready.body.ready, true);
      assert.ok(ready.body.leader > 0);
      assert.equal((await getJson(`${cluster.url(id)}/healthz`)).status, 200);
      const view = await getJson(`${cluster.url(id)}/v1/cluster`);
      assert.equal(view.body.id, id);
      for (const field of ["leader", "term", "commitIndex", "appliedIndex", "revision"]) {
        assert.equal(typeof view.body[field], "number", field);
      }
      assert.equal(view.body.members.length, 3);
      for (const member of view.body.members) {
        assert.equal(member.reachable, true);
        for (const field of ["id", "term", "commitIndex", "appliedIndex", "lag"]) {
          assert.equal(typeof member[field], "number", `node ${id}'s view of ${member.id}: ${field}`);
        }
        assert.match(member.role, /^(leader|follower)$/);
      }
      // One shard of every slot, led by the Raft leader, the other members its replicas.
      assert.deepEqual(view.body.shards, [
        {
          id: 1,
          slots: [[0, 16383]],
          leader: view.body.leader,
          replicas: [1, 2, 3].filter((member) => member !== view.body.leader),
          epoch: view.body.mapEpoch,
          term: view.body.term,
          ...(view.body.shards[0]?.lag === undefined ? {} : { lag: view.body.shards[0].lag }),
        },
      ]);
    }
  });

  test("/metrics is Prometheus text and its counters move with the load", async () => {
    const leader = await cluster.waitForLeader();
    const id = (leader % 3) + 1;
    const before = parsePrometheus(await (await fetch(`${cluster.url(id)}/metrics`)).text());
    const leaderBefore = parsePrometheus(await (await fetch(`${cluster.url(leader)}/metrics`)).text());
    await inParallel(30, 6, async (i) => {
      assert.equal((await put(`${cluster.url(id)}/v1/kv/metrics-${i}`, "x")).status, 200);
    });
    assert.equal((await fetch(`${cluster.url(id)}/v1/kv/metrics-missing`)).status, 404);
    const response = await fetch(`${cluster.url(id)}/metrics`);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const now = parsePrometheus(await response.text());
    const leaderNow = parsePrometheus(await (await fetch(`${cluster.url(leader)}/metrics`)).text());
    const puts = { command: "kv.put", outcome: "ok" };
    assert.ok(value(now, "shoal_http_requests_total", puts) - value(before, "shoal_http_requests_total", puts) >= 30);
    assert.equal(value(now, "shoal_http_requests_total", { command: "kv.get", outcome: "NOT_FOUND" }) >= 1, true);
    assert.ok(value(now, "shoal_http_request_duration_seconds_count", puts) >= 30);
    assert.ok(value(now, "shoal_raft_applied_index") >= value(before, "shoal_raft_applied_index") + 30);
    assert.ok(value(now, "shoal_store_keys") >= 30);
    assert.ok(value(now, "shoal_http_connections_total") >= 1);
    assert.ok(value(leaderNow, "shoal_raft_proposals_total") >= value(leaderBefore, "shoal_raft_proposals_total") + 30);
    assert.ok(
      value(leaderNow, "shoal_wal_save_duration_seconds_count") >
        value(leaderBefore, "shoal_wal_save_duration_seconds_count"),
    );
    assert.ok(value(leaderNow, "shoal_wal_written_bytes_total") > value(leaderBefore, "shoal_wal_written_bytes_total"));
    assert.ok(value(leaderNow, "shoal_wal_bytes") > 0, "the WAL holds the writes");
    // RESP commands are timed like HTTP requests.
    assert.equal(await respCall(cluster.respPort(id), ["SET", "metrics-resp", "x"]), "+OK\r\n");
    const afterResp = parsePrometheus(await (await fetch(`${cluster.url(id)}/metrics`)).text());
    assert.ok(value(afterResp, "shoal_resp_command_duration_seconds_count") >= 1);
    assert.equal(
      value(afterResp, "shoal_resp_command_duration_seconds_bucket", { le: "+Inf" }),
      value(afterResp, "shoal_resp_command_duration_seconds_count"),
    );
    assert.equal(value(leaderNow, "shoal_raft_is_leader"), 1);
    assert.ok(value(leaderNow, "shoal_raft_term") >= 1);
    assert.ok(
      now.some((s) => s.name === "nodejs_eventloop_lag_seconds"),
      "default process metrics are there",
    );
  });

  test("bad bodies, parameters, methods and bytes get 4xx JSON errors, never a 500 or a dropped connection", async () => {
    const base = cluster.url(await follower());
    const cases: [string, string, string, Record<string, string>, string | Uint8Array | undefined, number, string][] = [
      ["ttl negative", "PUT", "/v1/kv/k?ttl=-3", {}, "x", 400, "BAD_REQUEST"],
      ["ttl not a number", "PUT", "/v1/kv/k?ttl=soon", {}, "x", 400, "BAD_REQUEST"],
      ["ttl zero", "PUT", "/v1/kv/k?ttl=0", {}, "x", 400, "BAD_REQUEST"],
      ["unknown query parameter", "PUT", "/v1/kv/k?tll=3", {}, "x", 400, "BAD_REQUEST"],
      ["repeated query parameter", "PUT", "/v1/kv/k?ttl=1&ttl=2", {}, "x", 400, "BAD_REQUEST"],
      ["If-Match not a revision", "PUT", "/v1/kv/k", { "if-match": "abc" }, "x", 400, "BAD_REQUEST"],
      ["If-None-Match not *", "PUT", "/v1/kv/k", { "if-none-match": "etag" }, "x", 400, "BAD_REQUEST"],
      ["both conditions", "PUT", "/v1/kv/k", { "if-match": "1", "if-none-match": "*" }, "x", 400, "BAD_REQUEST"],
      ["empty key", "PUT", "/v1/kv/", {}, "x", 400, "BAD_REQUEST"],
      ["key too long", "PUT", `/v1/kv/${"k".repeat(1100)}`, {}, "x", 413, "TOO_LARGE"],
      ["key not UTF-8", "GET", "/v1/kv/%FF%FE", {}, undefined, 400, "BAD_REQUEST"],
      ["bad consistency", "GET", "/v1/kv/k?consistency=sometimes", {}, undefined, 400, "BAD_REQUEST"],
      ["missing key", "GET", "/v1/kv/never-written", {}, undefined, 404, "NOT_FOUND"],
      ["delete missing key", "DELETE", "/v1/kv/never-written", {}, undefined, 404, "NOT_FOUND"],
      ["range limit 0", "GET", "/v1/kv?limit=0", {}, undefined, 400, "BAD_REQUEST"],
      ["range limit too big", "GET", "/v1/kv?limit=5000", {}, undefined, 400, "BAD_REQUEST"],
      ["range limit not a number", "GET", "/v1/kv?limit=ten", {}, undefined, 400, "BAD_REQUEST"],
      ["watch from revision 0", "GET", "/v1/watch?from_revision=0", {}, undefined, 400, "BAD_REQUEST"],
      ["watch from a negative revision", "GET", "/v1/watch?from_revision=-4", {}, undefined, 400, "BAD_REQUEST"],
      ["watch Last-Event-ID garbage", "GET", "/v1/watch", { "last-event-id": "x" }, undefined, 400, "BAD_REQUEST"],
      ["txn not JSON", "POST", "/v1/txn", { "content-type": "application/json" }, "{compare:", 400, "BAD_REQUEST"],
      ["txn not UTF-8", "POST", "/v1/txn", {}, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 400, "BAD_REQUEST"],
      ["txn empty body", "POST", "/v1/txn", { "content-type": "application/json" }, "", 400, "BAD_REQUEST"],
      ["txn no body", "POST", "/v1/txn", {}, undefined, 400, "BAD_REQUEST"],
      ["txn an array", "POST", "/v1/txn", {}, "[]", 400, "BAD_REQUEST"],
      ["txn unknown field", "POST", "/v1/txn", {}, '{"compares":[]}', 400, "BAD_REQUEST"],
      [
        "txn compare without key",
        "POST",
        "/v1/txn",
        {},
        '{"compare":[{"target":"value","op":"==","value":"x"}]}',
        400,
        "BAD_REQUEST",
      ],
      [
        "txn bad compare op",
        "POST",
        "/v1/txn",
        {},
        '{"compare":[{"key":"a","target":"value","op":"~","value":"x"}]}',
        400,
        "BAD_REQUEST",
      ],
      [
        "txn revision compare with a string",
        "POST",
        "/v1/txn",
        {},
        '{"compare":[{"key":"a","target":"version","op":"==","value":"1"}]}',
        400,
        "BAD_REQUEST",
      ],
      [
        "txn value compare with a number",
        "POST",
        "/v1/txn",
        {},
        '{"compare":[{"key":"a","target":"value","op":"==","value":1}]}',
        400,
        "BAD_REQUEST",
      ],
      ["txn put without value", "POST", "/v1/txn", {}, '{"success":[{"op":"put","key":"a"}]}', 400, "BAD_REQUEST"],
      ["txn unknown op", "POST", "/v1/txn", {}, '{"success":[{"op":"increment","key":"a"}]}', 400, "BAD_REQUEST"],
      [
        "txn negative ttl",
        "POST",
        "/v1/txn",
        {},
        '{"success":[{"op":"put","key":"a","value":"v","ttl":-1}]}',
        400,
        "BAD_REQUEST",
      ],
      ["txn prototype pollution", "POST", "/v1/txn", {}, '{"__proto__":{"x":1}}', 400, "BAD_REQUEST"],
      [
        "txn too many ops",
        "POST",
        "/v1/txn",
        {},
        JSON.stringify({ success: Array.from({ length: 200 }, (_, i) => ({ op: "get", key: `k${i}` })) }),
        413,
        "TOO_LARGE",
      ],
      ["unknown route", "GET", "/v2/everything", {}, undefined, 404, "NOT_FOUND"],
      ["wrong method on a key", "PATCH", "/v1/kv/k", {}, "x", 405, "BAD_REQUEST"],
      ["wrong method on txn", "GET", "/v1/txn", {}, undefined, 405, "BAD_REQUEST"],
      ["wrong method on metrics", "POST", "/metrics", {}, "x", 405, "BAD_REQUEST"],
    ];
    for (const [name, method, path, headers, body, status, code] of cases) {
      const response = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await response.text();
      assert.equal(response.status, status, `${name}: ${text}`);
      assert.match(response.headers.get("content-type") ?? "", /^application\/json/, name);
      const parsed = JSON.parse(text) as { code: string; message: string };
      assert.equal(parsed.code, code, name);
      assert.ok(typeof parsed.message === "string" && parsed.message.length > 0, name);
    }
    // A body over the limit is refused from its Content-Length, before it is read.
    const tooLarge = await rawRequest(base, "PUT", "/v1/kv/huge", { "content-length": String(17 * 1024 * 1024) });
    assert.equal(tooLarge.status, 413);
    assert.equal(JSON.parse(tooLarge.body).code, "TOO_LARGE");
    // Bytes that are not HTTP at all still get a JSON 400.
    const garbage = await rawSocket(base, "HELLO THERE\r\n\r\n");
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    assert.equal(JSON.parse(garbage.slice(garbage.indexOf("\r\n\r\n") + 4)).code, "BAD_REQUEST");
    // And the node is unharmed.
    assert.equal((await getJson(`${base}/readyz`)).status, 200);
  });

  test("a watch from an old revision sees every later event exactly once, in order, across the leader's kill -9", async () => {
    const leader = await cluster.waitForLeader();
    const [watchNode, otherNode] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
    // History the watch must replay before it goes live.
    const first = await put(`${cluster.url(otherNode)}/v1/kv/w/pre-0`, "pre");
    const fromRevision = first.body.revision as number;
    for (let i = 1; i < 20; i++) await put(`${cluster.url(otherNode)}/v1/kv/w/pre-${i}`, "pre");
    const watch = await SseStream.open(`${cluster.url(watchNode)}/v1/watch?from_revision=${fromRevision}`);
    assert.equal(watch.status, 200);

    const acknowledged: { key: string; revision: number }[] = [];
    let stop = false;
    const writers = [watchNode, otherNode].map(async (target, w) => {
      for (let i = 0; !stop; i++) {
        const key = `w/${w}-${i}`;
        const answer = await put(`${cluster.url(target)}/v1/kv/${key}`, key, {}, 4000).catch(() => undefined);
        if (answer?.status === 200) acknowledged.push({ key, revision: answer.body.revision });
      }
    });
    await sleep(600);
    await cluster.kill(leader);
    await sleep(2000);
    stop = true;
    await Promise.all(writers);
    const last = Math.max(...acknowledged.map((a) => a.revision));
    assert.ok(
      acknowledged.filter((a) => a.key.startsWith("w/")).length > 30,
      `writes continued (${acknowledged.length})`,
    );

    const events = await watch.until((seen) => seen.some((e) => e.data.revision >= last), 15_000);
    watch.close();
    const changes = events.filter((e) => e.event === "put" || e.event === "delete").map((e) => e.data);
    const upTo = changes.filter((e) => e.revision <= last);
    // In order, no revision skipped (each revision has at least one event), nothing twice.
    for (let i = 1; i < upTo.length; i++) assert.ok(upTo[i].revision >= upTo[i - 1].revision, "revision order");
    const revisions = new Set(upTo.map((e) => e.revision));
    for (let r = fromRevision; r <= last; r++) assert.ok(revisions.has(r), `revision ${r} is missing`);
    const identities = upTo.map((e) => `${e.revision}/${e.key}`);
    assert.equal(new Set(identities).size, identities.length, "an event was delivered twice");
    // Every acknowledged write is there, as written.
    const byIdentity = new Map(upTo.map((e) => [`${e.revision}/${e.key}`, e]));
    for (const { key, revision } of acknowledged) {
      const event = byIdentity.get(`${revision}/${key}`);
      assert.ok(event !== undefined, `acknowledged ${key}@${revision} was not watched`);
      assert.equal(event.type, "put");
      assert.equal(event.value, key);
    }
    // The other survivor replays exactly the same history.
    const replay = await SseStream.open(`${cluster.url(otherNode)}/v1/watch?from_revision=${fromRevision}`);
    const replayed = await replay.until((seen) => seen.some((e) => e.data.revision >= last), 10_000);
    replay.close();
    assert.deepEqual(
      replayed.map((e) => e.data).filter((e) => e.revision <= last),
      upTo,
    );
    await cluster.startNode(leader);
  });
});

// ---- helpers ----

/** Sends one command over RESP and resolves to the first chunk of its reply. */
function respCall(port: number, argv: readonly string[]): Promise<string> {
  const args = argv.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  const frame = `*${argv.length}\r\n${args.join("")}`;
  return new Promise<string>((done, fail) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(frame));
    socket.once("data", (chunk) => {
      done(chunk.toString());
      socket.end();
    });
    socket.once("error", fail);
  });
}

async function put(
  url: string,
  value: string,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<{ status: number; body: { revision: number; modRevision?: number } & Record<string, unknown> }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(url, { method: "PUT", body: value, headers, signal: AbortSignal.timeout(timeoutMs) });
    const body = (await response.json()) as { revision: number };
    if (response.status !== 503 || Date.now() > deadline) return { status: response.status, body };
    await sleep(50);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: test JSON is inspected field by field
async function getJson(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

// biome-ignore lint/suspicious/noExplicitAny: test JSON is inspected field by field
async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  return { status: response.status, body: await response.json() };
}

function rawRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${base}${path}`, { method, headers }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on("end", () => {
        request.destroy();
        resolve({ status: response.statusCode ?? 0, body });
      });
    });
    request.on("error", reject);
    request.write("a few bytes of a body that claims to be much larger");
    // Never finished: the server must answer from the header alone.
  });
}

function rawSocket(base: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let answer = "";
    socket.on("data", (chunk) => {
      answer += chunk.toString();
    });
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
  });
}

/** Parses the Prometheus text exposition format strictly enough to catch a malformed line. */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta !== null) {
      if (meta[1] === "TYPE") {
        assert.match(meta[3] as string, /^(counter|gauge|histogram|summary|untyped)$/, line);
        types.set(meta[2] as string, meta[3] as string);
      }
      continue;
    }
    // prom-client writes NaN as "Nan" (the event-loop lag's mean right after another scrape reset its histogram);
    // Prometheus parses floats case-insensitively, so it reads that as NaN too.
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)$/.exec(line);
    assert.ok(sample !== null, `not a Prometheus sample line: ${line}`);
    const name = sample[1] as string;
    const labels: Record<string, string> = {};
    for (const pair of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] as string] = pair[2] as string;
    }
    const family = name.replace(/_(bucket|sum|count|total|created)$/, "");
    assert.ok(types.has(name) || types.has(family) || types.has(`${family}_total`), `no TYPE for ${name}`);
    samples.push({ name, labels, value: Number(sample[3]) });
  }
  // Histograms: cumulative buckets ending at +Inf, which equals the count.
  for (const count of samples.filter((s) => s.name.endsWith("_count"))) {
    const base = count.name.slice(0, -"_count".length);
    const buckets = samples.filter((s) => s.name === `${base}_bucket` && sameLabels(s.labels, count.labels, "le"));
    if (buckets.length === 0) continue;
    for (let i = 1; i < buckets.length; i++)
      assert.ok((buckets[i] as Sample).value >= (buckets[i - 1] as Sample).value);
    assert.equal(buckets[buckets.length - 1]?.labels.le, "+Inf");
    assert.equal(buckets[buckets.length - 1]?.value, count.value);
  }
  return samples;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>, ignore: string): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)].filter((k) => k !== ignore));
  return [...keys].every((k) => a[k] === b[k]);
}

/** The value of one series (labels given must match; 0 when absent). */
function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const matching = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return matching.reduce((sum, s) => sum + s.value, 0);
}

interface SseMessage {
  readonly event: string;
  // biome-ignore lint/suspicious/noExplicitAny: event JSON is inspected field by field
  readonly data: any;
  readonly id: string | undefined;
}

/** A Server-Sent Events reader over fetch, collecting messages as they arrive. */
class SseStream {
  readonly status: number;
  readonly messages: SseMessage[] = [];
  readonly #abort: AbortController;
  #ended = false;

  private constructor(status: number, abort: AbortController) {
    this.status = status;
    this.#abort = abort;
  }

  static async open(url: string): Promise<SseStream> {
    const abort = new AbortController();
    const response = await fetch(url, { headers: { accept: "text/event-stream" }, signal: abort.signal });
    const stream = new SseStream(response.status, abort);
    if (response.body !== null) void stream.#read(response.body);
    return stream;
  }

  /** Waits until `done(messages)` holds; returns the messages so far. */
  async until(done: (messages: readonly SseMessage[]) => boolean, timeoutMs: number): Promise<SseMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.messages)) {
      if (this.#ended) assert.fail(`the stream ended early after ${this.messages.length} messages`);
      if (Date.now() > deadline) assert.fail(`timed out after ${this.messages.length} messages`);
      await sleep(20);
    }
    return [...this.messages];
  }

  close(): void {
    this.#abort.abort();
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = block.split("\n").filter((line) => !line.startsWith(":") && line.includes(":"));
          const field = (name: string) =>
            fields
              .find((line) => line.startsWith(`${name}:`))
              ?.slice(name.length + 1)
              .trim();
          const data = field("data");
          if (data !== undefined)
            this.messages.push({ event: field("event") ?? "message", data: JSON.parse(data), id: field("id") });
        }
      }
    } catch {
      // aborted
    } finally {
      this.#ended = true;
    }
  }
}
