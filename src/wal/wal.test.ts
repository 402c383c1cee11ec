import assert from "node:assert/strict";
import { appendFile, copyFile, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { NodeDisk } from "../io/node/disk.js";
import { AssertionError } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import { Prng } from "../lib/prng.js";
import type { Entry } from "../raft/types.js";
import { ENTRY_DATA_PART_BYTES_MIN } from "./record-encoder.js";
import { FrameCursor, RecordType } from "./record-frame.js";
import { Wal, type WalOptions } from "./wal.js";
import { ModelLog, randomSave, stateKey, withTempDir } from "./wal-fixtures.js";

const disk = new NodeDisk();
const CONF = { voters: [1, 2, 3], learners: [] };

function open(dir: string, options: Partial<WalOptions> = {}) {
  return Wal.open(dir, { disk, fsync: "never", ...options });
}

function entry(index: number, term: number, text = `entry ${index}.${term}`): Entry {
  return { index, term, type: "normal", data: new TextEncoder().encode(text) };
}

function entries(first: number, last: number, term: number): Entry[] {
  return Array.from({ length: last - first + 1 }, (_, k) => entry(first + k, term));
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith(".wal")).sort();
}

describe("Wal", () => {
  it("opens a fresh directory empty", async () => {
    await withTempDir("wal-fresh", async (dir) => {
      const { wal, state } = await open(join(dir, "nested", "wal"));
      assert.deepEqual(state, { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: undefined, entries: [] });
      await wal.close();
      await wal.close();
    });
  });

  it("round-trips entries, hard state and a snapshot marker across reopen", async () => {
    await withTempDir("wal-roundtrip", async (dir) => {
      const model = new ModelLog();
      const { wal } = await open(dir, { fsync: "always" });
      const saves = [
        { entries: entries(1, 3, 1), hardState: { term: 1, vote: 1, commit: 2 } },
        { entries: [{ ...entry(4, 1), type: "confChange" as const }], hardState: { term: 1, vote: 1, commit: 4 } },
        { snapshot: { index: 3, term: 1, confState: CONF }, entries: [entry(5, 1, "")] },
      ];
      for (const save of saves) {
        model.apply(save);
        await wal.save(save);
      }
      assert.equal(wal.lastIndex, 5);
      await wal.close();
      const reopened = await open(dir);
      assert.equal(stateKey(reopened.state), stateKey(model.state()));
      assert.deepEqual(
        reopened.state.entries.map((e) => e.index),
        [4, 5],
      );
      await reopened.wal.close();
    });
  });

  it("replays a big segment in slices, pausing between them, to the same state", async () => {
    await withTempDir("wal-sliced-replay", async (dir) => {
      const { wal } = await open(dir);
      // 3,000 entries of ~1 KiB: one ~3 MiB segment, so replay pauses at least twice (every 1 MiB of records).
      const big = Array.from({ length: 3000 }, (_, k) => entry(k + 1, 1, `${k}:${"x".repeat(1000)}`));
      await wal.save({ entries: big, hardState: { term: 1, vote: 1, commit: 3000 } });
      await wal.close();
      let pauses = 0;
      const reopened = await open(dir, {
        pause: () => {
          pauses++;
          return new Promise((resolve) => setImmediate(resolve));
        },
      });
      assert.ok(pauses >= 2, `replay paused ${pauses} times`);
      assert.equal(reopened.state.entries.length, 3000);
      assert.equal(new TextDecoder().decode(reopened.state.entries[2999]?.data).slice(0, 5), "2999:");
      await reopened.wal.close();
    });
  });

  it("lets an entry at an existing index replace that suffix", async () => {
    await withTempDir("wal-overwrite", async (dir) => {
      const { wal } = await open(dir);
      await wal.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 1, commit: 3 } });
      await wal.save({ entries: entries(6, 7, 2), hardState: { term: 2, vote: 2, commit: 3 } });
      assert.equal(wal.lastIndex, 7);
      await wal.close();
      const { wal: again, state } = await open(dir);
      assert.deepEqual(
        state.entries.map((e) => [e.index, e.term]),
        [
          [1, 1],
          [2, 1],
          [3, 1],
          [4, 1],
          [5, 1],
          [6, 2],
          [7, 2],
        ],
      );
      await again.save({ entries: entries(8, 8, 2) });
      await again.close();
      const third = await open(dir);
      assert.equal(third.state.entries.length, 8);
      await third.wal.close();
    });
  });

  it("keeps the entries after a matching snapshot marker and drops a conflicting log", async () => {
    await withTempDir("wal-snapshot", async (dir) => {
      const { wal } = await open(dir);
      await wal.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 1, commit: 8 } });
      await wal.save({ snapshot: { index: 5, term: 1, confState: CONF }, entries: [] });
      assert.equal(wal.lastIndex, 10, "a snapshot matching the log keeps what follows it");
      await wal.save({
        snapshot: { index: 9, term: 3, confState: CONF },
        entries: [],
        hardState: { term: 3, vote: 0, commit: 9 },
      });
      assert.equal(wal.lastIndex, 9, "a conflicting snapshot discards the whole log");
      await wal.close();
      const { wal: again, state } = await open(dir);
      assert.deepEqual(state.snapshot, { index: 9, term: 3, confState: CONF });
      assert.deepEqual(state.entries, []);
      assert.deepEqual(state.hardState, { term: 3, vote: 0, commit: 9 });
      await again.close();
    });
  });

  it("recovers exactly the reference model after random saves, reopens and compactions", async () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      await withTempDir("wal-random", async (dir) => {
        const prng = new Prng(seed);
        const model = new ModelLog();
        let { wal } = await open(dir, { segmentBytesMax: 2048 });
        for (let step = 0; step < 300; step++) {
          const save = randomSave(prng, model);
          model.apply(save);
          await wal.save(save);
          if (prng.chance(0.05) && model.snapshotIndex > 0) await wal.compact(prng.between(0, model.snapshotIndex));
          if (prng.chance(0.05)) {
            await wal.close();
            const reopened = await open(dir, { segmentBytesMax: 2048 });
            assert.equal(stateKey(reopened.state), stateKey(model.state()), `seed ${seed} step ${step}`);
            wal = reopened.wal;
          }
        }
        await wal.close();
        const final = await open(dir);
        assert.equal(stateKey(final.state), stateKey(model.state()), `seed ${seed} final`);
        await final.wal.close();
      });
    }
  });

  it("accepts saves issued without awaiting the previous ones, in call order", async () => {
    await withTempDir("wal-pipelined", async (dir) => {
      const { wal } = await open(dir, { fsync: "always", segmentBytesMax: 1024 });
      const pending: Promise<void>[] = [];
      for (let index = 1; index <= 200; index++) {
        pending.push(wal.save({ entries: [entry(index, 1)], hardState: { term: 1, vote: 1, commit: index - 1 } }));
      }
      await Promise.all(pending);
      await wal.close();
      const { wal: again, state } = await open(dir);
      assert.deepEqual(
        state.entries.map((e) => e.index),
        Array.from({ length: 200 }, (_, k) => k + 1),
      );
      assert.equal(state.hardState.commit, 199);
      await again.close();
    });
  });
});

describe("Wal segments", () => {
  it("rolls over at segmentBytesMax, and every segment starts with a header", async () => {
    await withTempDir("wal-rollover", async (dir) => {
      const { wal } = await open(dir, { segmentBytesMax: 1024 });
      await wal.save({ entries: [entry(1, 1)], snapshot: undefined, hardState: { term: 1, vote: 1, commit: 0 } });
      await wal.save({ snapshot: { index: 1, term: 1, confState: CONF }, entries: [] });
      for (let index = 2; index <= 60; index++) {
        await wal.save({ entries: [entry(index, 1, "x".repeat(100))], hardState: { term: 1, vote: 1, commit: index } });
      }
      await wal.close();
      const files = await segmentFiles(dir);
      assert.ok(files.length >= 6, `expected several segments, got ${files.length}`);
      assert.equal(files[0], "0000000000000001.wal");
      for (const name of files) {
        const bytes = await readFile(join(dir, name));
        assert.ok(bytes.length <= 1024, `${name} has ${bytes.length} bytes`);
        const cursor = new FrameCursor();
        assert.equal(cursor.read(bytes, 0), undefined);
        if (name !== files[0]) {
          assert.equal(cursor.type, RecordType.snapshot, `${name} starts with the snapshot marker`);
          assert.equal(cursor.read(bytes, cursor.end), undefined);
          assert.equal(cursor.type, RecordType.hardState, `${name} repeats the hard state`);
        }
      }
    });
  });

  it("compacts whole segments covered by a snapshot, and the rest still recovers", async () => {
    await withTempDir("wal-compact", async (dir) => {
      const model = new ModelLog();
      const { wal } = await open(dir, { segmentBytesMax: 1024 });
      const save = async (s: Parameters<Wal["save"]>[0]) => {
        model.apply(s);
        await wal.save(s);
      };
      for (let index = 1; index <= 100; index++) {
        await save({ entries: [entry(index, 1, "y".repeat(60))], hardState: { term: 1, vote: 1, commit: index } });
      }
      await save({ snapshot: { index: 80, term: 1, confState: CONF }, entries: [] });
      const before = await segmentFiles(dir);
      await wal.compact(80);
      const after = await segmentFiles(dir);
      const removed = before.filter((name) => !after.includes(name));
      assert.ok(removed.length > 0, "segments covered by the snapshot were removed");
      assert.deepEqual(removed, before.slice(0, removed.length), "only the oldest ones");
      for (let index = 101; index <= 130; index++) {
        await save({ entries: [entry(index, 1, "z".repeat(60))], hardState: { term: 1, vote: 1, commit: index } });
      }
      await wal.close();
      // The first kept segment's header names an older snapshot, and its first entries continue ones that were
      // deleted: recovery must accept that, because the snapshot at 80 covers them.
      const firstKept = await readFile(join(dir, after[0] as string));
      const cursor = new FrameCursor();
      assert.equal(cursor.read(firstKept, 0), undefined);
      assert.equal(cursor.type, RecordType.hardState, "the first kept segment started before any snapshot");
      await wal.close();
      const { wal: again, state } = await open(dir);
      assert.equal(stateKey(state), stateKey(model.state()));
      assert.equal(state.entries[0]?.index, 81);
      await again.close();
    });
  });

  it("recovers after a compaction interrupted midway, and removes the leftovers", async () => {
    await withTempDir("wal-leftover", async (dir) => {
      const model = new ModelLog();
      const { wal } = await open(dir, { segmentBytesMax: 1024 });
      for (let index = 1; index <= 60; index++) {
        const s = { entries: [entry(index, 1, "w".repeat(60))], hardState: { term: 1, vote: 1, commit: index } };
        model.apply(s);
        await wal.save(s);
      }
      const snapshotSave = { snapshot: { index: 60, term: 1, confState: CONF }, entries: [entry(61, 1)] };
      model.apply(snapshotSave);
      await wal.save(snapshotSave);
      const files = await segmentFiles(dir);
      await copyFile(join(dir, files[0] as string), join(dir, "saved-oldest"));
      const more = { entries: [entry(62, 1, "v".repeat(900))], hardState: { term: 1, vote: 1, commit: 62 } };
      model.apply(more);
      await wal.save(more);
      await wal.compact(60);
      await wal.close();
      // A crash midway through compaction can leave the oldest segment behind a gap in sequence numbers.
      await copyFile(join(dir, "saved-oldest"), join(dir, files[0] as string));
      const { wal: again, state } = await open(dir);
      assert.equal(stateKey(state), stateKey(model.state()));
      assert.ok(!(await segmentFiles(dir)).includes(files[0] as string), "the leftover was removed");
      await again.close();
    });
  });

  it("gives an entry larger than a segment a segment of its own, and replays it (inline or as a part)", async () => {
    for (const size of [3000, ENTRY_DATA_PART_BYTES_MIN + 7]) {
      await withTempDir("wal-big-entry", async (dir) => {
        const { wal } = await open(dir, { segmentBytesMax: 1024 });
        await wal.save({ entries: [entry(1, 1)] });
        const huge = { index: 2, term: 1, type: "normal" as const, data: new Uint8Array(size).fill(7) };
        await wal.save({ entries: [huge], hardState: { term: 1, vote: 1, commit: 1 } });
        await wal.save({ entries: [entry(3, 1)] });
        await wal.close();
        assert.equal((await segmentFiles(dir)).length, 3, "the big entry sits alone in the middle segment");
        const { wal: again, state } = await open(dir);
        assert.deepEqual(
          state.entries.map((e) => [e.index, e.data.byteLength]),
          [
            [1, entry(1, 1).data.byteLength],
            [2, size],
            [3, entry(3, 1).data.byteLength],
          ],
        );
        assert.ok(state.entries[1]?.data.every((byte) => byte === 7));
        assert.equal(state.hardState.commit, 1);
        await again.close();
      });
    }
  });

  it("asserts on saves that break the log's rules", async () => {
    await withTempDir("wal-asserts", async (dir) => {
      const { wal } = await open(dir);
      await wal.save({ entries: entries(1, 3, 2), hardState: { term: 2, vote: 1, commit: 2 } });
      assert.throws(() => wal.save({ entries: [entry(5, 2)] }), AssertionError, "a gap");
      assert.throws(() => wal.save({ entries: [entry(4, 2), entry(6, 2)] }), AssertionError, "not consecutive");
      assert.throws(() => wal.save({ entries: [entry(2, 3)] }), AssertionError, "replaces a committed entry");
      assert.throws(() => wal.save({ entries: [], hardState: { term: 2, vote: 3, commit: 2 } }), AssertionError);
      assert.throws(() => wal.compact(1), AssertionError, "no snapshot covers it");
      await wal.close();
      assert.throws(() => wal.save({ entries: [] }), AssertionError, "closed");
    });
  });

  it("ignores files that are not segments", async () => {
    await withTempDir("wal-foreign", async (dir) => {
      await writeFile(join(dir, "README"), "not a segment");
      const { wal, state } = await open(dir);
      assert.equal(state.entries.length, 0);
      await wal.close();
    });
  });

  it("cuts a zero-filled tail (a file extended but never written) and appends after it", async () => {
    await withTempDir("wal-zeros", async (dir) => {
      const { wal } = await open(dir);
      await wal.save({ entries: entries(1, 5, 1), hardState: { term: 1, vote: 1, commit: 5 } });
      await wal.close();
      const [name] = await segmentFiles(dir);
      const sizeBytes = (await stat(join(dir, name as string))).size;
      await appendFile(join(dir, name as string), new Uint8Array(8192));
      const { wal: again, state } = await open(dir);
      assert.equal(state.entries.length, 5);
      assert.equal((await stat(join(dir, name as string))).size, sizeBytes, "the zeros were cut off");
      await again.save({ entries: [entry(6, 1)] });
      await again.close();
      const third = await open(dir);
      assert.equal(third.state.entries.length, 6);
      await third.wal.close();
    });
  });

  it("refuses to start when a segment was deleted by hand and no snapshot covers its entries", async () => {
    for (const victim of [0, 1]) {
      await withTempDir("wal-deleted", async (dir) => {
        const { wal } = await open(dir, { segmentBytesMax: 1024 });
        for (let index = 1; index <= 60; index++) {
          await wal.save({
            entries: [entry(index, 1, "u".repeat(60))],
            hardState: { term: 1, vote: 1, commit: index },
          });
        }
        await wal.close();
        const files = await segmentFiles(dir);
        await rm(join(dir, files[victim] as string));
        await assert.rejects(open(dir), (error: unknown) => {
          assert.ok(error instanceof ShoalError);
          assert.match(
            error.message,
            /^Cannot recover WAL: entries 1 to \d+ are missing and no snapshot covers them in/,
          );
          return true;
        });
        const survivors = files.filter((_, k) => k !== victim);
        assert.deepEqual(await segmentFiles(dir), survivors, "a refused recovery deletes nothing");
      });
    }
  });
});
