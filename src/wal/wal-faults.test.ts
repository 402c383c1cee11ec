/**
 * Crash-safety fault tests. A log is written from seeded random saves while a reference model records, for
 * every save, its byte range in its segment and the state after each of its records. Then, on copies of the
 * directory:
 * (a) the last segment is cut at random offsets (a torn write): recovery must yield EXACTLY the state after the
 *     records wholly before the cut — never a corrupted entry, never one that was not saved;
 * (b) a random byte is flipped at a random offset in any segment: recovery must refuse to start with a message
 *     naming the file and the offset of the damaged record, without modifying any file, unless the byte is in
 *     the very last record of the last segment, which is then cut off like a torn write.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { NodeDisk } from "../io/node/disk.js";
import { ShoalError } from "../lib/errors.js";
import { Prng } from "../lib/prng.js";
import type { WalState } from "./log-replayer.js";
import { readU32 } from "./record-frame.js";
import { Wal } from "./wal.js";
import { ModelLog, randomSave, stateKey, withTempDir } from "./wal-fixtures.js";

const disk = new NodeDisk();

interface SaveTrace {
  readonly segment: string;
  readonly startBytes: number;
  readonly endBytes: number;
  /** Records of the segment header written before this save's own records (a save that rolled over). */
  readonly headerRecords: number;
  /** Hashes of the states after each of the save's records; `before` is the state before it. */
  readonly before: string;
  readonly partials: readonly string[];
}

function digest(state: WalState): string {
  return createHash("sha1").update(stateKey(state)).digest("hex");
}

async function segmentNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith(".wal")).sort();
}

/** Record boundaries of a pristine segment, from the length fields alone (independent of the checksum code). */
function recordStarts(bytes: Uint8Array): number[] {
  const starts: number[] = [];
  for (let offset = 0; offset < bytes.length; offset += 9 + readU32(bytes, offset)) starts.push(offset);
  return starts;
}

async function writeLog(seed: number, dir: string): Promise<{ traces: SaveTrace[]; finalState: string }> {
  const prng = new Prng(seed);
  const model = new ModelLog();
  const { wal } = await Wal.open(dir, { disk, fsync: "never", segmentBytesMax: prng.between(600, 3000) });
  const traces: SaveTrace[] = [];
  let lastSegment = (await segmentNames(dir)).at(-1) as string;
  let endBytes = (await stat(join(dir, lastSegment))).size;
  const saveCount = prng.between(40, 160);
  for (let k = 0; k < saveCount; k++) {
    const save = randomSave(prng, model, 40);
    const before = digest(model.state());
    const hadSnapshot = model.snapshot !== undefined;
    const partials = model.apply(save).map(digest);
    await wal.save(save);
    if (prng.chance(0.03) && model.snapshotIndex > 0) await wal.compact(model.snapshotIndex);
    const segment = (await segmentNames(dir)).at(-1) as string;
    const rolled = segment !== lastSegment;
    const startBytes = rolled ? 0 : endBytes;
    endBytes = (await stat(join(dir, segment))).size;
    traces.push({ segment, startBytes, endBytes, headerRecords: rolled ? (hadSnapshot ? 2 : 1) : 0, before, partials });
    lastSegment = segment;
  }
  const finalState = digest(model.state());
  await wal.close();
  return { traces, finalState };
}

/** The state recovery must yield when the last segment keeps only its bytes before `cutBytes`. */
function expectedAfterCut(
  traces: readonly SaveTrace[],
  last: string,
  starts: readonly number[],
  cutBytes: number,
): string {
  const torn = traces.findIndex((t) => t.segment === last && t.endBytes > cutBytes);
  if (torn < 0) return (traces.at(-1) as SaveTrace).partials.at(-1) as string;
  const trace = traces[torn] as SaveTrace;
  const wholeRecords = starts.filter((start, i) => {
    const end = starts[i + 1] ?? trace.endBytes;
    return start >= trace.startBytes && end <= cutBytes;
  }).length;
  const ownRecords = wholeRecords - trace.headerRecords;
  return ownRecords <= 0 ? trace.before : (trace.partials[ownRecords - 1] as string);
}

async function copyLog(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const name of await segmentNames(from)) await copyFile(join(from, name), join(to, name));
}

async function recoverDigest(dir: string): Promise<string> {
  const { wal, state } = await Wal.open(dir, { disk, fsync: "never" });
  await wal.close();
  return digest(state);
}

async function snapshotFiles(dir: string): Promise<string> {
  const hash = createHash("sha1");
  for (const name of await segmentNames(dir)) hash.update(name).update(await readFile(join(dir, name)));
  return hash.digest("hex");
}

describe("WAL fault injection", () => {
  it("recovers exactly the records before a cut at any offset of the last segment", async () => {
    for (const seed of [101, 102, 103, 104, 105, 106, 107, 108]) {
      await withTempDir("wal-cut", async (root) => {
        const original = join(root, "original");
        const { traces } = await writeLog(seed, original);
        const last = (await segmentNames(original)).at(-1) as string;
        const bytes = await readFile(join(original, last));
        const starts = recordStarts(bytes);
        const prng = new Prng(seed * 7919);
        for (let trial = 0; trial < 60; trial++) {
          // Half the cuts land on or next to a record boundary, where off-by-one mistakes hide.
          const near = (starts[prng.int(starts.length)] as number) + prng.between(-1, 1);
          const cutBytes = prng.chance(0.5) ? Math.max(0, Math.min(bytes.length, near)) : prng.int(bytes.length + 1);
          const dir = join(root, `cut-${trial}`);
          await copyLog(original, dir);
          await truncate(join(dir, last), cutBytes);
          const context = `seed ${seed} trial ${trial}: cut ${last} at ${cutBytes} of ${bytes.length}`;
          const recovered = await recoverDigest(dir);
          assert.equal(recovered, expectedAfterCut(traces, last, starts, cutBytes), context);
          assert.equal(await recoverDigest(dir), recovered, `${context}: a second recovery agrees`);
        }
      });
    }
  });

  it("refuses to start on a flipped byte before the tail, naming the file and offset", async () => {
    let refused = 0;
    let tailCuts = 0;
    for (const seed of [201, 202, 203, 204, 205, 206, 207, 208]) {
      await withTempDir("wal-flip", async (root) => {
        const original = join(root, "original");
        const { traces } = await writeLog(seed, original);
        const names = await segmentNames(original);
        const last = names.at(-1) as string;
        const prng = new Prng(seed * 104729);
        for (let trial = 0; trial < 60; trial++) {
          const name = prng.chance(0.5) ? last : prng.pick(names);
          const bytes = await readFile(join(original, name));
          if (bytes.length === 0) continue;
          const offset = prng.int(bytes.length);
          const starts = recordStarts(bytes);
          const recordStart = starts.filter((start) => start <= offset).at(-1) as number;
          const dir = join(root, `flip-${trial}`);
          await copyLog(original, dir);
          const damaged = Uint8Array.from(bytes);
          damaged[offset] = (damaged[offset] as number) ^ prng.between(1, 255);
          await writeFile(join(dir, name), damaged);
          const context = `seed ${seed} trial ${trial}: flip ${name} at ${offset} (record at ${recordStart})`;
          if (name === last && recordStart === starts.at(-1)) {
            const lastStarts = recordStarts(bytes);
            assert.equal(await recoverDigest(dir), expectedAfterCut(traces, last, lastStarts, recordStart), context);
            tailCuts++;
            continue;
          }
          const before = await snapshotFiles(dir);
          await assert.rejects(Wal.open(dir, { disk }), (error: unknown) => {
            assert.ok(error instanceof ShoalError, context);
            assert.match(error.message, /^Cannot recover WAL: .+ in [0-9a-f]{16}\.wal at offset \d+/, context);
            assert.ok(error.message.includes(` in ${name} at offset ${recordStart}`), `${context}: ${error.message}`);
            return true;
          });
          assert.equal(await snapshotFiles(dir), before, `${context}: a refused recovery modifies nothing`);
          refused++;
        }
      });
    }
    assert.ok(refused > 300, `only ${refused} refusals were exercised`);
    assert.ok(tailCuts > 0, "no flip landed in a tail record");
  });
});
