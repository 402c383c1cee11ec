/**
 * @module One randomized run (the VOPR's shape): a SAFETY phase of `ticks` ticks in which the nemesis partitions,
 * drops, duplicates, delays and crashes while clients write and read and the admin changes membership and
 * moves leadership, with every checker watching every step; then a LIVENESS phase in which the faults are
 * healed and the cluster must converge within `livenessTicks`. Everything is drawn from the one seed.
 */
import { SimAdmin } from "./admin.js";
import { createCheckers } from "./checkers/checker-set.js";
import { type FailureKind, SimViolation } from "./checkers/violation.js";
import { SimCluster } from "./cluster.js";
import { SimHostileClient } from "./hostile-client.js";
import { convergenceGap } from "./liveness.js";
import { findMutation } from "./mutation.js";
import { SimNemesis } from "./nemesis.js";
import { MessageStormError } from "./network.js";
import type { HostObserver } from "./observer.js";
import { derivePrng } from "./random.js";
import { RunStats } from "./run-stats.js";
import { chooseProfile } from "./seed-profile.js";
import { nodeCountFor, type SimOptions } from "./sim-options.js";
import { SimWorkload } from "./workload.js";

export interface SeedFailure {
  readonly kind: FailureKind;
  readonly tick: number;
  readonly message: string;
}

export interface SeedResult {
  readonly seed: number;
  readonly nodeCount: number;
  readonly failure: SeedFailure | undefined;
  readonly ticks: number;
  readonly digest: string;
  readonly summary: string;
}

export type RunOptions = Pick<
  SimOptions,
  "nodes" | "ticks" | "livenessTicks" | "mutation" | "checkers" | "mix" | "leaseReads"
>;

interface RandomRun {
  readonly nodeCount: number;
  readonly cluster: SimCluster;
  readonly nemesis: SimNemesis;
  readonly workload: SimWorkload;
  readonly hostile: SimHostileClient;
  readonly admin: SimAdmin;
  readonly stats: RunStats;
}

export function runRandomSeed(seed: number, options: RunOptions, print: (line: string) => void): SeedResult {
  const run = buildRandomRun(seed, options, print);
  const { cluster, nemesis, workload, hostile, admin, stats } = run;
  const step = (): void => {
    const tick = cluster.tickCount;
    nemesis.step(tick);
    admin.step(tick);
    workload.step(tick);
    hostile.step();
    cluster.tick();
  };
  const failure = guard(cluster, () => {
    cluster.start();
    for (let i = 0; i < options.ticks; i++) step();
    // Liveness phase: no more faults; clients and admin only finish what they started.
    nemesis.heal();
    workload.draining = true;
    hostile.draining = true;
    admin.draining = true;
    livenessPhase(cluster, options.livenessTicks, step, () => convergenceGap(cluster, workload, admin));
  });
  const w = workload.stats;
  const summary =
    `ticks ${cluster.tickCount}, elections ${stats.elections}, max term ${stats.maxTerm}, ` +
    `writes acked ${w.writesAcked}/${w.writesStarted}, reads served ${w.readsServed}/${w.readsIssued}, ` +
    `applied ${stats.appliedEntries}, crashes ${stats.crashes}, snapshot chunks ${stats.snapshotChunks}, ` +
    `snapshots installed ${stats.snapshotsInstalled}, conf changes ${admin.stats.changesProposed}, ` +
    `transfers ${admin.stats.transfers}, moves ${admin.stats.moves}, hostile entries ${hostile.stats.accepted}/${hostile.stats.proposed}, ` +
    `messages ${stats.messages}, digest ${stats.digestHex()}`;
  print(`${String(cluster.tickCount).padStart(5)} ${summary}`);
  return { seed, nodeCount: run.nodeCount, failure, ticks: cluster.tickCount, digest: stats.digestHex(), summary };
}

/** Wires one run: the profile drawn from the seed, the cluster, and every actor with its own random stream. */
function buildRandomRun(seed: number, options: RunOptions, print: (line: string) => void): RandomRun {
  const trace = (line: string): void => print(`${String(cluster.tickCount).padStart(5)} ${line}`);
  const nodeCount = nodeCountFor(options, seed);
  const mutation = options.mutation === undefined ? undefined : findMutation(options.mutation);
  const profile = chooseProfile(derivePrng(seed, "profile"), nodeCount, options.mix);
  const observers: HostObserver[] = [];
  const cluster = new SimCluster({
    seed,
    nodeCount,
    raft: {
      ...profile.raft,
      ...(options.leaseReads ? { readOnlyOption: "leaseBased", checkQuorum: true } : {}),
      ...mutation?.raft,
    },
    network: profile.nemesis.network,
    snapshotEveryEntries: profile.snapshotEveryEntries,
    snapshotRetainEntries: profile.snapshotRetainEntries,
    persistAfterSend: mutation?.persistAfterSend ?? "nothing",
    localReads: mutation?.localReads ?? false,
    observers,
    crashPoint: (host, ready) => nemesis.crashPoint(host, ready),
  });
  const checkers = createCheckers(options.checkers, () => cluster.hosts);
  const nemesis = new SimNemesis(cluster, derivePrng(seed, "nemesis"), profile.nemesis, trace);
  const workload = new SimWorkload(cluster, derivePrng(seed, "workload"), profile.workload, checkers.clientHistory);
  const admin = new SimAdmin(cluster, derivePrng(seed, "admin"), profile.admin, trace, {
    check: options.checkers.includes("moveSafety"),
    ...(mutation?.move === undefined ? {} : { unsafe: mutation.move }),
  });
  const hostile = new SimHostileClient(
    {
      pickProposer: (random) => {
        const live = cluster.liveHosts();
        if (live.length === 0) return undefined;
        const host = random.pick(live);
        return (data) => host.propose(data).accepted;
      },
    },
    derivePrng(seed, "hostile"),
  );
  const stats = new RunStats();
  // Observers may be added until the cluster starts. Checkers observe first, so a violation is reported
  // before the workload or the trace acts on the step.
  observers.push(...checkers.observers, workload, nemesis, stats, traceObserver(trace));
  trace(`seed ${seed}: ${nodeCount} nodes, profile ${JSON.stringify(profile)}`);
  return { nodeCount, cluster, nemesis, workload, hostile, admin, stats };
}

/** Runs `step` until `gap` reports nothing missing; a liveness violation when `ticksMax` runs out first. */
export function livenessPhase(
  cluster: SimCluster,
  ticksMax: number,
  step: () => void,
  gap: () => string | undefined,
): void {
  const deadline = cluster.tickCount + ticksMax;
  for (;;) {
    // Checked every few ticks: the gap walks every node's status, and converging a few ticks late is harmless.
    const missing = cluster.tickCount % 5 === 0 ? gap() : "not checked";
    if (missing === undefined) return;
    if (cluster.tickCount >= deadline) {
      throw new SimViolation("liveness", `not converged ${ticksMax} ticks after healing: ${gap() ?? "converged late"}`);
    }
    step();
  }
}

/** Runs `body`, turning a checker's violation or any exception (an assertion in the core or the storage) into
 * the run's failure. */
export function guard(cluster: SimCluster, body: () => void): SeedFailure | undefined {
  try {
    body();
    return undefined;
  } catch (error) {
    if (error instanceof SimViolation) return { kind: error.checker, tick: cluster.tickCount, message: error.message };
    if (error instanceof MessageStormError)
      return { kind: "liveness", tick: cluster.tickCount, message: error.message };
    const message = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ""}` : String(error);
    return { kind: "exception", tick: cluster.tickCount, message };
  }
}

/** Leader changes, crashes and restarts, for the verbose trace. */
export function traceObserver(trace: (line: string) => void): HostObserver {
  return {
    leaderElected: (host, term) => trace(`node ${host.id} leads term ${term}`),
    crashed: (host) => trace(`node ${host.id} crashed`),
    restarted: (host) => trace(`node ${host.id} restarted (applied ${host.machine.appliedIndex})`),
    stateRestored: (host, machine, cause) => {
      if (cause === "install") trace(`node ${host.id} installed a snapshot at ${machine.appliedIndex}`);
    },
  };
}
