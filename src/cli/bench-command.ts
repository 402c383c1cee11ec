/**
 * @module `shoal bench`: a closed-loop load against any node(s): N clients, each issuing one request at a time,
 * reads or writes of random keys for a fixed time. Shows a live progress bar on a terminal, then throughput,
 * latency percentiles and a latency histogram. Latencies are measured around the client call, so they include
 * the client's retries while a leader is being elected.
 */
import { performance } from "node:perf_hooks";
import { ShoalClient } from "../client/shoal-client.js";
import { ShoalError } from "../lib/errors.js";
import { Prng } from "../lib/prng.js";
import { CliError } from "./cli-error.js";
import { ENDPOINT_FLAGS, ENDPOINT_HELP, endpointsFromFlags } from "./endpoint-flag.js";
import { LatencyHistogram } from "./latency-histogram.js";
import { integerFlag, numberFlag, parseCommand } from "./parse-flags.js";
import { clearLine, redraw, renderProgressBar } from "./progress-bar.js";
import { colourEnabled, formatCount, formatMs, makeStyle, type Style } from "./terminal.js";

const HELP = `Usage: shoal bench [options]

Runs a load of reads and writes of random keys against the cluster for a fixed time, then prints the
throughput, latency percentiles and a latency histogram. Client i talks to endpoint i mod (number of
endpoints), so a list of endpoints spreads the load.

${ENDPOINT_HELP}
  --clients N          concurrent clients, each with one request in flight (default 16)
  --seconds S          how long to run (default 10)
  --value-bytes N      size of each written value (default 128)
  --ratio R            fraction of requests that are reads, 0 to 1 (default 0.5)
  --keys N             how many distinct keys to spread the load over (default 1000)
  --prefix P           key prefix (default "bench/")
  --seed N             seed for key choice and values (default: random, printed)
  --json               print the results as JSON
  -h, --help           show this help
`;

const FLAGS = {
  ...ENDPOINT_FLAGS,
  clients: { type: "string" },
  seconds: { type: "string" },
  "value-bytes": { type: "string" },
  ratio: { type: "string" },
  keys: { type: "string" },
  prefix: { type: "string" },
  seed: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const PROGRESS_INTERVAL_MS = 200;

interface BenchConfig {
  readonly endpoints: readonly string[];
  readonly timeoutMs: number;
  readonly clients: number;
  readonly seconds: number;
  readonly valueBytes: number;
  readonly ratio: number;
  readonly keys: number;
  readonly prefix: string;
  readonly seed: number;
}

/** What one client saw; merged into the totals at the end. */
class Tally {
  readonly reads = new LatencyHistogram();
  readonly writes = new LatencyHistogram();
  misses = 0;
  readonly errors = new Map<string, number>();
  firstError: string | undefined;

  fail(error: unknown): void {
    const code = error instanceof ShoalError ? error.code : "CLIENT";
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    this.firstError ??= error instanceof Error ? error.message : String(error);
  }

  ops(): number {
    return this.reads.count + this.writes.count;
  }
}

export async function runBench(argv: string[]): Promise<number> {
  const { flags } = parseCommand("bench", argv, FLAGS, { required: [] });
  if (flags.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const config = parseConfig(flags);
  const style = makeStyle(colourEnabled(process.stdout));
  // Fail fast, with one line, when no node answers at all.
  await new ShoalClient({
    endpoints: config.endpoints,
    requestTimeoutMs: config.timeoutMs,
    retryBudgetMs: 0,
  }).cluster();
  if (flags.json !== true) process.stdout.write(describe(config, style));
  const tallies = Array.from({ length: config.clients }, () => new Tally());
  const startedMs = performance.now();
  const stopProgress = startProgress(tallies, startedMs, config.seconds * 1000);
  await Promise.all(tallies.map((tally, i) => runClient(config, i, tally, startedMs + config.seconds * 1000)));
  stopProgress();
  const elapsedS = (performance.now() - startedMs) / 1000;
  const total = tallies.reduce((sum, tally) => mergeInto(sum, tally), new Tally());
  if (total.ops() === 0) throw new CliError(`Every request failed: ${total.firstError ?? "no request completed"}`, 1);
  process.stdout.write(
    flags.json === true ? `${JSON.stringify(summaryJson(config, total, elapsedS))}\n` : report(total, elapsedS, style),
  );
  return 0;
}

function parseConfig(flags: Record<string, unknown>): BenchConfig {
  const seed =
    flags.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : integerFlag(flags, "seed", 0, 0, 2 ** 32 - 1);
  return {
    endpoints: endpointsFromFlags(flags),
    timeoutMs: integerFlag(flags, "timeout", 5000, 1, 3_600_000),
    clients: integerFlag(flags, "clients", 16, 1, 1024),
    seconds: numberFlag(flags, "seconds", 10, 0.1, 24 * 3600),
    valueBytes: integerFlag(flags, "value-bytes", 128, 0, 16 * 1024 * 1024),
    ratio: numberFlag(flags, "ratio", 0.5, 0, 1),
    keys: integerFlag(flags, "keys", 1000, 1, 1_000_000_000),
    prefix: typeof flags.prefix === "string" ? flags.prefix : "bench/",
    seed,
  };
}

/** One closed-loop client: next request as soon as the previous one is answered, until `deadlineMs`. */
async function runClient(config: BenchConfig, index: number, tally: Tally, deadlineMs: number): Promise<void> {
  const endpoints = config.endpoints.map((_, j) => config.endpoints[(index + j) % config.endpoints.length] as string);
  const client = new ShoalClient({ endpoints, requestTimeoutMs: config.timeoutMs, retryBudgetMs: config.timeoutMs });
  const random = new Prng(config.seed + index);
  const value = randomValue(random, config.valueBytes);
  while (performance.now() < deadlineMs) {
    const key = `${config.prefix}${random.int(config.keys)}`;
    const read = random.next() < config.ratio;
    const startMs = performance.now();
    try {
      if (read) {
        if ((await client.get(key)) === undefined) tally.misses++;
        tally.reads.record(performance.now() - startMs);
      } else {
        await client.put(key, value);
        tally.writes.record(performance.now() - startMs);
      }
    } catch (error) {
      tally.fail(error);
      if (error instanceof ShoalError && error.detail?.unreachable === true) await pauseMs(100); // do not spin on a dead node
    }
  }
}

function randomValue(random: Prng, bytes: number): Uint8Array {
  const value = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) value[i] = 97 + random.int(26);
  return value;
}

/** Draws the progress bar on stderr every 200 ms when stderr is a terminal; returns the function that stops it. */
function startProgress(tallies: readonly Tally[], startedMs: number, durationMs: number): () => void {
  const stream = process.stderr;
  if (stream.isTTY !== true) return () => undefined;
  const draw = (): void => {
    const elapsedMs = performance.now() - startedMs;
    const ops = tallies.reduce((sum, tally) => sum + tally.ops(), 0);
    const errors = tallies.reduce((sum, tally) => sum + [...tally.errors.values()].reduce((a, b) => a + b, 0), 0);
    const label =
      `${(elapsedMs / 1000).toFixed(1)}/${(durationMs / 1000).toFixed(1)} s  ${formatCount(ops)} ops  ` +
      `${formatCount(ops / Math.max(0.001, elapsedMs / 1000))} ops/s${errors > 0 ? `  ${formatCount(errors)} errors` : ""}`;
    redraw(stream, renderProgressBar(elapsedMs / durationMs, label, stream.columns || 80)); // 0 on some ptys
  };
  const timer = setInterval(draw, PROGRESS_INTERVAL_MS);
  return () => {
    clearInterval(timer);
    clearLine(stream);
  };
}

function mergeInto(sum: Tally, tally: Tally): Tally {
  sum.reads.merge(tally.reads);
  sum.writes.merge(tally.writes);
  sum.misses += tally.misses;
  for (const [code, count] of tally.errors) sum.errors.set(code, (sum.errors.get(code) ?? 0) + count);
  sum.firstError ??= tally.firstError;
  return sum;
}

function describe(config: BenchConfig, style: Style): string {
  const target = config.endpoints.length === 1 ? config.endpoints[0] : `${config.endpoints.length} endpoints`;
  return (
    `${style.bold("shoal bench")}: ${config.clients} clients for ${config.seconds} s against ${target}; ` +
    `${Math.round(config.ratio * 100)}% reads, ${config.valueBytes}-byte values, ${config.keys} keys under ` +
    `"${config.prefix}", seed ${config.seed}\n`
  );
}

function report(total: Tally, elapsedS: number, style: Style): string {
  const all = new LatencyHistogram();
  all.merge(total.reads);
  all.merge(total.writes);
  const errorCount = [...total.errors.values()].reduce((a, b) => a + b, 0);
  const lines = [
    "",
    `${style.bold("Throughput")}  ${formatCount(all.count / elapsedS)} ops/s  (${formatCount(all.count)} ops in ${elapsedS.toFixed(1)} s: ` +
      `${formatCount(total.reads.count)} reads, ${formatCount(total.misses)} of them misses; ${formatCount(total.writes.count)} writes)`,
    errorCount === 0
      ? `${style.bold("Errors")}      ${style.green("0")}`
      : `${style.bold("Errors")}      ${style.red(formatCount(errorCount))} (${[...total.errors].map(([c, n]) => `${c} ${n}`).join(", ")}); first: ${total.firstError}`,
    "",
    style.bold("Latency (ms)    mean     p50     p90     p99   p99.9     max"),
    percentileRow("all", all),
    ...(total.reads.count > 0 ? [percentileRow("reads", total.reads)] : []),
    ...(total.writes.count > 0 ? [percentileRow("writes", total.writes)] : []),
    "",
    style.bold("Latency histogram (all requests)"),
    ...histogramRows(all, style),
  ];
  return `${lines.join("\n")}\n`;
}

function percentileRow(label: string, histogram: LatencyHistogram): string {
  const cells = [histogram.meanMs(), ...[0.5, 0.9, 0.99, 0.999].map((q) => histogram.percentileMs(q)), histogram.maxMs];
  return `  ${label.padEnd(10)}${cells.map((ms) => formatMs(ms).padStart(8)).join("")}`;
}

const BAR_WIDTH = 40;

function histogramRows(histogram: LatencyHistogram, style: Style): string[] {
  const rows = histogram.doublings();
  const most = Math.max(1, ...rows.map((row) => row.count));
  return rows.map((row) => {
    const width = row.count === 0 ? 0 : Math.max(1, Math.round((row.count / most) * BAR_WIDTH));
    const share = `${((row.count / histogram.count) * 100).toFixed(1)}%`;
    return (
      `  <= ${formatMs(row.upperMs).padStart(7)} ms  ${style.cyan("█".repeat(width))}${" ".repeat(BAR_WIDTH - width)}  ` +
      `${formatCount(row.count).padStart(9)}  ${share.padStart(6)}`
    );
  });
}

function summaryJson(config: BenchConfig, total: Tally, elapsedS: number): Record<string, unknown> {
  const all = new LatencyHistogram();
  all.merge(total.reads);
  all.merge(total.writes);
  const latency = (h: LatencyHistogram) => ({
    count: h.count,
    meanMs: h.meanMs(),
    p50Ms: h.percentileMs(0.5),
    p90Ms: h.percentileMs(0.9),
    p99Ms: h.percentileMs(0.99),
    p999Ms: h.percentileMs(0.999),
    maxMs: h.maxMs,
  });
  return {
    config,
    elapsedSeconds: elapsedS,
    opsPerSecond: all.count / elapsedS,
    reads: latency(total.reads),
    writes: latency(total.writes),
    all: latency(all),
    misses: total.misses,
    errors: Object.fromEntries(total.errors),
    histogram: all.doublings(),
  };
}

function pauseMs(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
