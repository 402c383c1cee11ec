import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { CommandResult } from "../commands/command.js";
import { encodeCommand } from "../commands/command-codec.js";
import { NODE_CLOCK } from "../io/node/clock.js";
import { ShoalError } from "../lib/errors.js";
import { Prng } from "../lib/prng.js";
import { resolveRaftConfig } from "../raft/config.js";
import { MemoryStorage } from "../raft/memory-storage.js";
import { RawNode } from "../raft/raw-node.js";
import type { Message, NodeId } from "../raft/types.js";
import type { ApplyEntry, StateMachineStore } from "../store/state-machine-store.js";
import { memoryCommandStore } from "./command-store.js";
import type { PeerNetwork } from "./ports.js";
import { RaftHost } from "./raft-host.js";

/** Three hosts in one process over an in-memory network that can cut a node off (as if it were paused or
 * partitioned: what is sent to or from it is lost). WAL and snapshot files are no-ops: durability is not what
 * these tests are about. */
class HostCluster {
  readonly hosts = new Map<NodeId, RaftHost>();
  readonly leadershipChanges = new Map<NodeId, NodeId[]>();
  readonly #handlers = new Map<NodeId, (message: Message) => void>();
  readonly #isolated = new Set<NodeId>();
  /** While set, every member's WAL saves wait for it: a disk stall on all of them at once. */
  #diskStall: Promise<void> | undefined;

  readonly storages = new Map<NodeId, MemoryStorage>();

  constructor(options: {
    lostLeadershipGraceMs: number;
    electionTimeoutTicks?: number;
    store?: () => StateMachineStore<CommandResult>;
    snapshotLogBytes?: number;
    snapshotRetainBytesMax?: number;
  }) {
    const ids = [1, 2, 3];
    const electionTimeoutTicks = options.electionTimeoutTicks ?? 10;
    for (const id of ids) {
      const storage = new MemoryStorage({ voters: ids, learners: [] });
      this.storages.set(id, storage);
      const config = resolveRaftConfig({ id, groupId: 1, electionTimeoutTicks, heartbeatIntervalTicks: 1 });
      const changes: NodeId[] = [];
      this.leadershipChanges.set(id, changes);
      const host = new RaftHost({
        raw: new RawNode(config, storage, new Prng(id * 7919)),
        storage,
        wal: {
          save: async () => {
            await this.#diskStall;
          },
          compact: async () => {},
          close: async () => {},
        },
        store: options.store?.() ?? memoryCommandStore(),
        network: this.#network(id),
        snapshots: { save: async () => {}, load: async () => undefined, prune: async () => {} },
        clock: NODE_CLOCK,
        tickMs: 10,
        snapshotThresholdEntries: 1_000_000,
        snapshotRetainEntries: 1000,
        ...(options.snapshotLogBytes === undefined ? {} : { snapshotLogBytes: options.snapshotLogBytes }),
        ...(options.snapshotRetainBytesMax === undefined
          ? {}
          : { snapshotRetainBytesMax: options.snapshotRetainBytesMax }),
        // Far beyond anything a test waits: a request settled by its timeout would fail the test.
        proposalTimeoutMs: 60_000,
        readTimeoutMs: 60_000,
        // Turns far apart: a loaded test machine may delay a PreVote round by tens of milliseconds.
        campaignStaggerMs: 250,
        lostLeadershipGraceMs: options.lostLeadershipGraceMs,
        onFatal: (error) => {
          throw error;
        },
        onLeadershipChange: (leaderId) => changes.push(leaderId),
      });
      this.hosts.set(id, host);
    }
    for (const host of this.hosts.values()) host.start();
  }

  host(id: NodeId): RaftHost {
    const host = this.hosts.get(id);
    assert.ok(host !== undefined);
    return host;
  }

  /** Stalls every member's WAL saves until the returned function is called. */
  stallDisks(): () => void {
    let release = (): void => {};
    this.#diskStall = new Promise((resolve) => {
      release = () => {
        this.#diskStall = undefined;
        resolve();
      };
    });
    return release;
  }

  isolate(id: NodeId): void {
    this.#isolated.add(id);
  }

  heal(): void {
    this.#isolated.clear();
  }

  /** The node every reachable member follows as leader (the isolated ones are not asked). */
  async leader(excluding?: NodeId): Promise<NodeId> {
    let found: NodeId | undefined;
    await waitFor("a leader", () => {
      const members = [...this.hosts].filter(([id]) => id !== excluding && !this.#isolated.has(id));
      const leaders = new Set(members.map(([, host]) => host.raw.status().leaderId));
      const [leader] = leaders;
      if (leaders.size !== 1 || leader === undefined || leader === 0 || leader === excluding) return false;
      found = leader;
      return this.host(leader).raw.status().role === "leader";
    });
    return found as NodeId;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((host) => host.stop()));
  }

  #network(id: NodeId): PeerNetwork {
    return {
      send: (messages) => {
        for (const message of messages) {
          const copy = structuredClone(message);
          setImmediate(() => {
            if (this.#isolated.has(copy.from) || this.#isolated.has(copy.to)) return;
            this.#handlers.get(copy.to)?.(copy);
          });
        }
      },
      onMessage: (handler) => this.#handlers.set(id, handler),
      request: () => Promise.reject(new ShoalError("UNAVAILABLE", "no RPC in these tests")),
      onRequest: () => {},
    };
  }
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadlineMs = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadlineMs) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function put(key: string): Uint8Array {
  return encodeCommand({ op: "put", key: Buffer.from(key), value: Buffer.from("v"), nowMs: Date.now() });
}

/** How a promise ended: its error code (or "ok") and when, for checks that it ended long before a timeout. */
async function outcome(promise: Promise<unknown>): Promise<{ code: string; atMs: number }> {
  try {
    await promise;
    return { code: "ok", atMs: performance.now() };
  } catch (error) {
    return { code: error instanceof ShoalError ? error.code : String(error), atMs: performance.now() };
  }
}

let cluster: HostCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe("RaftHost when leadership moves", () => {
  it("settles a deposed leader's proposals as PROPOSAL_DROPPED once the new leader's log overtakes them", async () => {
    cluster = new HostCluster({ lostLeadershipGraceMs: 30_000 });
    const oldLeader = await cluster.leader();
    cluster.isolate(oldLeader);
    // Accepted into the old leader's log at its term; no majority will ever acknowledge them.
    const proposals = ["a", "b", "c"].map((key) => outcome(cluster!.host(oldLeader).propose(put(key))));
    const newLeader = await cluster.leader(oldLeader);
    cluster.heal();
    // The new leader holds only its no-op past the common prefix: the first proposal's index is overwritten
    // (settled by apply), the two after it are beyond the new leader's log and settled because an entry of a
    // later term committed before their indexes (without that rule they would wait for the 30 s grace).
    const outcomes = await Promise.all(proposals);
    assert.deepEqual(
      outcomes.map((o) => o.code),
      ["PROPOSAL_DROPPED", "PROPOSAL_DROPPED", "PROPOSAL_DROPPED"],
    );
    assert.notEqual(newLeader, oldLeader);
    assert.equal(cluster.host(oldLeader).raw.status().leaderId, newLeader);
  });

  it("fails a cut-off leader's proposals as UNKNOWN_OUTCOME after the grace, not at their timeout", async () => {
    cluster = new HostCluster({ lostLeadershipGraceMs: 200 });
    const leader = await cluster.leader();
    cluster.isolate(leader);
    const startMs = performance.now();
    // CheckQuorum makes it step down after an election timeout; nobody can tell it whether the entry commits.
    const result = await outcome(cluster.host(leader).propose(put("k")));
    assert.equal(result.code, "UNKNOWN_OUTCOME");
    assert.ok(result.atMs - startMs < 30_000, `settled after ${result.atMs - startMs} ms, not by the grace`);
    assert.notEqual(cluster.host(leader).raw.status().role, "leader");
  });

  it("fails a leader's waiting proposals as UNKNOWN_OUTCOME when it stops (its entry may still commit), reads as UNAVAILABLE", async () => {
    cluster = new HostCluster({ lostLeadershipGraceMs: 60_000 });
    const leader = await cluster.leader();
    cluster.isolate(leader); // the entry is appended but cannot commit
    const write = outcome(cluster.host(leader).propose(put("k")));
    const read = outcome(cluster.host(leader).readBarrier());
    await new Promise((resolve) => setTimeout(resolve, 20));
    await cluster.host(leader).stop();
    assert.equal((await write).code, "UNKNOWN_OUTCOME", "a retry could apply it twice");
    assert.equal((await read).code, "UNAVAILABLE");
  });

  it("retries a follower's unconfirmed read when another leader appears, and reports the change", async () => {
    cluster = new HostCluster({ lostLeadershipGraceMs: 30_000 });
    const oldLeader = await cluster.leader();
    const follower = ([1, 2, 3] as const).find((id) => id !== oldLeader) as NodeId;
    cluster.isolate(oldLeader); // as if paused: the ReadIndex request it is sent is never answered
    const read = outcome(cluster.host(follower).readBarrier());
    const newLeader = await cluster.leader(oldLeader);
    const result = await read;
    assert.equal(result.code, "UNAVAILABLE"); // retryable: the node asks again, now the new leader
    // The read fails as soon as the follower sees the term move (it may first learn only that there is no leader);
    // the new leader's first message reaches it soon after.
    for (let waitedMs = 0; waitedMs < 2000; waitedMs += 10) {
      if (cluster.leadershipChanges.get(follower)?.includes(newLeader)) break;
      await new Promise((done) => setTimeout(done, 10));
    }
    assert.ok(cluster.leadershipChanges.get(follower)?.includes(newLeader));
    await cluster.host(follower).readBarrier(); // which confirms it
  });

  it("keeps a leader's proposals that commit in its term and answers them with their results", async () => {
    cluster = new HostCluster({ lostLeadershipGraceMs: 30_000 });
    const leader = await cluster.leader();
    const result = await cluster.host(leader).propose(put("k"));
    assert.equal(result.kind, "put");
  });

  it("elects a new leader without waiting for the election timeout once the followers know the leader is gone", async () => {
    // An election timeout of 10,000 ticks (100 s): within this test only the crash signal can start an election.
    cluster = new HostCluster({ lostLeadershipGraceMs: 30_000, electionTimeoutTicks: 10_000 });
    cluster.host(1).raw.campaign();
    cluster.host(1).schedule();
    assert.equal(await cluster.leader(), 1);
    const term = cluster.host(2).raw.status().term;
    // One follower alone forgetting a leader the other still hears from changes nothing: its PreVote is ignored.
    cluster.host(3).leaderGone(1);
    cluster.host(2).leaderGone(3); // not its leader: ignored
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(cluster.host(2).raw.status().leaderId, 1);
    assert.equal(cluster.host(2).raw.status().term, term);
    // The leader's process is gone: both followers' dials are refused.
    cluster.isolate(1);
    cluster.host(2).leaderGone(1);
    cluster.host(3).leaderGone(1);
    const newLeader = await cluster.leader(1);
    assert.equal(newLeader, 2, "the first in id order campaigns first");
    assert.equal(cluster.host(3).raw.status().term, term + 1, "one election, no split vote");
  });
});

describe("RaftHost through a slow disk", () => {
  it("keeps its leader while every member's fsync stalls for many election timeouts (heartbeats answered meanwhile)", async () => {
    cluster = new HostCluster({ lostLeadershipGraceMs: 30_000 });
    const leader = await cluster.leader();
    const term = cluster.host(leader).raw.status().term;
    const release = cluster.stallDisks();
    // The write's Ready stalls on the leader and on each follower that receives it: no member can finish a Ready,
    // as when kernel writeback holds every node's fsync for a second (issue 10).
    const write = outcome(cluster.host(leader).propose(put("k")));
    await new Promise((resolve) => setTimeout(resolve, 800)); // election timeout: 10 ticks of 10 ms (up to 2x)
    release();
    assert.equal((await write).code, "ok");
    for (const [id, host] of cluster.hosts) {
      assert.deepEqual(
        [host.raw.status().leaderId, host.raw.status().term],
        [leader, term],
        `node ${id} still follows the leader of term ${term}`,
      );
    }
  });
});

describe("RaftHost apply slices", () => {
  it("shrinks its slices when entries apply slowly, so one slice holds the loop about 10 ms", async () => {
    const slicesByStore: number[][] = [];
    const stores: StateMachineStore<CommandResult>[] = [];
    /** A store whose apply costs ~1 ms of busy work per entry (as a just-restarted node's cold code can). */
    const slowStore = (): StateMachineStore<CommandResult> => {
      const store = memoryCommandStore();
      const slices: number[] = [];
      slicesByStore.push(slices);
      stores.push(store);
      const applyEntries = store.applyEntries.bind(store);
      store.applyEntries = (entries: readonly ApplyEntry[]) => {
        slices.push(entries.length);
        const until = performance.now() + entries.length;
        while (performance.now() < until) {}
        return applyEntries(entries);
      };
      return store;
    };
    const hosts = new HostCluster({ lostLeadershipGraceMs: 1000, store: slowStore });
    cluster = hosts;
    const leaderId = await hosts.leader();
    // A follower cut off while 300 entries commit, then healed: it finds them all queued at once.
    const followerId = ([1, 2, 3] as NodeId[]).find((id) => id !== leaderId) as NodeId;
    hosts.isolate(followerId);
    await Promise.all(Array.from({ length: 300 }, (_, i) => hosts.host(leaderId).propose(put(`k${i}`))));
    const backlogFrom = (slicesByStore[followerId - 1] as number[]).length;
    hosts.heal();
    const follower = stores[followerId - 1] as StateMachineStore<CommandResult>;
    const target = (stores[leaderId - 1] as StateMachineStore<CommandResult>).appliedIndex();
    await waitFor("the follower to catch up", () => follower.appliedIndex() >= target, 30_000);
    const slices = (slicesByStore[followerId - 1] as number[]).slice(backlogFrom);
    // It starts at 64 entries and halves per overrun (1 ms entries: 16 take 16 ms, an overrun too), so at most
    // two slices above 16 entries; without adaptation every slice of the backlog would hold 64.
    const big = slices.filter((n) => n > 16);
    assert.ok(slices.length >= 10, `the backlog applied in slices: ${slices.join(", ")}`);
    assert.ok(big.length <= 2, `slices over 16 entries: ${big.join(", ")} (all: ${slices.join(", ")})`);
  });

  it("bounds the log it holds by bytes: a snapshot once enough bytes applied, and a bounded tail kept behind it", async () => {
    // Entries far fewer than the entry threshold (1,000,000) but big: without a byte bound the whole log would stay.
    const hosts = new HostCluster({
      lostLeadershipGraceMs: 1000,
      snapshotLogBytes: 1_000_000,
      snapshotRetainBytesMax: 300_000,
    });
    cluster = hosts;
    const leaderId = await hosts.leader();
    const value = new Uint8Array(100_000).fill(7);
    for (let i = 0; i < 40; i++) {
      await hosts.host(leaderId).propose(encodeCommand({ op: "put", key: Buffer.from(`big${i}`), value, nowMs: 1 }));
    }
    await waitFor("every member to snapshot and compact", () =>
      [...hosts.storages.values()].every(
        (storage) => storage.snapshot().metadata.index > 0 && storage.firstIndex() > 10,
      ),
    );
    for (const [id, storage] of hosts.storages) {
      const held = storage.entries(storage.firstIndex(), storage.lastIndex() + 1, Number.POSITIVE_INFINITY);
      const bytes = held.reduce((sum, entry) => sum + entry.data.byteLength, 0);
      // Ahead of the snapshot: until 1 MB applied and half the state (4 MB) — 2 MB; behind it: at most 300 KB. The
      // whole log (4 MB) would stay without the byte bound.
      assert.ok(
        bytes <= 2_000_000 + 300_000 + 100_100,
        `member ${id} holds ${bytes} bytes of log in ${held.length} entries`,
      );
    }
  });
});
