/**
 * @module The disruption scenario: a healthy cluster elects a leader; one follower is cut off for several
 * election timeouts while clients keep writing; then it rejoins. With PreVote and CheckQuorum the leader keeps
 * its role and term throughout (the disruption checker); with both off, the rejoining node's inflated term
 * deposes it. All safety checkers run as well, and the cluster must converge at the end.
 */
import { assert } from "../src/lib/assert.js";
import { createCheckers } from "./checkers/checker-set.js";
import { DisruptionChecker } from "./checkers/disruption.js";
import { SimCluster } from "./cluster.js";
import { convergenceGap } from "./liveness.js";
import { findMutation } from "./mutation.js";
import type { HostObserver } from "./observer.js";
import { derivePrng } from "./random.js";
import { guard, livenessPhase, type RunOptions, type SeedResult, traceObserver } from "./run-seed.js";
import { RunStats } from "./run-stats.js";
import { ELECTION_TIMEOUT_TICKS } from "./seed-profile.js";
import { nodeCountFor } from "./sim-options.js";
import { SimWorkload } from "./workload.js";

export function runDisruptionSeed(seed: number, options: RunOptions, print: (line: string) => void): SeedResult {
  const trace = (line: string): void => print(`${String(cluster.tickCount).padStart(5)} ${line}`);
  const nodeCount = nodeCountFor(options, seed);
  const random = derivePrng(seed, "disruption");
  const mutation = options.mutation === undefined ? undefined : findMutation(options.mutation);
  const observers: HostObserver[] = [];
  const cluster = new SimCluster({
    seed,
    nodeCount,
    raft: {
      electionTimeoutTicks: ELECTION_TIMEOUT_TICKS,
      heartbeatIntervalTicks: random.between(1, 3),
      preVote: true,
      checkQuorum: true,
      ...mutation?.raft,
    },
    network: { dropChance: 0, duplicateChance: 0, delayTicksMin: 1, delayTicksMax: 2 },
    snapshotEveryEntries: 20,
    snapshotRetainEntries: 0,
    observers,
  });
  const checkers = createCheckers(options.checkers, () => cluster.hosts);
  const disruption = new DisruptionChecker();
  const workloadSettings = {
    clientCount: 2,
    writeChance: 0.2,
    readChance: 0.1,
    writeTimeoutTicks: 40,
    readTimeoutTicks: 40,
  };
  const workload = new SimWorkload(cluster, derivePrng(seed, "workload"), workloadSettings, checkers.clientHistory);
  const stats = new RunStats();
  observers.push(...checkers.observers, disruption, workload, stats, traceObserver(trace));
  const step = (): void => {
    workload.step(cluster.tickCount);
    cluster.tick();
    disruption.check(cluster);
  };

  const failure = guard(cluster, () => {
    cluster.start();
    const elected = cluster.runUntil(() => cluster.leader() !== undefined, 50 * ELECTION_TIMEOUT_TICKS);
    assert(elected, "No leader elected in a healthy cluster");
    for (let i = 0; i < 5 * ELECTION_TIMEOUT_TICKS; i++) step();
    const leader = cluster.leader();
    const status = leader?.status();
    assert(leader !== undefined && status !== undefined, "The leader vanished in a healthy cluster");
    disruption.arm(leader.id, status.term);
    const follower = random.pick(cluster.nodeIds.filter((id) => id !== leader.id));
    const isolatedTicks = random.between(3, 20) * ELECTION_TIMEOUT_TICKS;
    trace(`isolate node ${follower} for ${isolatedTicks} ticks (leader ${leader.id}, term ${status.term})`);
    cluster.isolate(follower);
    for (let i = 0; i < isolatedTicks; i++) step();
    trace(`heal node ${follower}`);
    cluster.healAll();
    for (let i = 0; i < 30 * ELECTION_TIMEOUT_TICKS; i++) step();
    workload.draining = true;
    livenessPhase(cluster, options.livenessTicks, step, () => convergenceGap(cluster, workload, undefined));
  });
  const summary = `ticks ${cluster.tickCount}, elections ${stats.elections}, max term ${stats.maxTerm}, digest ${stats.digestHex()}`;
  trace(summary);
  return { seed, nodeCount, failure, ticks: cluster.tickCount, digest: stats.digestHex(), summary };
}
