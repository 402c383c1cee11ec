/**
 * @module `npm run bench:raft`: committed proposals per second through the Raft core, driven by the simulator's
 * hosts (persist to MemoryStorage, send, apply, advance — the real Ready order) over an instant network with no
 * faults. It measures the core and the host loop, not I/O: a ceiling for what a real node can reach, and a
 * figure to compare core changes against. A figure, not an assertion.
 *
 * Each host iteration proposes `batch` values at the leader, handles its Readies, then delivers messages until
 * the cluster is quiet (every zero-delay round trip within the same simulated tick).
 */
import { SimCluster } from "../sim/cluster.js";
import { INSTANT_NETWORK } from "../sim/network.js";
import type { SimHost } from "../sim/sim-host.js";
import { encodeWrite, REGISTER_COUNT } from "../sim/state-machine.js";

interface BenchResult {
  readonly nodes: number;
  readonly batch: number;
  readonly proposals: number;
  readonly seconds: number;
}

const SECONDS_PER_CASE = Number(process.env.RAFT_BENCH_SECONDS ?? 2);
/** Iterations between ticks: keeps heartbeats and election timers running at a plausible rate. */
const ITERATIONS_PER_TICK = 20;

function electedCluster(nodes: number): { cluster: SimCluster; leader: SimHost } {
  const cluster = new SimCluster({
    seed: 1,
    nodeCount: nodes,
    raft: { electionTimeoutTicks: 10, heartbeatIntervalTicks: 1 },
    network: INSTANT_NETWORK,
    snapshotEveryEntries: 10_000,
    snapshotRetainEntries: 1_000,
    observers: [],
  });
  cluster.start();
  cluster.runUntil(() => cluster.leader() !== undefined, 1_000);
  const leader = cluster.leader();
  if (leader === undefined) throw new Error("No leader elected on a quiet network");
  cluster.run(5);
  return { cluster, leader };
}

function runCase(nodes: number, batch: number, seconds: number): BenchResult {
  const { cluster, leader } = electedCluster(nodes);
  const payloads = Array.from({ length: batch }, (_, i) => encodeWrite({ valueId: i + 1, key: i % REGISTER_COUNT }));
  const appliedBefore = leader.machine.writes;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  for (let iteration = 1; performance.now() < deadline; iteration++) {
    const accepted = leader.proposeMany(payloads);
    if (accepted !== batch) throw new Error(`Leader refused ${batch - accepted} proposals`);
    cluster.deliverDue();
    if (iteration % ITERATIONS_PER_TICK === 0) cluster.tick();
  }
  cluster.deliverDue();
  const elapsed = (performance.now() - started) / 1000;
  const committed = leader.machine.writes - appliedBefore;
  if (cluster.leader() !== leader) throw new Error("Leadership changed during the benchmark");
  return { nodes, batch, proposals: committed, seconds: elapsed };
}

function main(): void {
  runCase(3, 64, 0.5); // warm-up: let the JIT settle before measuring
  const results: BenchResult[] = [];
  for (const nodes of [3, 5]) for (const batch of [1, 64]) results.push(runCase(nodes, batch, SECONDS_PER_CASE));
  console.log("Raft core through the simulator: committed proposals per second");
  console.log("(in-memory storage, instant network, no faults; 8-byte proposals; one Node.js thread)\n");
  console.log("nodes  batch  committed  seconds  proposals/s");
  for (const r of results) {
    const rate = Math.round(r.proposals / r.seconds);
    console.log(
      `${String(r.nodes).padStart(5)}  ${String(r.batch).padStart(5)}  ${String(r.proposals).padStart(9)}  ` +
        `${r.seconds.toFixed(2).padStart(7)}  ${String(rate).padStart(11)}`,
    );
  }
  console.log(`\nreproduce: npm run bench:raft   (RAFT_BENCH_SECONDS=${SECONDS_PER_CASE} per case)`);
}

main();
