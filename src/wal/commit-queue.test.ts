import assert from "node:assert/strict";
import { basename } from "node:path";
import { describe, it } from "node:test";
import type { Disk, DiskFile } from "../io/disk.js";
import { NodeDisk } from "../io/node/disk.js";
import { ShoalError } from "../lib/errors.js";
import type { Entry } from "../raft/types.js";
import type { FsyncPolicy } from "./commit-queue.js";
import { Wal, type WalOptions } from "./wal.js";
import { withTempDir } from "./wal-fixtures.js";

type Event = "write" | "sync" | "syncDirectory" | `resolved ${number}`;

/** A real disk that records the order of writes and syncs, and can be told to fail the next sync. */
class RecordingDisk implements Disk {
  readonly events: Event[] = [];
  failNextSync = false;
  readonly #inner = new NodeDisk();

  makeDirectory(path: string) {
    return this.#inner.makeDirectory(path);
  }
  list(path: string) {
    return this.#inner.list(path);
  }
  readFile(path: string) {
    return this.#inner.readFile(path);
  }
  remove(path: string) {
    return this.#inner.remove(path);
  }
  rename(from: string, to: string) {
    return this.#inner.rename(from, to);
  }
  async syncDirectory(path: string) {
    this.events.push("syncDirectory");
    await this.#inner.syncDirectory(path);
  }
  async open(path: string, mode: "create" | "existing"): Promise<DiskFile> {
    const file = await this.#inner.open(path, mode);
    const events = this.events;
    return {
      write: async (data, positionBytes) => {
        events.push("write");
        await file.write(data, positionBytes);
      },
      sync: async () => {
        if (this.failNextSync) {
          this.failNextSync = false;
          throw new Error(`EIO: simulated fsync failure on ${basename(path)}`);
        }
        events.push("sync");
        await file.sync();
      },
      truncate: (sizeBytes) => file.truncate(sizeBytes),
      close: () => file.close(),
    };
  }

  count(event: Event): number {
    return this.events.filter((e) => e === event).length;
  }
}

function entry(index: number): Entry {
  return { index, term: 1, type: "normal", data: new Uint8Array(100).fill(index & 0xff) };
}

async function openRecorded(dir: string, fsync: FsyncPolicy, options: Partial<WalOptions> = {}) {
  const disk = new RecordingDisk();
  const { wal } = await Wal.open(dir, { disk, fsync, ...options });
  disk.events.length = 0; // Forget the header written on open.
  return { wal, disk };
}

/** Issues saves for indexes [first, last] without awaiting; records "resolved i" as each resolves. */
function issue(wal: Wal, disk: RecordingDisk, first: number, last: number): Promise<void>[] {
  const pending: Promise<void>[] = [];
  for (let index = first; index <= last; index++) {
    pending.push(wal.save({ entries: [entry(index)] }).then(() => void disk.events.push(`resolved ${index}`)));
  }
  return pending;
}

/** Every save resolved only after a file sync that followed its write (the k-th write is save k's). */
function assertEachResolvedAfterItsSync(events: readonly Event[], first: number, last: number): void {
  let writes = 0;
  const writeAt = new Map<number, number>();
  events.forEach((event, at) => {
    if (event === "write") writeAt.set(first + writes++, at);
  });
  for (let index = first; index <= last; index++) {
    const written = writeAt.get(index);
    assert.ok(written !== undefined, `save ${index} was written`);
    const resolved = events.indexOf(`resolved ${index}`);
    const synced = events.indexOf("sync", written);
    assert.ok(synced > written && synced < resolved, `save ${index} resolved before its fsync: ${events.join(",")}`);
  }
}

describe("fsync policies", () => {
  it("always: each save resolves after its own write and fsync", async () => {
    await withTempDir("fsync-always", async (dir) => {
      const { wal, disk } = await openRecorded(dir, "always");
      for (let index = 1; index <= 5; index++) {
        await wal.save({ entries: [entry(index)] });
        disk.events.push(`resolved ${index}`);
      }
      assert.deepEqual(disk.events.slice(0, 6), ["write", "sync", "resolved 1", "write", "sync", "resolved 2"]);
      assertEachResolvedAfterItsSync(disk.events, 1, 5);
      await wal.close();
    });
  });

  it("always: concurrent saves share fsyncs (group commit) yet each waits for one", async () => {
    await withTempDir("fsync-group", async (dir) => {
      const { wal, disk } = await openRecorded(dir, "always");
      await Promise.all(issue(wal, disk, 1, 50));
      assert.equal(disk.count("write"), 50, "one write per save");
      assert.ok(disk.count("sync") < 50, `expected shared fsyncs, got ${disk.count("sync")} for 50 saves`);
      assertEachResolvedAfterItsSync(disk.events, 1, 50);
      await wal.close();
    });
  });

  it("batch: an idle WAL syncs at once; saves within the interval after it share the next fsync", async () => {
    await withTempDir("fsync-batch", async (dir) => {
      const { wal, disk } = await openRecorded(dir, "batch", { batchIntervalMs: 80 });
      const started = performance.now();
      await Promise.all(issue(wal, disk, 1, 3));
      assert.equal(disk.count("sync"), 1, "the first saves did not wait");
      assert.ok(performance.now() - started < 70, "an idle WAL adds no batching delay");
      const second = issue(wal, disk, 4, 8);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const third = issue(wal, disk, 9, 12);
      await Promise.all([...second, ...third]);
      const elapsedMs = performance.now() - started;
      assert.equal(disk.count("sync"), 2, `saves 4..12 shared one fsync: ${disk.events.join(",")}`);
      assert.ok(elapsedMs >= 75, `they waited for the interval to end (${elapsedMs} ms)`);
      assertEachResolvedAfterItsSync(disk.events, 1, 12);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const idleAgain = performance.now();
      await Promise.all(issue(wal, disk, 13, 13));
      assert.equal(disk.count("sync"), 3);
      assert.ok(performance.now() - idleAgain < 70, "idle again: synced at once");
      await wal.close();
    });
  });

  it("never: saves resolve after the write alone; segments are still synced on rollover and close", async () => {
    await withTempDir("fsync-never", async (dir) => {
      const { wal, disk } = await openRecorded(dir, "never", { segmentBytesMax: 1024 });
      await Promise.all(issue(wal, disk, 1, 5));
      assert.equal(disk.count("sync"), 0);
      assert.equal(disk.count("write"), 5);
      await Promise.all(issue(wal, disk, 6, 12)); // 127 bytes a save: rolls over once past 1024
      assert.equal(disk.count("sync"), 1, "the full segment was synced before the next one was created");
      await wal.close();
      assert.equal(disk.count("sync"), 2, "close syncs");
      assert.equal(disk.count("syncDirectory"), 1, "the new segment's directory entry, on close");
    });
  });

  it("an fsync failure poisons the WAL: that save and every later one reject", async () => {
    await withTempDir("fsync-failure", async (dir) => {
      const { wal, disk } = await openRecorded(dir, "always");
      await wal.save({ entries: [entry(1)] });
      disk.failNextSync = true;
      const isPoison = (error: unknown) =>
        error instanceof ShoalError && error.code === "INTERNAL" && /Cannot write WAL: EIO/.test(error.message);
      await assert.rejects(wal.save({ entries: [entry(2)] }), isPoison);
      await assert.rejects(wal.save({ entries: [entry(3)] }), isPoison);
      await wal.close();
      const { wal: reopened, state } = await Wal.open(dir, { disk: new NodeDisk() });
      assert.ok(state.entries.length >= 1, "what was acknowledged is still there");
      await reopened.close();
    });
  });
});
