/**
 * The child process of the kill -9 test (`wal-kill.test.ts`): appends to the WAL in `argv[2]` forever and
 * prints each index on stdout only after the save that holds it has resolved. A pipe to the parent is written
 * synchronously on Linux, so every printed index was acknowledged before the next save began.
 *
 *   node dist/src/wal/wal-kill-child.js <dir> <fsync policy>
 */
import { NodeDisk } from "../io/node/disk.js";
import type { Entry } from "../raft/types.js";
import type { FsyncPolicy } from "./commit-queue.js";
import { Wal } from "./wal.js";
import { killTestData } from "./wal-fixtures.js";

const dir = process.argv[2];
const fsync = (process.argv[3] ?? "always") as FsyncPolicy;
if (dir === undefined) throw new Error("Cannot start: usage is wal-kill-child.js <dir> <fsync>");

const { wal } = await Wal.open(dir, { disk: new NodeDisk(), fsync, segmentBytesMax: 64 * 1024 });
let lastIndex = wal.lastIndex;
process.stdout.write(`ready ${lastIndex}\n`);
for (;;) {
  // Mostly one entry a save, sometimes a batch, so torn writes also hit multi-record saves.
  const count = lastIndex % 5 === 0 ? 8 : 1;
  const entries: Entry[] = [];
  for (let k = 1; k <= count; k++) {
    entries.push({ term: 1, index: lastIndex + k, type: "normal", data: killTestData(lastIndex + k) });
  }
  await wal.save({ entries, hardState: { term: 1, vote: 1, commit: lastIndex } });
  lastIndex += count;
  process.stdout.write(`${lastIndex}\n`);
}
