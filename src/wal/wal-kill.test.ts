/**
 * kill -9 of a process in a write loop: with fsync=always, every save that resolved before the kill must be
 * recovered intact, whatever the kill interrupted (a write, an fsync, a segment rollover). Several rounds run
 * on the same directory, so each recovery also starts from a log the previous kill may have torn.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { NodeDisk } from "../io/node/disk.js";
import { Prng } from "../lib/prng.js";
import { Wal } from "./wal.js";
import { killTestData, withTempDir } from "./wal-fixtures.js";

const CHILD = fileURLToPath(new URL("./wal-kill-child.js", import.meta.url));

/** Runs the child until it has been writing for `runMs`, kills it with SIGKILL; returns the last acknowledged
 * index it printed. */
async function runAndKill(dir: string, runMs: number): Promise<{ ready: number; acked: number }> {
  const child = spawn(process.execPath, [CHILD, dir, "always"], { stdio: ["ignore", "pipe", "inherit"] });
  let ready = -1;
  let acked = -1;
  let buffered = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      if (line.startsWith("ready ")) {
        ready = Number(line.slice(6));
        setTimeout(() => child.kill("SIGKILL"), runMs);
      } else {
        acked = Number(line);
      }
    }
  });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, sig) => resolve(sig)));
  assert.equal(signal, "SIGKILL", "the child was killed, not crashed");
  return { ready, acked };
}

describe("WAL under kill -9", () => {
  it("keeps every save acknowledged before the kill (fsync=always)", async (t) => {
    await withTempDir("wal-kill", async (dir) => {
      const prng = new Prng(20240607);
      let totalAcked = 0;
      for (let round = 0; round < 5; round++) {
        const { ready, acked } = await runAndKill(dir, prng.between(150, 500));
        assert.ok(ready >= 0, `round ${round}: the child opened the WAL`);
        assert.ok(acked > ready, `round ${round}: the child acknowledged saves (ready ${ready}, acked ${acked})`);
        const { wal, state } = await Wal.open(dir, { disk: new NodeDisk() });
        const last = state.entries.at(-1)?.index ?? 0;
        assert.ok(last >= acked, `round ${round}: acknowledged up to ${acked}, recovered only up to ${last}`);
        state.entries.forEach((entry, k) => {
          assert.equal(entry.index, k + 1, `round ${round}: entries are contiguous from 1`);
          assert.equal(entry.term, 1);
          assert.deepEqual(Buffer.from(entry.data), Buffer.from(killTestData(entry.index)), `entry ${entry.index}`);
        });
        assert.ok(state.hardState.commit <= last);
        await wal.close();
        const segments = (await readdir(dir)).filter((name) => name.endsWith(".wal")).length;
        t.diagnostic(
          `round ${round}: acknowledged ${ready + 1}..${acked}, recovered up to ${last}, ${segments} segments`,
        );
        totalAcked = acked;
      }
      assert.ok(totalAcked > 50, `only ${totalAcked} saves in 5 rounds`);
    });
  });
});
