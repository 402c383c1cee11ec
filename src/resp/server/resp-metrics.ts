/**
 * @module The RESP server's figures as Prometheus series in the node's registry (read at scrape time, so the
 * hot path only bumps the plain counters INFO also prints).
 */
import { Gauge, Histogram, type Registry } from "prom-client";
import { COMMAND_LATENCY_BUCKETS_SECONDS, type CommandLatency } from "./command-latency.js";
import type { ServerFigures } from "./server-info.js";

const SERIES: readonly { name: string; help: string; read: (figures: ServerFigures) => number }[] = [
  {
    name: "shoal_resp_connected_clients",
    help: "RESP connections open now",
    read: (f) => f.connectedClients,
  },
  {
    name: "shoal_resp_connections_received",
    help: "RESP connections accepted since start (a running count)",
    read: (f) => f.totalConnections,
  },
  {
    name: "shoal_resp_connections_rejected",
    help: "RESP connections refused since start because --maxclients was reached (a running count)",
    read: (f) => f.rejectedConnections,
  },
  {
    name: "shoal_resp_commands_processed",
    help: "RESP commands processed since start (a running count; INFO's total_commands_processed)",
    read: (f) => f.totalCommands,
  },
];

const LATENCY_SERIES = "shoal_resp_command_duration_seconds";
const LATENCY_HELP =
  "Time from a RESP server starting to process a command to its reply being written (a run counts each command)";

/** Registers the series; `figures` is called at every scrape. Registering twice in one registry is a no-op. */
export function registerRespMetrics(registry: Registry, figures: () => ServerFigures): void {
  if (registry.getSingleMetric(LATENCY_SERIES) === undefined) {
    new CommandLatencyHistogram(registry, () => figures().commandLatency);
  }
  for (const series of SERIES) {
    if (registry.getSingleMetric(series.name) !== undefined) continue;
    new Gauge({
      name: series.name,
      help: series.help,
      registers: [registry],
      collect() {
        this.set(series.read(figures()));
      },
    });
  }
}

/**
 * The RESP server's CommandLatency as a Prometheus histogram. Its counts are kept by CommandLatency (fed per
 * run of commands, see command-latency.ts); `observe` is not used. prom-client's registry reads a histogram
 * through `getForPromString` (its text format; `get`, the JSON form, is built from it too), which the type
 * declarations do not list: this class provides it, and resp-metrics.test.ts checks that /metrics shows it.
 */
class CommandLatencyHistogram extends Histogram {
  readonly #latency: () => CommandLatency;

  constructor(registry: Registry, latency: () => CommandLatency) {
    super({
      name: LATENCY_SERIES,
      help: LATENCY_HELP,
      buckets: [...COMMAND_LATENCY_BUCKETS_SECONDS],
      registers: [registry],
    });
    this.#latency = latency;
  }

  async getForPromString(): Promise<{
    name: string;
    help: string;
    type: "histogram";
    aggregator: "sum";
    values: {
      metricName: string;
      labels: Record<string, string>;
      sharedLabels: Record<string, string>;
      value: number;
    }[];
  }> {
    const { cumulative, sumSeconds, count } = this.#latency().snapshot();
    const bounds = [...COMMAND_LATENCY_BUCKETS_SECONDS.map(String), "+Inf"];
    return {
      name: LATENCY_SERIES,
      help: LATENCY_HELP,
      type: "histogram",
      aggregator: "sum",
      values: [
        ...bounds.map((le, i) => line("bucket", { le }, cumulative[i] ?? 0)),
        line("sum", {}, sumSeconds),
        line("count", {}, count),
      ],
    };
  }
}

/** One line of the latency histogram as prom-client's registry reads it. */
function line(suffix: "bucket" | "sum" | "count", labels: Record<string, string>, value: number) {
  return { metricName: `${LATENCY_SERIES}_${suffix}`, labels, sharedLabels: {}, value };
}
