/**
 * @module The WAL's options with their defaults, validated once when it opens.
 */
import type { Disk } from "../io/disk.js";
import { assert } from "../lib/assert.js";
import type { FsyncPolicy } from "./commit-queue.js";

export interface WalOptions {
  /** The file system (`NodeDisk` in production, a simulated one in tests). */
  readonly disk: Disk;
  /** When a save counts as durable; see `commit-queue.ts`. @default "always" */
  readonly fsync?: FsyncPolicy;
  /** With `fsync: "batch"`, the least time between the starts of two fsyncs; saves arriving in between share
   * the next one. @default 2 */
  readonly batchIntervalMs?: number;
  /** A new segment starts when a save would grow the current one past this. A single entry record larger
   * than this is refused (TOO_LARGE). @default 64 MiB */
  readonly segmentBytesMax?: number;
  /** How the batch policy waits; the simulator passes its clock's. @default setTimeout */
  readonly delay?: (ms: number) => Promise<void>;
  /** How recovery yields to the event loop between slices of a segment's replay; the simulator passes its
   * scope's next turn. @default setImmediate */
  readonly pause?: () => Promise<void>;
  /** UNSAFE: mutation switches for the simulator's mutation tests (sim/README.md); never set in production. */
  readonly unsafe?: WalUnsafe;
}

/** Each switches one durability mechanism off, so the simulator can prove that its checkers notice. */
export interface WalUnsafe {
  /** A save resolves without the fsync that makes it durable. */
  readonly skipSync?: boolean;
  /** Replay accepts a record whose checksum does not match. */
  readonly skipChecksum?: boolean;
}

export type ResolvedWalOptions = Required<WalOptions>;

/** Small enough for tests to roll segments often; large enough for a header and a modest entry. */
export const SEGMENT_BYTES_MIN = 256;

export function resolveWalOptions(options: WalOptions): ResolvedWalOptions {
  const resolved: ResolvedWalOptions = {
    disk: options.disk,
    fsync: options.fsync ?? "always",
    batchIntervalMs: options.batchIntervalMs ?? 2,
    segmentBytesMax: options.segmentBytesMax ?? 64 * 1024 * 1024,
    delay: options.delay ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    pause: options.pause ?? (() => new Promise((resolve) => setImmediate(resolve))),
    unsafe: options.unsafe ?? {},
  };
  const { fsync, batchIntervalMs, segmentBytesMax } = resolved;
  assert(fsync === "always" || fsync === "batch" || fsync === "never", `Unknown fsync policy ${String(fsync)}`);
  assert(Number.isFinite(batchIntervalMs) && batchIntervalMs >= 0, "batchIntervalMs must be a non-negative number");
  assert(Number.isSafeInteger(segmentBytesMax), "segmentBytesMax must be an integer");
  assert(segmentBytesMax >= SEGMENT_BYTES_MIN, `segmentBytesMax must be at least ${SEGMENT_BYTES_MIN}`);
  assert(segmentBytesMax <= 0xffff_ffff, "segmentBytesMax must fit a record length (u32)");
  return resolved;
}
