/**
 * @module A latency histogram with logarithmic buckets (eight per doubling, so a percentile read from it is
 * within about 9% of the true value) from 1/64 ms to about two minutes, plus the exact count, sum, min and max.
 * Fixed memory whatever the number of samples. Bucket 0 holds samples <= MICROS_MIN; bucket i > 0 holds
 * (MICROS_MIN·2^((i-1)/8), MICROS_MIN·2^(i/8)], so every eighth boundary is a power of two of a millisecond.
 */

const MICROS_MIN = 1000 / 64;
const BUCKETS_PER_DOUBLING = 8;
/** The last bucket's upper bound is 1/64 ms · 2^23 ≈ 131 s; slower samples land in it (max stays exact). */
const BUCKET_COUNT = 23 * BUCKETS_PER_DOUBLING + 1;

export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKET_COUNT);
  count = 0;
  sumMs = 0;
  minMs = Number.POSITIVE_INFINITY;
  maxMs = 0;

  record(ms: number): void {
    const micros = Math.max(0, ms * 1000);
    const index = micros <= MICROS_MIN ? 0 : Math.ceil(Math.log2(micros / MICROS_MIN) * BUCKETS_PER_DOUBLING);
    this.#counts[Math.min(BUCKET_COUNT - 1, index)]++;
    this.count++;
    this.sumMs += ms;
    if (ms < this.minMs) this.minMs = ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKET_COUNT; i++) this.#counts[i] = (this.#counts[i] ?? 0) + other.#counts[i]!;
    this.count += other.count;
    this.sumMs += other.sumMs;
    this.minMs = Math.min(this.minMs, other.minMs);
    this.maxMs = Math.max(this.maxMs, other.maxMs);
  }

  meanMs(): number {
    return this.count === 0 ? 0 : this.sumMs / this.count;
  }

  /** The latency at or below which a fraction `q` (0..1) of the samples fall (a bucket's upper bound, capped at max). */
  percentileMs(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank)
        return i === BUCKET_COUNT - 1 ? this.maxMs : Math.min(this.maxMs, Math.max(this.minMs, bucketUpperMs(i)));
    }
    return this.maxMs;
  }

  /**
   * Counts in coarse buckets for display: one per doubling, "<= upperMs", from the first non-empty one to the
   * last. Empty when there are no samples.
   */
  doublings(): { upperMs: number; count: number }[] {
    const rows = [{ upperMs: bucketUpperMs(0), count: this.#counts[0]! }];
    for (let last = BUCKETS_PER_DOUBLING; last < BUCKET_COUNT; last += BUCKETS_PER_DOUBLING) {
      let count = 0;
      for (let j = last - BUCKETS_PER_DOUBLING + 1; j <= last; j++) count += this.#counts[j]!;
      rows.push({ upperMs: bucketUpperMs(last), count });
    }
    const first = rows.findIndex((row) => row.count > 0);
    if (first === -1) return [];
    const last = rows.length - 1 - [...rows].reverse().findIndex((row) => row.count > 0);
    return rows.slice(first, last + 1);
  }
}

function bucketUpperMs(index: number): number {
  return (MICROS_MIN * 2 ** (index / BUCKETS_PER_DOUBLING)) / 1000;
}
