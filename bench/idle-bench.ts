/**
 * @module `npm run bench:idle`: what an idle node costs as the shards it hosts grow (issue 12: "many groups must be
 * cheap"). For each shard count it starts a 3-node cluster (`--shards N`, real processes), lets the leaders settle,
 * then reads each node's CPU time (utime + stime from /proc/<pid>/stat) and resident memory over a quiet window in
 * which no client sends anything. Prints the CPU as a percentage of one core per node and its RSS. A figure, not an
 * assertion; Linux only (it reads /proc).
 *
 *   npm run bench:idle -- [--shards 1,16,64] [--seconds 10]
 */
import { readFileSync } from "node:fs";
import { ProcessCluster, sleep } from "../test/support/process-cluster.js";
import { benchArgs } from "./bench-args.js";

const { values } = benchArgs(
  {
    shards: { type: "string", default: "1,16,64" },
    seconds: { type: "string", default: "10" },
  },
  "npm run bench:idle -- [--shards 1,16,64] [--seconds 10]",
);
const shardCounts = values.shards.split(",").map(Number);
const seconds = Number(values.seconds);
/** USER_HZ: the unit of /proc/<pid>/stat's times (100 on every Linux this runs on). */
const CLOCK_TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

/** CPU seconds used so far and resident bytes of process `pid`. */
function usage(pid: number): { cpuSeconds: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces, so split after its closing parenthesis).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rssPages = Number(fields[21]);
  return { cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND, rssBytes: rssPages * PAGE_BYTES };
}

interface Row {
  readonly shards: number;
  readonly cpuPercent: number[];
  readonly rssMiB: number[];
}

async function measure(shards: number): Promise<Row> {
  const cluster = await ProcessCluster.start({ nodes: 3, extraArgs: ["--shards", String(shards)] });
  try {
    await cluster.waitForLeader(60_000);
    await sleep(5000); // elections, leader hand-overs and their catch-up settle
    const ids = [1, 2, 3];
    const pids = ids.map((id) => cluster.pid(id) as number);
    const before = pids.map(usage);
    const startedMs = performance.now();
    await sleep(seconds * 1000);
    const elapsedS = (performance.now() - startedMs) / 1000;
    const after = pids.map(usage);
    return {
      shards,
      cpuPercent: after.map(
        (a, i) => ((a.cpuSeconds - (before[i] as { cpuSeconds: number }).cpuSeconds) / elapsedS) * 100,
      ),
      rssMiB: after.map((a) => a.rssBytes / 2 ** 20),
    };
  } finally {
    await cluster.stop();
  }
}

const rows: Row[] = [];
for (const shards of shardCounts) {
  process.stderr.write(`${shards} shard(s): starting\n`);
  rows.push(await measure(shards));
}
console.log(`idle 3-node cluster, ${seconds} s quiet window: CPU (% of one core) and RSS per node`);
console.log(
  `${"shards".padEnd(8)}${"cpu node 1..3".padEnd(30)}${"cpu mean".padStart(10)}${"rss MiB node 1..3".padStart(28)}`,
);
for (const row of rows) {
  const mean = row.cpuPercent.reduce((a, b) => a + b, 0) / row.cpuPercent.length;
  console.log(
    `${String(row.shards).padEnd(8)}${row.cpuPercent
      .map((c) => `${c.toFixed(1)}%`.padStart(8))
      .join("")
      .padEnd(30)}` +
      `${`${mean.toFixed(1)}%`.padStart(10)}${row.rssMiB
        .map((r) => r.toFixed(0).padStart(8))
        .join("")
        .padStart(28)}`,
  );
}
console.log(`Reproduce: npm run bench:idle -- --shards ${shardCounts.join(",")} --seconds ${seconds}`);
