/**
 * @module How long RESP commands take, from the moment a connection starts processing them to their replies
 * being written (a write includes its Raft round, a read its ReadIndex barrier). Commands are processed in runs
 * (one log entry, one read batch), so a run of n commands that took t seconds records t n times — in one step,
 * with no allocation: this sits on the hot path, where an ordinary prom-client `observe` per command would cost
 * about half a microsecond each. /metrics exposes it as the histogram `shoal_resp_command_duration_seconds`.
 */

/** From a pipelined GET (tens of µs) to a write that waits out an election (seconds). */
export const COMMAND_LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

export class CommandLatency {
  /** Commands per bucket (not cumulative); the last slot is above the largest bound (+Inf). */
  readonly #counts = new Array<number>(COMMAND_LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
  #sumSeconds = 0;
  #count = 0;

  /** Records that `commands` commands each took `seconds`. */
  record(commands: number, seconds: number): void {
    if (commands <= 0) return;
    let bucket = 0;
    while (
      bucket < COMMAND_LATENCY_BUCKETS_SECONDS.length &&
      seconds > (COMMAND_LATENCY_BUCKETS_SECONDS[bucket] as number)
    ) {
      bucket++;
    }
    this.#counts[bucket] = (this.#counts[bucket] as number) + commands;
    this.#sumSeconds += seconds * commands;
    this.#count += commands;
  }

  /** Cumulative counts per bound (Prometheus' `le` buckets, +Inf last), their sum and count. */
  snapshot(): { readonly cumulative: readonly number[]; readonly sumSeconds: number; readonly count: number } {
    let running = 0;
    const cumulative = this.#counts.map((count) => (running += count));
    return { cumulative, sumSeconds: this.#sumSeconds, count: this.#count };
  }
}
