/**
 * @module The dashboard's recent history: every second the node samples its own /metrics series (commit index,
 * HTTP requests and RESP commands with their latency histograms, keys, store file and WAL size, cache mode's data
 * against maxmemory and keys evicted) and its
 * process's RSS into a ring of the last few minutes, so a page opened now draws charts with points at once
 * (`GET /v1/dashboard/samples`). Rates and percentiles are over the interval since the previous sample. On the
 * leader a sample also holds each member's replication lag (its last index minus the member's match index).
 *
 * Bounded: `capacity` samples of a few numbers each. Cheap: reading a dozen series once a second; nothing runs
 * on the request path.
 */
import type { Registry } from "prom-client";
import type { RaftStatus } from "../../raft/raw-node.js";

/** What a sampler reads: the node's metrics registry and its Raft status (a ShoalNode is one). */
export interface SampledNode {
  readonly metrics: { readonly registry: Registry };
  raftStatus(): RaftStatus;
}

/** One second of a node, as the dashboard charts it. A figure the node cannot give (yet) is null. */
export interface DashboardSample {
  /** Milliseconds since the epoch. */
  readonly t: number;
  readonly committedPerSecond: number | null;
  /** Client requests (not the dashboard's own polling, health probes or watch streams). */
  readonly httpRequestsPerSecond: number | null;
  readonly httpP50Ms: number | null;
  readonly httpP99Ms: number | null;
  readonly respCommandsPerSecond: number | null;
  readonly respP50Ms: number | null;
  readonly respP99Ms: number | null;
  readonly keys: number | null;
  readonly rssBytes: number;
  readonly storeFileBytes: number | null;
  readonly walBytes: number | null;
  /** Cache mode: the data counted against maxmemory, the limit (0: none), and keys this node evicted. */
  readonly memoryUsedBytes: number | null;
  readonly maxmemoryBytes: number | null;
  readonly evictedKeys: number | null;
  /** Leader only: member id → entries behind the leader's last index; null when it has acknowledged nothing
   * to this leader (a member down since the election would otherwise show the whole log). */
  readonly lag?: Readonly<Record<string, number | null>>;
}

export const SAMPLE_INTERVAL_MS = 1000;
/** Five minutes at one sample a second. */
export const SAMPLES_MAX = 300;

/** Request commands that are not client traffic (see http-metrics.ts): left out of rates and latency. */
const MONITORING_COMMANDS = new Set([
  "cluster",
  "metrics",
  "healthz",
  "readyz",
  "openapi",
  "watch",
  "dashboard",
  "unknown",
]);

/** Cumulative counts by upper bound (+Inf last), over every label set that counts. */
interface Histogram {
  readonly bounds: readonly number[];
  readonly counts: readonly number[];
  readonly total: number;
}

/** The raw readings a sample's rates are computed from. */
interface Reading {
  readonly t: number;
  readonly commitIndex: number | null;
  readonly httpLatency: Histogram | undefined;
  readonly respCommands: number | null;
  readonly respLatency: Histogram | undefined;
}

export class DashboardSampler {
  readonly #node: SampledNode;
  readonly #registry: Registry;
  readonly #capacity: number;
  /** A ring: `#samples[(#start + i) % capacity]` is the i-th oldest. */
  readonly #samples: DashboardSample[] = [];
  #start = 0;
  #previous: Reading | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;

  constructor(node: SampledNode, capacity = SAMPLES_MAX) {
    this.#node = node;
    this.#registry = node.metrics.registry;
    this.#capacity = capacity;
  }

  start(intervalMs = SAMPLE_INTERVAL_MS): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.sample(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The samples taken after `afterMs` (all of them when undefined), oldest first. */
  since(afterMs: number | undefined): DashboardSample[] {
    const ordered: DashboardSample[] = [];
    for (let i = 0; i < this.#samples.length; i++) {
      const sample = this.#samples[(this.#start + i) % this.#samples.length] as DashboardSample;
      if (afterMs === undefined || sample.t > afterMs) ordered.push(sample);
    }
    return ordered;
  }

  /** Takes one sample now (the timer calls this; tests may too). A sample still being read is not overlapped. */
  async sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const reading = await this.#read();
      const previous = this.#previous;
      this.#previous = reading;
      this.#push(await this.#toSample(reading, previous));
    } finally {
      this.#sampling = false;
    }
  }

  #push(sample: DashboardSample): void {
    if (this.#samples.length < this.#capacity) {
      this.#samples.push(sample);
      return;
    }
    this.#samples[this.#start] = sample;
    this.#start = (this.#start + 1) % this.#capacity;
  }

  async #read(): Promise<Reading> {
    return {
      t: Date.now(),
      commitIndex: await this.#gauge("shoal_raft_commit_index"),
      httpLatency: await this.#histogram("shoal_http_request_duration_seconds"),
      respCommands: await this.#gauge("shoal_resp_commands_processed"),
      respLatency: await this.#histogram("shoal_resp_command_duration_seconds"),
    };
  }

  async #toSample(now: Reading, previous: Reading | undefined): Promise<DashboardSample> {
    const seconds = previous === undefined ? 0 : (now.t - previous.t) / 1000;
    const perSecond = (current: number | null, before: number | null | undefined): number | null =>
      current === null || before === null || before === undefined || seconds <= 0 || current < before
        ? null // no earlier reading, or a counter that went back (a restart)
        : (current - before) / seconds;
    const http = latencyOver(now.httpLatency, previous?.httpLatency);
    const resp = latencyOver(now.respLatency, previous?.respLatency);
    const lag = this.#lag();
    return {
      t: now.t,
      committedPerSecond: perSecond(now.commitIndex, previous?.commitIndex),
      httpRequestsPerSecond: perSecond(now.httpLatency?.total ?? null, previous?.httpLatency?.total),
      httpP50Ms: http.p50Ms,
      httpP99Ms: http.p99Ms,
      respCommandsPerSecond: perSecond(now.respCommands, previous?.respCommands),
      respP50Ms: resp.p50Ms,
      respP99Ms: resp.p99Ms,
      keys: await this.#gauge("shoal_store_keys"),
      rssBytes: process.memoryUsage.rss(),
      storeFileBytes: await this.#gauge("shoal_store_file_bytes"),
      walBytes: await this.#gauge("shoal_wal_bytes"),
      memoryUsedBytes: await this.#gauge("shoal_memory_used_bytes"),
      maxmemoryBytes: await this.#gauge("shoal_memory_max_bytes"),
      evictedKeys: await this.#gauge("shoal_evicted_keys"),
      ...(lag === undefined ? {} : { lag }),
    };
  }

  #lag(): Record<string, number | null> | undefined {
    const status = this.#node.raftStatus();
    if (status.role !== "leader") return undefined;
    const lag: Record<string, number | null> = {};
    for (const [id, match] of status.matchIndex) {
      if (id !== status.id) lag[String(id)] = match === 0 ? null : Math.max(0, status.lastIndex - match);
    }
    return lag;
  }

  async #gauge(name: string): Promise<number | null> {
    const metric = this.#registry.getSingleMetric(name);
    if (metric === undefined) return null;
    const values = (await metric.get()).values;
    return values.length === 0 ? null : values.reduce((sum, value) => sum + value.value, 0);
  }

  /** A histogram summed over its label sets, leaving out monitoring requests. */
  async #histogram(name: string): Promise<Histogram | undefined> {
    const metric = this.#registry.getSingleMetric(name);
    if (metric === undefined) return undefined;
    const byBound = new Map<number, number>();
    for (const value of (await metric.get()).values) {
      const labels = value.labels as Record<string, string | number | undefined>;
      const command = labels.command;
      const le = labels.le;
      if (le === undefined || (typeof command === "string" && MONITORING_COMMANDS.has(command))) continue;
      const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
      byBound.set(bound, (byBound.get(bound) ?? 0) + value.value);
    }
    const bounds = [...byBound.keys()].sort((a, b) => a - b);
    const counts = bounds.map((bound) => byBound.get(bound) ?? 0);
    return { bounds, counts, total: counts[counts.length - 1] ?? 0 };
  }
}

/** p50 and p99 in milliseconds of what a histogram counted since `previous`; nulls when nothing was counted. */
function latencyOver(
  now: Histogram | undefined,
  previous: Histogram | undefined,
): { p50Ms: number | null; p99Ms: number | null } {
  if (now === undefined || previous === undefined || now.total <= previous.total) return { p50Ms: null, p99Ms: null };
  // (A histogram with labels has no buckets at all before its first observation: all zeros.)
  if (previous.bounds.length > 0 && now.bounds.length !== previous.bounds.length) return { p50Ms: null, p99Ms: null };
  const deltas = now.counts.map((count, i) => count - (previous.counts[i] ?? 0));
  const inMs = (seconds: number | null) => (seconds === null ? null : seconds * 1000);
  return { p50Ms: inMs(quantile(now.bounds, deltas, 0.5)), p99Ms: inMs(quantile(now.bounds, deltas, 0.99)) };
}

/**
 * Prometheus' histogram_quantile over cumulative counts: linear within the bucket holding the rank; a rank in
 * the +Inf bucket answers the largest finite bound.
 */
export function quantile(bounds: readonly number[], cumulative: readonly number[], q: number): number | null {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (let i = 0; i < bounds.length; i++) {
    const bound = bounds[i] as number;
    const count = cumulative[i] as number;
    if (count >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return lowerBound;
      const width = count - lowerCount;
      return width <= 0 ? bound : lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / width;
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}
