/**
 * `shoal status` when a majority is down: a real 3-node cluster with two nodes stopped, asked through the
 * survivor by a spawned `shoal status`. It must say the quorum is lost and which members are down — not that
 * writes wait for an election that cannot happen — and show no lag for the dead members.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { ProcessCluster, sleep } from "./support/process-cluster.js";

const MAIN = resolve("dist/src/cli/main.js");

function status(endpoint: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [MAIN, "status", "-e", endpoint], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

describe("shoal status with quorum lost", { timeout: 90_000 }, () => {
  let cluster: ProcessCluster;
  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 3 });
    await cluster.waitForLeader();
  });
  after(async () => cluster?.stop());

  test("names the majority that is down, and says nothing of the kind while a quorum is up", async () => {
    const healthy = await status(cluster.url(1));
    assert.equal(healthy.code, 0, healthy.stderr);
    assert.doesNotMatch(healthy.stdout, /Quorum lost|No leader/);

    await cluster.kill(2);
    const oneDown = await status(cluster.url(1));
    assert.match(oneDown.stdout, /3 members, 2 reachable/);
    assert.doesNotMatch(oneDown.stdout, /Quorum lost/, "two of three still form a quorum");

    await cluster.kill(3);
    // The survivor's leader (if it was one) steps down once it misses a majority (CheckQuorum).
    let run = await status(cluster.url(1));
    for (const deadline = Date.now() + 10_000; /leader \d/.test(run.stdout.split("\n")[0] ?? ""); ) {
      assert.ok(Date.now() < deadline, `node 1 still reports a leader:\n${run.stdout}`);
      await sleep(200);
      run = await status(cluster.url(1));
    }
    assert.equal(run.code, 0, run.stderr);
    assert.ok(
      run.stdout.includes(
        "Quorum lost: 2 of 3 members are down (nodes 2 and 3). " +
          "A leader needs 2 of 3 members reachable: writes and linearizable reads fail until 1 more is back.",
      ),
      run.stdout,
    );
    assert.doesNotMatch(run.stdout, /wait until one is elected/);
    const rows = run.stdout.split("\n").filter((line) => /^[23]\s+unreachable/.test(line));
    assert.equal(rows.length, 2, run.stdout);
    for (const row of rows) assert.equal(row.split(/\s+/)[5], "?", `a dead member's lag is unknown: ${row}`);
  });
});
