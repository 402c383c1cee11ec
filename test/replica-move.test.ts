/**
 * End-to-end: moving a shard's replica online (issue 13) — 4 nodes, 2 shards of 3 replicas, as child processes.
 * The replica on the shard's leader moves to the one member without it while a client writes to that shard: the
 * new member joins as a learner, catches up, is promoted, the leader hands leadership away and is removed, and
 * its files are deleted. Every acknowledged write is then on the new member's own replica (a stale read there),
 * the layout survives restarts, a member takes a shard back as a new replica, and moves that make no sense are
 * refused with a clear 400.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { AdminShardsView } from "../src/http/admin-routes.js";
import { MEMBER_ID_LIMIT } from "../src/lib/replica-id.js";
import { hashSlot } from "../src/slots/hash-slot.js";
import { SlotMap } from "../src/slots/slot-map.js";
import { getKey, inParallel, ProcessCluster, putKey, runShoal, sleep } from "./support/process-cluster.js";

const NODES = [1, 2, 3, 4];

const shoal = (...args: string[]) => runShoal(args);

describe("moving a replica of a shard online", { timeout: 240_000 }, () => {
  let cluster: ProcessCluster;
  const slotMap = new SlotMap(2);
  const keys = Array.from({ length: 4_000 }, (_, i) => `moved:${i}`).filter(
    (key) => slotMap.shardOf(hashSlot(Buffer.from(key))) === 1,
  );

  const shards = async (id: number): Promise<AdminShardsView> => {
    const response = await fetch(`${cluster.url(id)}/v1/admin/shards`);
    assert.equal(response.status, 200);
    return (await response.json()) as AdminShardsView;
  };
  const move = (via: number, shard: number, body: unknown) =>
    fetch(`${cluster.url(via)}/v1/admin/shards/${shard}/move`, {
      method: "POST",
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 4, extraArgs: ["--shards", "2", "--replicas", "3"] });
    await cluster.pauseRebalancer(); // the moves here are by hand
  });
  after(async () => {
    await cluster?.stop();
  });

  test("the leader's replica moves to the member without one while a client writes; nothing is lost", async () => {
    let view = await shards(1);
    for (let attempt = 0; attempt < 100 && !(view.epoch >= 1 && view.shards.every((s) => s.leader > 0)); attempt++) {
      await sleep(200);
      view = await shards(1);
    }
    const before = view.shards.find((s) => s.id === 1);
    assert.ok(before !== undefined && before.leader > 0, "shard 1 has a leader");
    const from = before.leader;
    const to = NODES.find((id) => !before.replicas.includes(id)) as number;
    assert.ok(to !== undefined, "one member holds no replica of shard 1");
    await inParallel(keys.length, 32, async (i) => {
      assert.equal(await putKey(cluster.url(1), keys[i] as string, "v0"), 200);
    });

    // A writer keeps overwriting shard 1's keys through another member while the replica moves.
    const acknowledged = new Map<string, string>();
    let writing = true;
    const writerNode = NODES.find((id) => id !== from && id !== to) as number;
    const writer = (async () => {
      for (let round = 1; writing; round++) {
        const key = keys[round % keys.length] as string;
        const value = `v${round}`;
        const status = await putKey(cluster.url(writerNode), key, value, 15_000);
        if (status === 200) acknowledged.set(key, value);
      }
    })();

    const response = await move(to, 1, { from, to });
    assert.equal(response.status, 202, await response.clone().text());
    const answer = (await response.json()) as { epoch: number; shard: { replicas: number[]; leaving: number[] } };
    assert.ok(answer.epoch >= 2);
    assert.ok(answer.shard.replicas.includes(to) && !answer.shard.replicas.includes(from));
    assert.deepEqual(answer.shard.leaving, [from]);
    // A second move of the same shard while this one runs is refused (one at a time).
    const second = await move(1, 1, { from: answer.shard.replicas.find((id) => id !== to), to: from });
    assert.equal(second.status, 400);
    assert.match(((await second.json()) as { message: string }).message, /still moving a replica off node/);

    let done: AdminShardsView | undefined;
    for (let attempt = 0; attempt < 300; attempt++) {
      const now = await shards(to);
      const shard = now.shards.find((s) => s.id === 1);
      if (shard?.leaving.length === 0 && shard.voters?.includes(to) === true && !shard.voters.includes(from)) {
        done = now;
        break;
      }
      await sleep(200);
    }
    assert.ok(done !== undefined, "the move finishes");
    writing = false;
    await writer;
    assert.ok(acknowledged.size > 0, "the writer got writes through during the move");
    // /metrics counts the move where it ran (the shard's leader) and every node follows the new map's epoch.
    const series = async (id: number, name: string): Promise<number> => {
      const text = await (await fetch(`${cluster.url(id)}/metrics`)).text();
      return Number(new RegExp(`^${name}\\{[^}]*\\} ([0-9.e+-]+)$`, "m").exec(text)?.[1] ?? Number.NaN);
    };
    let finished = 0;
    for (const id of NODES) {
      finished += await series(id, "shoal_replica_moves_finished_total");
      let epoch = await series(id, "shoal_cluster_map_epoch");
      for (let attempt = 0; attempt < 30 && epoch !== done.epoch; attempt++) {
        await sleep(200);
        epoch = await series(id, "shoal_cluster_map_epoch");
      }
      assert.equal(epoch, done.epoch, `node ${id} follows the map's epoch`);
    }
    assert.equal(finished, 1, "one move finished");
    let seconds = 0;
    for (const id of NODES) seconds += await series(id, "shoal_replica_move_seconds_total");
    assert.ok(seconds > 0, "the move's time is counted where it finished");

    // The leaving member deleted its replica of shard 1 (group 1 lives in the data directory itself).
    const fromDir = join(cluster.dataDir, String(from));
    for (let attempt = 0; attempt < 50 && existsSync(join(fromDir, "state")); attempt++) await sleep(200);
    assert.equal(existsSync(join(fromDir, "state")), false, "the old replica's state is deleted");

    // Every acknowledged write is on the new member's own replica, and readable through every member.
    const expected = new Map(keys.map((key) => [key, acknowledged.get(key) ?? "v0"]));
    // A stale read shows what the replica has applied, which may trail the commit index for a moment on a loaded
    // machine: each key is read again for a while (a lost write never shows up).
    for (const [key, value] of expected) {
      let stale = await getKey(cluster.url(to), key, true);
      for (let attempt = 0; attempt < 50 && stale.value !== value; attempt++) {
        await sleep(100);
        stale = await getKey(cluster.url(to), key, true);
      }
      assert.deepEqual(stale, { status: 200, value }, `${key} on node ${to}'s own replica`);
    }
    for (const id of NODES) {
      for (const key of keys.slice(0, 50)) assert.equal((await getKey(cluster.url(id), key)).value, expected.get(key));
    }

    // Restarted, both members keep the layout: the new one reopens its replica, the old one does not.
    await cluster.kill(from);
    await cluster.kill(to);
    await cluster.startNode(from);
    await cluster.startNode(to);
    let after: AdminShardsView | undefined;
    for (let attempt = 0; attempt < 150; attempt++) {
      after = await shards(to).catch(() => undefined);
      const shard = after?.shards.find((s) => s.id === 1);
      if (shard?.voters?.includes(to) === true && shard.leader > 0) break;
      await sleep(200);
    }
    const shard = after?.shards.find((s) => s.id === 1);
    assert.ok(shard?.voters?.includes(to) === true, "the new member holds shard 1 after a restart");
    assert.equal(existsSync(join(fromDir, "state")), false, "the old member did not reopen shard 1");
    const fromView = (await shards(from)).shards.find((s) => s.id === 1);
    assert.equal(fromView?.voters, undefined, "the old member holds no replica of shard 1");
    for (const key of keys.slice(0, 50)) {
      assert.deepEqual(await getKey(cluster.url(to), key, true), { status: 200, value: expected.get(key) });
    }

    // The member that left takes the shard back as a new replica, under a new Raft id (lib/replica-id.ts): its
    // files say so, and it holds every acknowledged write again.
    const back = await move(1, 1, { from: to, to: from });
    assert.equal(back.status, 202, await back.clone().text());
    for (let attempt = 0; attempt < 300; attempt++) {
      const shard = (await shards(from).catch(() => undefined))?.shards.find((s) => s.id === 1);
      if (shard?.leaving.length === 0 && shard.voters?.includes(from) === true) break;
      await sleep(200);
    }
    assert.equal(readFileSync(join(fromDir, "replica-id"), "utf8").trim(), String(from + MEMBER_ID_LIMIT));
    const backView = (await shards(from)).shards.find((s) => s.id === 1);
    assert.ok(backView?.voters?.includes(from) === true && !backView.voters.includes(to), JSON.stringify(backView));
    for (const key of keys.slice(0, 50)) {
      assert.deepEqual(await getKey(cluster.url(from), key, true), { status: 200, value: expected.get(key) });
    }
  });

  test("shoal shards lists the layout; shoal shards move waits for the move and exits 0", async () => {
    const endpoint = NODES.map((id) => cluster.url(id)).join(",");
    const listed = await shoal("shards", "-e", endpoint);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /SHARD\s+SLOTS\s+LEADER\s+REPLICAS/);
    const view = (await shards(1)).shards.find((s) => s.id === 2) as AdminShardsView["shards"][number];
    const from = view.replicas.find((id) => id !== view.leader) as number;
    const to = NODES.find((id) => !view.replicas.includes(id)) as number;
    const moved = await shoal("shards", "move", "2", "--from", String(from), "--to", String(to), "-e", endpoint);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, new RegExp(`Done: shard 2 is held by .*${to}`));
    const after = (await shards(1)).shards.find((s) => s.id === 2);
    assert.deepEqual(after?.leaving, []);
    assert.ok(after?.replicas.includes(to) && !after.replicas.includes(from));
    const bad = await shoal("shards", "move", "x", "--from", "1", "--to", "2", "-e", endpoint);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Cannot parse SHARD "x"/);
    const refused = await shoal("shards", "move", "2", "--from", String(to), "--to", String(to), "-e", endpoint);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /already holds a replica of shard 2/);
  });

  test("moves that make no sense are refused with a 400 that says why", async () => {
    const cases: [number, unknown, RegExp][] = [
      [9, { from: 1, to: 2 }, /There is no shard 9/],
      [2, { from: 1, to: 9 }, /Node 9 is not a member/],
      [2, "not json", /the body is not valid JSON/],
      [2, { from: 1 }, /to/],
      [2, { from: 1, to: 2, extra: true }, /extra|additional/],
    ];
    for (const [shard, body, message] of cases) {
      const response = await move(1, shard, body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.match(((await response.json()) as { message: string }).message, message);
    }
    const view = (await shards(1)).shards.find((s) => s.id === 2);
    const holder = view?.replicas[0] as number;
    const same = await move(1, 2, { from: holder, to: view?.replicas[1] });
    assert.equal(same.status, 400);
    assert.match(((await same.json()) as { message: string }).message, /already holds a replica of shard 2/);
  });
});
