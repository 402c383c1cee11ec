/**
 * WAL write-path benchmark: sequential saves (each awaited, as the Raft host does per Ready) of N entries of
 * 100 bytes, per fsync policy, on a temporary directory under os.tmpdir(). Reports saves/s, entries/s, the
 * save latency percentiles, and the p50 of the fdatasync calls themselves (timed inside a wrapping Disk).
 * A reference line times a bare `FileHandle.write` + `datasync` loop on the same disk, so the WAL's overhead
 * over the raw device is visible.
 *
 *   npx tsc -p . && node dist/bench/wal-bench.js [durationMs=3000]
 */
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Disk, DiskFile } from "../src/io/disk.js";
import { NodeDisk } from "../src/io/node/disk.js";
import type { Entry } from "../src/raft/types.js";
import type { FsyncPolicy } from "../src/wal/commit-queue.js";
import { Wal } from "../src/wal/wal.js";

const durationMs = Number(process.argv[2] ?? 3000);

/** A NodeDisk whose file syncs are timed. */
class TimedDisk extends NodeDisk implements Disk {
  readonly syncMs: number[] = [];

  override async open(path: string, mode: "create" | "existing"): Promise<DiskFile> {
    const file = await super.open(path, mode);
    const syncMs = this.syncMs;
    return {
      write: (data, positionBytes) => file.write(data, positionBytes),
      sync: async () => {
        const started = performance.now();
        await file.sync();
        syncMs.push(performance.now() - started);
      },
      truncate: (sizeBytes) => file.truncate(sizeBytes),
      close: () => file.close(),
    };
  }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function benchWal(fsync: FsyncPolicy, entriesPerSave: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "shoal-wal-bench-"));
  const disk = new TimedDisk();
  const { wal } = await Wal.open(dir, { disk, fsync, batchIntervalMs: 2 });
  disk.syncMs.length = 0;
  const data = new Uint8Array(100).fill(7);
  const latencyMs: number[] = [];
  let index = 0;
  const started = performance.now();
  while (performance.now() - started < durationMs) {
    const entries: Entry[] = [];
    for (let k = 0; k < entriesPerSave; k++) entries.push({ term: 1, index: ++index, type: "normal", data });
    const saveStarted = performance.now();
    await wal.save({ entries, hardState: { term: 1, vote: 1, commit: index - entriesPerSave } });
    latencyMs.push(performance.now() - saveStarted);
  }
  const elapsedS = (performance.now() - started) / 1000;
  await wal.close();
  await rm(dir, { recursive: true, force: true });
  const saves = latencyMs.length;
  console.log(
    `fsync=${fsync.padEnd(6)} entries/save=${String(entriesPerSave).padStart(2)}  ` +
      `saves/s=${Math.round(saves / elapsedS)
        .toString()
        .padStart(6)}  ` +
      `entries/s=${Math.round((saves * entriesPerSave) / elapsedS)
        .toString()
        .padStart(7)}  ` +
      `save p50=${percentile(latencyMs, 50).toFixed(3)}ms p99=${percentile(latencyMs, 99).toFixed(3)}ms  ` +
      `fsyncs=${disk.syncMs.length} fsync p50=${percentile(disk.syncMs, 50).toFixed(3)}ms`,
  );
}

/** `depth` saves kept in flight (as many Raft groups sharing one WAL would): shows group commit. */
async function benchPipelined(fsync: FsyncPolicy, depth: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "shoal-wal-bench-"));
  const disk = new TimedDisk();
  const { wal } = await Wal.open(dir, { disk, fsync, batchIntervalMs: 2 });
  disk.syncMs.length = 0;
  const data = new Uint8Array(100).fill(7);
  let index = 0;
  let saves = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (performance.now() - started < durationMs) {
      index++;
      await wal.save({ entries: [{ term: 1, index, type: "normal", data }] });
      saves++;
    }
  };
  await Promise.all(Array.from({ length: depth }, lane));
  const elapsedS = (performance.now() - started) / 1000;
  await wal.close();
  await rm(dir, { recursive: true, force: true });
  console.log(
    `fsync=${fsync.padEnd(6)} ${depth} saves in flight, 1 entry each: saves/s=${Math.round(saves / elapsedS)}  ` +
      `fsyncs/s=${Math.round(disk.syncMs.length / elapsedS)}`,
  );
}

/** The floor: the same bytes appended with a bare FileHandle and fdatasync, no WAL. */
async function benchRaw(bytesPerWrite: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "shoal-raw-bench-"));
  const handle = await open(join(dir, "raw"), "w");
  const buffer = new Uint8Array(bytesPerWrite).fill(7);
  const syncMs: number[] = [];
  let position = 0;
  const started = performance.now();
  while (performance.now() - started < durationMs) {
    await handle.write(buffer, 0, buffer.length, position);
    position += buffer.length;
    const syncStarted = performance.now();
    await handle.datasync();
    syncMs.push(performance.now() - syncStarted);
  }
  const elapsedS = (performance.now() - started) / 1000;
  await handle.close();
  await rm(dir, { recursive: true, force: true });
  console.log(
    `raw write+fdatasync of ${bytesPerWrite} bytes: ${Math.round(syncMs.length / elapsedS)}/s, ` +
      `fdatasync p50=${percentile(syncMs, 50).toFixed(3)}ms`,
  );
}

console.log(`node ${process.version}, ${durationMs} ms per case, tmpdir ${tmpdir()}`);
await benchRaw(159);
await benchWal("always", 1);
await benchWal("always", 64);
await benchRaw(64 * 126 + 33);
await benchPipelined("always", 16);
await benchWal("batch", 1);
await benchPipelined("batch", 16);
await benchWal("never", 1);
await benchWal("never", 64);
