/**
 * End-to-end: moving hash slots between shards online (docs/architecture.md "Moving slots between shards") — a
 * 3-node cluster of 3 shards as child processes. While writers keep incrementing 2,000 counters (through an
 * ioredis Cluster client and a plain ioredis client to one node, both pipelining), overwriting 300 keys with unique
 * values over HTTP through another node, and reading 300 keys that never change, 3,000 of shard 2's slots move to
 * shard 3, then 1,000 of them come back to shard 2 while 1,500 of shard 1's slots move to shard 2 too. Then:
 * - every counter equals the INCRs acknowledged to the clients (a write whose outcome the client cannot know is a
 *   "maybe": acknowledged <= value <= acknowledged + maybe), so a lost or doubly applied write fails the test;
 * - the clients saw no error (the ioredis Cluster client none at all; the plain client at most TRYAGAIN, a write
 *   that waited more than 2 s for its slot's copy, certainly not applied; HTTP none but 503 SLOT_MIGRATING), and
 *   every read of an unchanging key answered its value (on the plain client, or TRYAGAIN: a GET pipelined behind
 *   an INCR of a moving slot shares its entry, node/write-order.ts);
 * - CLUSTER SLOTS on every node names the new owners' leaders, COUNTKEYSINSLOT and each node's per-shard key
 *   count (shoal_shard_keys) show every key in exactly one shard (none left behind on a source, none written into
 *   a shard that does not own it), DBSIZE counts every key once, and every HTTP key reads its last value;
 * - moves that make no sense answer 400 with a JSON error, and the nodes keep serving.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster, Redis } from "ioredis";
import type { AdminShardsView } from "../src/http/admin-routes.js";
import type { AdminSlotsView } from "../src/http/admin-slot-routes.js";
import { hashSlot } from "../src/slots/hash-slot.js";
import { SlotMap } from "../src/slots/slot-map.js";
import { eventually, ProcessCluster, sleep } from "./support/process-cluster.js";

const NODES = [1, 2, 3];
const SLOT_COUNT = 16_384;
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The moves, in order: most of shard 2 to shard 3; then a part of those back to shard 2 while a part of shard 1
 * moves to shard 2 as well (two source shards moving into one at once). */
const MOVE_TO_3 = range(5461, 8460);
const MOVE_BACK_TO_2 = range(6000, 6999);
const MOVE_1_TO_2 = range(0, 1499);

const COUNTERS = 2_000;
const HTTP_KEYS = 300;
const CLUSTER_WRITERS = 6;
const PLAIN_WRITERS = 4;
const HTTP_WRITERS = 3;
/** Keys written once before the moves and read throughout (each must always read its value). */
const CONSTANTS = 300;
const READERS = 2;

/** A failed INCR whose error says it was certainly not applied (Redis's TRYAGAIN: the node refused it whole). */
const notApplied = (message: string): boolean => message.startsWith("TRYAGAIN");

/** `what: first, second, … (n in all)` when `items` is not empty: a problem line for an assertion's message. */
function report(what: string, items: readonly string[]): string[] {
  return items.length === 0 ? [] : [`${what}: ${items.slice(0, 8).join("; ")} (${items.length} in all)`];
}

/** Polls `probe` (the problems it sees) until it sees none or `timeoutMs` passed; the last ones seen, reported. */
async function settle(what: string, probe: () => Promise<string[]>, timeoutMs = 5_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const problems = await probe().catch((error: unknown) => [String(error)]);
    if (problems.length === 0 || Date.now() > deadline) return report(what, problems);
    await sleep(250);
  }
}

describe("moving slots between shards while clients write", { timeout: 180_000 }, () => {
  let cluster: ProcessCluster;
  const counters = Array.from({ length: COUNTERS }, (_, i) => `ctr:${i}`);
  const httpKeys = Array.from({ length: HTTP_KEYS }, (_, i) => `http:${i}`);
  const constants = Array.from({ length: CONSTANTS }, (_, i) => `const:${i}`);
  const allKeys = [...counters, ...httpKeys, ...constants];
  /** Which shard owns each slot once every move is done (the test's own bookkeeping). */
  const owner = new SlotMap(3);
  const expectedOwner = Array.from({ length: SLOT_COUNT }, (_, slot) => owner.shardOf(slot));
  for (const slot of MOVE_TO_3) expectedOwner[slot] = 3;
  for (const slot of [...MOVE_BACK_TO_2, ...MOVE_1_TO_2]) expectedOwner[slot] = 2;
  /** Each HTTP key's value as the last acknowledged PUT left it, and the values of PUTs after it whose outcome is
   * unknown (any of them may be the one read). */
  const httpExpected = new Map<string, { acknowledged: string; maybe: string[] }>();
  /** Each counter's value once the writers stopped. */
  const counterValues = new Map<string, string | null>();

  const shards = async (via: number): Promise<AdminShardsView> =>
    (await (await fetch(`${cluster.url(via)}/v1/admin/shards`)).json()) as AdminShardsView;
  const slotsView = async (via: number): Promise<AdminSlotsView> =>
    (await (await fetch(`${cluster.url(via)}/v1/admin/slots`)).json()) as AdminSlotsView;
  const postMove = (via: number, body: unknown): Promise<Response> =>
    fetch(`${cluster.url(via)}/v1/admin/slots/move`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  /** Asks for a move, again while the map changed meanwhile (412: the slot mover recorded a finished batch). */
  const move = async (via: number, slots: readonly number[], to: number): Promise<AdminSlotsView> => {
    for (let attempt = 0; ; attempt++) {
      const response = await postMove(via, { slots, to });
      const text = await response.text();
      if (response.status === 202) return JSON.parse(text) as AdminSlotsView;
      assert.ok(attempt < 20 && (response.status === 412 || response.status === 503), `${response.status} ${text}`);
      await sleep(100);
    }
  };
  /** Waits until no slot is moving, as every node sees the map. */
  const movesDone = (timeoutMs = 60_000): Promise<true> =>
    eventually(
      "the slot moves to finish",
      async () => {
        const views = await Promise.all(NODES.map(slotsView));
        return views.every((view) => view.moving.length === 0) ? true : undefined;
      },
      timeoutMs,
    );

  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 3, extraArgs: ["--shards", "3"] });
    await cluster.waitForLeader(30_000);
    // Only the moves the tests ask for (the writers' load would make the rebalancer move slots too): the last test
    // lets it run.
    // Every shard has a leader and the map is recorded (a move is a change of the recorded map).
    await eventually("every shard to have a leader and the map to be recorded", async () => {
      const view = await shards(1);
      return view.epoch >= 1 && view.shards.every((shard) => shard.leader > 0) ? view : undefined;
    });
    await cluster.pauseRebalancer();
  });
  after(async () => {
    await cluster?.stop();
  });

  test("3 moves under INCRs (ioredis Cluster and a plain client) and HTTP PUTs: no write lost or applied twice", async (t) => {
    const movedSlots = new Set([...MOVE_TO_3, ...MOVE_1_TO_2]);
    const inMoved = counters.filter((key) => movedSlots.has(hashSlot(Buffer.from(key)))).length;
    assert.ok(inMoved > 400, `many counters are in moved slots (${inMoved})`);

    const clusterErrors: string[] = [];
    const clusterClient = new Cluster(
      NODES.map((id) => ({ host: "127.0.0.1", port: cluster.respPort(id) })),
      {
        redisOptions: { maxRetriesPerRequest: 20 },
        retryDelayOnClusterDown: 200,
        retryDelayOnFailover: 200,
        // A redirect must name host:port (ioredis throws on anything else, outside any command's promise): one that
        // does not is counted as an error reaching the client, and the command asked again of node 1.
        natMap: (key: string) => {
          if (key.includes(":")) return null;
          clusterErrors.push(`a redirect named "${key}", not host:port`);
          return { host: "127.0.0.1", port: cluster.respPort(1) };
        },
      },
    );
    // The plain client talks to node 1 only: the node routes each key to its shard (and follows moves) itself.
    const plainClient = new Redis({ host: "127.0.0.1", port: cluster.respPort(1), maxRetriesPerRequest: 1 });
    const httpNode = 2;
    let writing = true;
    try {
      // Every key exists before the moves (so the moves copy them, and the key count is known).
      for (let at = 0; at < COUNTERS; at += 500) {
        await Promise.all(counters.slice(at, at + 500).map((key) => clusterClient.set(key, "0")));
      }
      await Promise.all(constants.map((key, i) => clusterClient.set(key, `c${i}`)));
      for (let at = 0; at < HTTP_KEYS; at += 100) {
        await Promise.all(
          httpKeys.slice(at, at + 100).map(async (key) => {
            const response = await fetch(`${cluster.url(httpNode)}/v1/kv/${key}`, { method: "PUT", body: "v0" });
            assert.equal(response.status, 200, await response.text());
            httpExpected.set(key, { acknowledged: "v0", maybe: [] });
          }),
        );
      }

      const acknowledged = new Int32Array(COUNTERS);
      const maybe = new Int32Array(COUNTERS);
      const plainErrors: string[] = [];
      const httpErrors: string[] = [];
      let tryAgains = 0;
      let httpRetried = 0;

      const incrWriter = (client: Redis | Cluster, errors: string[], first: number, stride: number) =>
        (async () => {
          for (let n = first; writing; n += stride) {
            const i = (n * 7919) % COUNTERS;
            try {
              await client.incr(counters[i] as string);
              acknowledged[i] = (acknowledged[i] as number) + 1;
            } catch (error) {
              const message = (error as Error).message;
              errors.push(`${counters[i]}: ${message}`);
              if (notApplied(message)) tryAgains++;
              else maybe[i] = (maybe[i] as number) + 1;
              await sleep(20);
            }
          }
        })();
      const httpWriter = (worker: number) =>
        (async () => {
          // Each key is written by one worker, one PUT at a time: its last value is known.
          const mine = httpKeys.filter((_, i) => i % HTTP_WRITERS === worker);
          for (let n = 1; writing; n++) {
            const key = mine[n % mine.length] as string;
            const value = `w${worker}-${n}`;
            const expected = httpExpected.get(key) as { acknowledged: string; maybe: string[] };
            const response = await fetch(`${cluster.url(httpNode)}/v1/kv/${key}`, {
              method: "PUT",
              body: value,
              signal: AbortSignal.timeout(15_000),
            }).catch((error: unknown) => error as Error);
            if (response instanceof Error) {
              httpErrors.push(`${key}: ${response.message}`);
              expected.maybe.push(value);
              await sleep(20);
              continue;
            }
            const body = await response.text();
            if (response.status === 200) {
              httpExpected.set(key, { acknowledged: value, maybe: [] });
              continue;
            }
            if (response.status === 503 && body.includes('"SLOT_MIGRATING"')) {
              httpRetried++; // refused whole after 2 s: not applied (store/slot-states.ts)
            } else {
              httpErrors.push(`${key}: ${response.status} ${body}`);
              expected.maybe.push(value);
            }
            await sleep(20);
          }
        })();
      // Readers of the constants, pipelined like the writers (a run of GETs over several slots of one shard).
      const readErrors: string[] = [];
      let readsRetried = 0;
      const reader = (client: Redis | Cluster, first: number, stride: number) =>
        (async () => {
          for (let n = first; writing; n += stride) {
            const i = (n * 7919) % CONSTANTS;
            const value = await client.get(constants[i] as string).catch((error: Error) => `error ${error.message}`);
            // A GET pipelined behind an INCR shares its run's entry: when a move refuses that entry while later
            // runs of the connection are in flight, the run is not sent again (node/write-order.ts) and answers
            // TRYAGAIN — not run, as a Redis Cluster client expects to retry. Any other answer is wrong.
            if (client === plainClient && value?.startsWith("error TRYAGAIN") === true) {
              readsRetried++;
              continue;
            }
            if (value !== `c${i}`)
              readErrors.push(`${constants[i]} (slot ${hashSlot(Buffer.from(constants[i] as string))}): ${value}`);
          }
        })();
      const writers = [
        ...Array.from({ length: READERS }, (_, w) => reader(w % 2 === 0 ? clusterClient : plainClient, w, READERS)),
        ...Array.from({ length: CLUSTER_WRITERS }, (_, w) =>
          incrWriter(clusterClient, clusterErrors, w, CLUSTER_WRITERS),
        ),
        ...Array.from({ length: PLAIN_WRITERS }, (_, w) =>
          incrWriter(plainClient, plainErrors, w + 1000, PLAIN_WRITERS),
        ),
        ...Array.from({ length: HTTP_WRITERS }, (_, w) => httpWriter(w)),
      ];

      const startedAt = Date.now();
      await sleep(500);
      // 1. 3,000 of shard 2's slots to shard 3: recorded at once (202), listed as moving in order.
      const first = await move(1, MOVE_TO_3, 3);
      assert.ok(first.moving.length > 0, "the moves are listed");
      assert.ok(
        first.moving.every((m) => m.from === 2 && m.to === 3),
        JSON.stringify(first.moving.slice(0, 3)),
      );
      await movesDone();
      const firstDoneMs = Date.now() - startedAt;
      // 2. A range of them back to shard 2, while 1,500 of shard 1's slots move to shard 2 as well.
      await move(2, MOVE_BACK_TO_2, 2);
      await move(3, MOVE_1_TO_2, 2);
      await movesDone();
      const allDoneMs = Date.now() - startedAt;
      await sleep(500); // writes after the last move, routed by the new map
      writing = false;
      await Promise.all(writers);

      // Every counter holds exactly its acknowledged INCRs (plus at most those whose outcome is unknown).
      const values: (string | null)[] = [];
      for (let at = 0; at < COUNTERS; at += 500) {
        values.push(...(await Promise.all(counters.slice(at, at + 500).map((key) => clusterClient.get(key)))));
      }
      for (const [i, key] of counters.entries()) counterValues.set(key, values[i] ?? null);
      const wrong: string[] = [];
      let total = 0;
      for (const [i, key] of counters.entries()) {
        const value = Number(values[i]);
        const low = acknowledged[i] as number;
        const high = low + (maybe[i] as number);
        total += low;
        if (!(value >= low && value <= high)) {
          wrong.push(
            `${key} (slot ${hashSlot(Buffer.from(key))}): ${values[i]}, acknowledged ${low}, maybe ${high - low}`,
          );
        }
      }
      const plainUnexpected = plainErrors.filter((error) => !notApplied(error.slice(error.indexOf(": ") + 2)));
      const stats =
        `${total} INCRs acknowledged, ${tryAgains} TRYAGAIN, ${readsRetried} GETs TRYAGAIN, ${httpRetried} HTTP 503 SLOT_MIGRATING; moves done ` +
        `after ${firstDoneMs} ms and ${allDoneMs} ms`;
      t.diagnostic(stats);
      // Every problem at once (each list cut to its first few), so one run tells the whole story.
      const problems = [
        ...(total >= 200 ? [] : [`only ${total} INCRs went through`]),
        ...report(`counters off their acknowledged INCRs (${stats})`, wrong),
        ...report("errors reached the ioredis Cluster client", clusterErrors),
        ...report("errors other than TRYAGAIN reached the plain client", plainUnexpected),
        ...report("HTTP PUTs failed", httpErrors),
        ...report("reads of unchanging keys answered otherwise", readErrors),
      ];
      assert.deepEqual(problems, [], stats);
    } finally {
      writing = false; // also when an assertion above failed: the loops end on their next turn
      clusterClient.disconnect();
      plainClient.disconnect();
    }
  });

  test("after the moves: CLUSTER SLOTS, COUNTKEYSINSLOT, per-shard keys and DBSIZE agree; HTTP keys read back", async () => {
    // The expected slot table, as ranges per shard; the HTTP view of every node agrees once it follows the map.
    const expectedRanges = (shard: number): [number, number][] => {
      const ranges: [number, number][] = [];
      for (let slot = 0; slot < SLOT_COUNT; slot++) {
        if (expectedOwner[slot] !== shard) continue;
        const last = ranges[ranges.length - 1];
        if (last !== undefined && last[1] === slot - 1) last[1] = slot;
        else ranges.push([slot, slot]);
      }
      return ranges;
    };
    let view: AdminShardsView | undefined;
    for (const id of NODES) {
      view = await eventually(`node ${id} to follow the moved slots`, async () => {
        const now = await shards(id);
        const follows = now.shards.every(
          (shard) => JSON.stringify(shard.slots) === JSON.stringify(expectedRanges(shard.id)) && shard.leader > 0,
        );
        return follows ? now : undefined;
      });
    }
    const leaders = new Map(view?.shards.map((shard) => [shard.id, shard.leader]));
    const leaderPort = (slot: number): number => cluster.respPort(leaders.get(expectedOwner[slot] as number) as number);

    // Which keys each slot holds, by the test's own count.
    const keysPerSlot = new Int32Array(SLOT_COUNT);
    for (const key of allKeys) {
      const slot = hashSlot(Buffer.from(key));
      keysPerSlot[slot] = (keysPerSlot[slot] as number) + 1;
    }
    const keysPerShard = [0, 0, 0];
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const shard = expectedOwner[slot] as number;
      keysPerShard[shard - 1] = (keysPerShard[shard - 1] as number) + (keysPerSlot[slot] as number);
    }

    const problems: string[] = [];
    for (const id of NODES) {
      const client = new Redis({ host: "127.0.0.1", port: cluster.respPort(id), maxRetriesPerRequest: 1 });
      try {
        // CLUSTER SLOTS: every slot's master is the leader of the shard that owns it now.
        problems.push(
          ...(await settle(`node ${id}: CLUSTER SLOTS names another master for`, async () => {
            const slots = (await client.call("CLUSTER", "SLOTS")) as [number, number, [string, number, string]][];
            const masterPort = new Int32Array(SLOT_COUNT);
            for (const [start, end, master] of slots) masterPort.fill(master[1], start, end + 1);
            return range(0, SLOT_COUNT - 1)
              .filter((slot) => masterPort[slot] !== leaderPort(slot))
              .map((slot) => `slot ${slot}: ${masterPort[slot]}, not ${leaderPort(slot)}`);
          })),
        );
        // COUNTKEYSINSLOT: the owner's replica here holds each slot's keys (its local state: let it catch up).
        problems.push(
          ...(await settle(`node ${id}: COUNTKEYSINSLOT is wrong for`, async () => {
            const pipeline = client.pipeline();
            for (let slot = 0; slot < SLOT_COUNT; slot++) pipeline.call("CLUSTER", "COUNTKEYSINSLOT", String(slot));
            const counts = ((await pipeline.exec()) ?? []).map(([error, count]) =>
              error === null ? Number(count) : -1,
            );
            return range(0, SLOT_COUNT - 1)
              .filter((slot) => counts[slot] !== keysPerSlot[slot])
              .map((slot) => `slot ${slot}: ${counts[slot]}, not ${keysPerSlot[slot]}`);
          })),
        );
        // Each replica on this node holds exactly its shard's keys: none left behind on a source, none missing.
        problems.push(
          ...(await settle(`node ${id}: a shard's replica holds other than its keys`, async () => {
            const metrics = await (await fetch(`${cluster.url(id)}/metrics`)).text();
            return [1, 2, 3]
              .map((shard) => {
                const pattern = new RegExp(`^shoal_shard_keys\\{[^}]*shard="${shard}"[^}]*\\} (\\d+)$`, "m");
                const held = Number(pattern.exec(metrics)?.[1]);
                return held === keysPerShard[shard - 1]
                  ? ""
                  : `shard ${shard}: ${held} keys, not ${keysPerShard[shard - 1]}`;
              })
              .filter((problem) => problem !== "");
          })),
        );
        // DBSIZE: every shard's keys counted once.
        problems.push(
          ...(await settle(`node ${id}: DBSIZE`, async () => {
            const size = Number(await client.dbsize());
            return size === allKeys.length ? [] : [`${size}, not ${allKeys.length}`];
          })),
        );
      } finally {
        client.disconnect();
      }
    }

    // Every HTTP key reads its last acknowledged value (or a later PUT whose answer was lost), through every node.
    const wrong: string[] = [];
    for (const [i, key] of httpKeys.entries()) {
      const response = await fetch(`${cluster.url(NODES[i % 3] as number)}/v1/kv/${key}`);
      const value = await response.text();
      const expected = httpExpected.get(key) as { acknowledged: string; maybe: string[] };
      if (response.status !== 200 || !(value === expected.acknowledged || expected.maybe.includes(value))) {
        wrong.push(`${key}: ${response.status} ${value}, expected ${expected.acknowledged}`);
      }
    }
    problems.push(...report("HTTP keys read other than their last value", wrong));
    assert.deepEqual(problems, []);
  });

  test("moves that make no sense answer 400 with a JSON error; the node keeps serving", async () => {
    const epochBefore = (await slotsView(1)).epoch;
    const shard1 = (await shards(1)).shards.find((shard) => shard.id === 1);
    assert.ok(shard1 !== undefined);
    const everySlotOf1 = shard1.slots.flatMap(([from, to]) => range(from, to));
    const cases: [unknown, RegExp][] = [
      [{ slots: [3000], to: 9 }, /There is no shard 9/],
      [{ slots: [16_384], to: 2 }, /slots/],
      [{ slots: [-1], to: 2 }, /slots/],
      [{ slots: [1.5], to: 2 }, /slots/],
      [{ slots: [], to: 2 }, /slots/],
      [{ slots: [3000] }, /to/],
      [{ slots: [3000], to: 0 }, /to/],
      [{ slots: [3000], to: 2, extra: true }, /extra|additional/],
      ["not json", /JSON/],
      [{ slots: everySlotOf1, to: 2 }, /Shard 1 would be left without a slot/],
    ];
    for (const [body, message] of cases) {
      const response = await postMove(1, body);
      const text = await response.text();
      assert.equal(response.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${text}`);
      const error = JSON.parse(text) as { code: string; message: string };
      assert.equal(error.code, "BAD_REQUEST", text);
      assert.match(error.message, message, text);
    }
    assert.equal((await slotsView(1)).epoch, epochBefore, "a refused move changes no map");

    const client = new Redis({ host: "127.0.0.1", port: cluster.respPort(3), maxRetriesPerRequest: 1 });
    try {
      const sizeBefore = Number(await client.dbsize());
      // A slot already moving: 1,000 of shard 3's slots to shard 1, then the last of them again (it moves last).
      const moving = range(12_000, 12_999);
      await move(1, moving, 1);
      const again = await postMove(2, { slots: [12_999, 13_500], to: 2 });
      const againText = await again.text();
      assert.equal(again.status, 400, againText);
      assert.match((JSON.parse(againText) as { message: string }).message, /Slot 12999 is already moving/);
      await movesDone();

      // The nodes still serve: new keys write and read through every node, a key of the slots just moved kept its
      // value, and DBSIZE counts each new key once.
      for (const id of NODES) {
        const key = `after-400:${id}`;
        const put = await fetch(`${cluster.url(id)}/v1/kv/${key}`, { method: "PUT", body: `v${id}` });
        assert.equal(put.status, 200, await put.text());
        const got = await fetch(`${cluster.url((id % 3) + 1)}/v1/kv/${key}`);
        assert.equal(await got.text(), `v${id}`);
      }
      const movedKey = counters.find((key) => moving.includes(hashSlot(Buffer.from(key)))) as string;
      assert.equal(await client.get(movedKey), counterValues.get(movedKey), `${movedKey} kept its counter`);
      assert.equal(Number(await client.dbsize()), sizeBefore + NODES.length, "DBSIZE counts the new keys once");
    } finally {
      client.disconnect();
    }
  });

  test("a revision read before a move never matches after it: If-Match, txn compares and WATCH refuse", async () => {
    const view = await shards(1);
    const shardOfSlot = (slot: number): number =>
      view.shards.find((shard) => shard.slots.some(([from, to]) => slot >= from && slot <= to))?.id ?? 0;
    // One hash tag per shard (its keys live in a slot that shard owns), and each shard's revision.
    const tags = new Map<number, string>();
    for (let i = 0; tags.size < 3; i++) {
      const tag = `rev${i}`;
      const shard = shardOfSlot(hashSlot(Buffer.from(tag)));
      if (!tags.has(shard)) tags.set(shard, tag);
    }
    const put = async (key: string, body: string, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`${cluster.url(2)}/v1/kv/${encodeURIComponent(key)}`, { method: "PUT", body, headers });
    const revisionOf = async (tag: string): Promise<number> => {
      const response = await put(`{${tag}}probe`, "p");
      return ((await response.json()) as { revision: number }).revision;
    };
    const revisions = new Map<number, number>();
    for (const [shard, tag] of tags) revisions.set(shard, await revisionOf(tag));
    const byRevision = [...revisions].sort(([, a], [, b]) => b - a);
    const [from, to] = [byRevision[0]?.[0] as number, byRevision[2]?.[0] as number];
    const tag = tags.get(from) as string;
    // The source is ahead (so a revision read there could come round again on the destination without the floor).
    while ((await revisionOf(tag)) <= (revisions.get(to) as number) + 10) {}
    const key = `{${tag}}cas`;
    const absent = `{${tag}}absent`;
    const written = await put(key, "before");
    assert.equal(written.status, 200);
    const seen = ((await written.json()) as { revision: number }).revision;

    const watcher = new Redis({ host: "127.0.0.1", port: cluster.respPort(1), maxRetriesPerRequest: 1 });
    const absentWatcher = new Redis({ host: "127.0.0.1", port: cluster.respPort(1), maxRetriesPerRequest: 1 });
    const other = new Redis({ host: "127.0.0.1", port: cluster.respPort(3), maxRetriesPerRequest: 1 });
    try {
      await watcher.watch(key);
      await absentWatcher.watch(absent);
      // Created and deleted again on the source before the move: Redis aborts the EXEC of a key written since WATCH.
      await other.set(absent, "briefly");
      await other.del(absent);

      await move(1, [hashSlot(Buffer.from(tag))], to);
      await movesDone();
      const read = await fetch(`${cluster.url(3)}/v1/kv/${encodeURIComponent(key)}`);
      assert.equal(await read.text(), "before");
      const modRevision = Number(read.headers.get("x-shoal-mod-revision"));
      assert.ok(modRevision > seen, `the moved key's modRevision ${modRevision} is above the one read before, ${seen}`);

      const ifMatch = await put(key, "stale-cas", { "if-match": String(seen) });
      assert.equal(ifMatch.status, 412, await ifMatch.text());
      const txn = await fetch(`${cluster.url(1)}/v1/txn`, {
        method: "POST",
        body: JSON.stringify({
          compare: [{ key, target: "modRevision", op: "==", value: seen }],
          success: [{ op: "put", key, value: "stale-txn" }],
        }),
      });
      assert.equal(txn.status, 200, await txn.clone().text());
      assert.equal(((await txn.json()) as { succeeded: boolean }).succeeded, false);
      assert.equal(await watcher.multi().set(key, "stale-watch").exec(), null, "EXEC aborts: the key moved");
      assert.equal(await absentWatcher.multi().set(absent, "x").exec(), null, "EXEC aborts: written since WATCH");
      assert.equal(await other.get(key), "before", "no stale write went through");
      assert.equal(await other.exists(absent), 0);
      // A compare against the revision read after the move holds.
      const fresh = await put(key, "after", { "if-match": String(modRevision) });
      assert.equal(fresh.status, 200, await fresh.text());
    } finally {
      watcher.disconnect();
      absentWatcher.disconnect();
      other.disconnect();
    }
  });

  test("the rebalancer moves a hot slot off a shard that carries the load (by load, not key count)", async () => {
    const view = await shards(1);
    const shardOfSlot = (slot: number): number =>
      view.shards.find((shard) => shard.slots.some(([from, to]) => slot >= from && slot <= to))?.id ?? 0;
    // Two hot keys in two slots of one shard, read by a tight loop; everything else is quiet.
    const hot: string[] = [];
    for (let i = 0; hot.length < 2; i++) {
      const key = `hot:${i}`;
      const slot = hashSlot(Buffer.from(key));
      if (shardOfSlot(slot) === 1 && !hot.some((other) => hashSlot(Buffer.from(other)) === slot)) hot.push(key);
    }
    const hotSlots = hot.map((key) => hashSlot(Buffer.from(key)));
    const client = new Redis({ host: "127.0.0.1", port: cluster.respPort(2), maxRetriesPerRequest: 20 });
    let reading = true;
    const readers = Array.from({ length: 16 }, async (_, worker) => {
      for (let n = 0; reading; n++) await client.get(hot[(n + worker) % 2] as string).catch(() => sleep(50));
    });
    try {
      await Promise.all(hot.map((key) => client.set(key, "v")));
      await cluster.resumeRebalancer();
      // The members' windows (10 s) and the rebalancer's reads (every 10 s) take a while.
      const moved = await eventually(
        "a hot slot to move to another shard",
        async () => {
          const [now, moving] = await Promise.all([shards(1), slotsView(1)]);
          const owners = hotSlots.map(
            (slot) => now.shards.find((shard) => shard.slots.some(([a, b]) => slot >= a && slot <= b))?.id,
          );
          return moving.moving.length === 0 && owners.some((owner) => owner !== 1) ? owners : undefined;
        },
        90_000,
      );
      assert.ok(
        moved.includes(1),
        `one hot slot stays on shard 1: moving both would only move the hot spot (${moved})`,
      );
      // Counted by the meta group's leader, whichever node that is.
      const metrics = await Promise.all(NODES.map(async (id) => (await fetch(`${cluster.url(id)}/metrics`)).text()));
      assert.ok(metrics.some((text) => /^shoal_rebalance_slots_moved_total(\{[^}]*\})? [1-9]/m.test(text)));
    } finally {
      reading = false;
      await Promise.all(readers);
      client.disconnect();
      await cluster.pauseRebalancer();
    }
  });
});
