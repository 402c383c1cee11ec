/**
 * SimDisk: synced data survives a crash and unsynced data may not; fsync completes in virtual time; a dead
 * process's operations never complete; and the real WAL over it recovers a prefix of its saves after any crash
 * (a torn or garbled tail is cut), but refuses to start on corruption in the middle of its log.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Entry } from "../src/raft/types.js";
import { Wal } from "../src/wal/wal.js";
import { derivePrng } from "./random.js";
import { SimClock } from "./sim-clock.js";
import { type DiskFaults, SimDisk } from "./sim-disk.js";

const HARSH: DiskFaults = { syncLatencyMsMin: 1, syncLatencyMsMax: 5, tornWriteChance: 0.5, garbageChance: 0.5 };
const noCheck = (): void => {};

function entry(index: number, term = 1): Entry {
  const data = new TextEncoder().encode(`value-${index}-${"x".repeat(index % 7)}`);
  return { index, term, type: "normal", data };
}

test("a synced write survives a crash; an unsynced one may be lost, whole or torn", async () => {
  const clock = new SimClock();
  const lost = new Set<number>();
  for (let seed = 1; seed <= 40; seed++) {
    const disk = new SimDisk(clock, derivePrng(seed, "disk"), HARSH);
    const view = disk.view();
    await view.makeDirectory("/d");
    const file = await view.open("/d/f", "create");
    await view.syncDirectory("/d");
    await file.write(Uint8Array.of(1, 2, 3, 4), 0);
    const synced = file.sync();
    await clock.advanceTo(clock.now() + 10, noCheck);
    await synced;
    await file.write(Uint8Array.of(5, 6, 7, 8), 4);
    disk.crash();
    const after = await disk.view().readFile("/d/f");
    assert.deepEqual([...after.subarray(0, 4)], [1, 2, 3, 4], `seed ${seed}: synced bytes survive`);
    assert.ok(after.byteLength >= 4 && after.byteLength <= 8);
    lost.add(after.byteLength);
  }
  assert.ok(lost.has(4), "some crash loses the unsynced write");
  assert.ok(lost.has(8), "some crash keeps it");
  assert.ok(
    [...lost].some((n) => n > 4 && n < 8),
    "some crash tears it",
  );
});

test("fsync completes only when virtual time reaches its latency", async () => {
  const clock = new SimClock();
  const disk = new SimDisk(clock, derivePrng(1, "disk"), { ...HARSH, syncLatencyMsMin: 7, syncLatencyMsMax: 7 });
  const view = disk.view();
  await view.makeDirectory("/d");
  const file = await view.open("/d/f", "create");
  await view.syncDirectory("/d");
  await file.write(Uint8Array.of(9), 0);
  let done = false;
  void file.sync().then(() => {
    done = true;
  });
  await clock.advanceTo(6, noCheck);
  assert.equal(done, false);
  await clock.advanceTo(7, noCheck);
  assert.equal(done, true);
  assert.deepEqual(disk.durableContents("/d/f"), Uint8Array.of(9));
});

test("a file created but never made durable in its directory may vanish in a crash", async () => {
  const outcomes = new Set<boolean>();
  for (let seed = 1; seed <= 20; seed++) {
    const clock = new SimClock();
    const disk = new SimDisk(clock, derivePrng(seed, "disk"), HARSH);
    const view = disk.view();
    await view.makeDirectory("/d");
    await view.open("/d/f", "create");
    disk.crash();
    outcomes.add((await disk.view().list("/d")).includes("f"));
  }
  assert.deepEqual([...outcomes].sort(), [false, true]);
});

test("after a crash, the dead process's operations never complete", async () => {
  const clock = new SimClock();
  const disk = new SimDisk(clock, derivePrng(1, "disk"), HARSH);
  const view = disk.view();
  await view.makeDirectory("/d");
  const file = await view.open("/d/f", "create");
  let settled = false;
  void file.sync().finally(() => {
    settled = true;
  });
  disk.crash();
  void view.list("/d").finally(() => {
    settled = true;
  });
  await clock.advanceTo(1000, noCheck);
  assert.equal(settled, false);
});

test("the WAL over a crashing SimDisk recovers a prefix of its saves, whatever the crash did to the tail", async () => {
  let torn = 0;
  let garbled = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const clock = new SimClock();
    const disk = new SimDisk(clock, derivePrng(seed, "disk"), HARSH);
    const { wal } = await clock.drive(Wal.open("/wal", { disk: disk.view(), segmentBytesMax: 512 }));
    const durable: number[] = [];
    const saves = 2 + (seed % 9);
    for (let index = 1; index <= saves; index++) {
      const saved = wal.save({ entries: [entry(index)], hardState: { term: 1, vote: 1, commit: index - 1 } });
      // The last save is left in flight (written, not yet synced) when the power goes.
      if (index === saves) {
        await clock.advanceTo(clock.now(), noCheck); // its write is issued; its fsync takes at least 1 ms
        break;
      }
      await clock.advanceTo(clock.now() + 10, noCheck);
      await saved;
      durable.push(index);
    }
    disk.crash();
    torn += disk.stats.tornWrites;
    garbled += disk.stats.garbledWrites;
    const { state } = await clock.drive(Wal.open("/wal", { disk: disk.view(), segmentBytesMax: 512 }));
    const recovered = state.entries.map((e) => e.index);
    assert.deepEqual(recovered.slice(0, durable.length), durable, `seed ${seed}: every durable save is back`);
    assert.ok(recovered.length <= saves, `seed ${seed}: nothing invented`);
    for (const e of state.entries) assert.deepEqual(e.data, entry(e.index).data, `seed ${seed}: entry ${e.index}`);
  }
  assert.ok(torn > 0 && garbled > 0, `the crashes tore (${torn}) and garbled (${garbled}) writes`);
});

test("corruption in the middle of the log stops the WAL from opening, naming the file and offset", async () => {
  const clock = new SimClock();
  const disk = new SimDisk(clock, derivePrng(1, "disk"));
  const { wal } = await clock.drive(Wal.open("/wal", { disk: disk.view() }));
  for (let index = 1; index <= 5; index++) {
    const saved = wal.save({ entries: [entry(index)], hardState: { term: 1, vote: 1, commit: index - 1 } });
    await clock.advanceTo(clock.now() + 1, noCheck);
    await saved;
  }
  const [path, size] = [...disk.files()][0] as [string, number];
  disk.corrupt(path, Math.floor(size / 3));
  disk.crash();
  await assert.rejects(clock.drive(Wal.open("/wal", { disk: disk.view() })), /Cannot recover WAL: .* at offset \d+/);
});
