/**
 * `shoal cluster` (what `npm start` runs) as a user runs it: it says the cluster is up only once a leader is
 * elected, and stops every node on SIGTERM.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { freePortRun } from "./support/free-port.js";

const MAIN = resolve("dist/src/cli/main.js");

/** `shoal cluster` on free ports in a new data directory, with `args` after the usual ones. */
async function startCluster(args: readonly string[]) {
  const dataDir = mkdtempSync(join(tmpdir(), "shoal-cluster-"));
  const [peerBase, httpBase, respBase] = [await freePortRun(3), await freePortRun(3), await freePortRun(3)];
  const child = spawn(
    process.execPath,
    [
      MAIN,
      "cluster",
      "--data-dir",
      dataDir,
      "--peer-port-base",
      String(peerBase),
      "--http-port-base",
      String(httpBase),
      "--resp-port-base",
      String(respBase),
      "--fsync",
      "never",
      ...args,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  return { dataDir, httpBase, respBase, child };
}

test("shoal cluster says what is wrong while no leader is elected, and announces the cluster once one is", async () => {
  const { dataDir, httpBase, respBase, child } = await startCluster([
    "--nodes",
    "3",
    // Slow ticks and a long election timeout: the first election comes 4.8-9.6 s after a node starts, so the
    // 1 s wait sees none first, however long the three processes take to start.
    "--tick-ms",
    "400",
    "--election-ticks",
    "12",
    "--leader-wait",
    "1",
    "--shards",
    "1", // one leader to name (a new cluster's 3 shards are the next test's)
  ]);
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  try {
    const upLine = await new Promise<string>((done, fail) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const line = /^.*is up.*$/m.exec(stdout)?.[0];
        if (line !== undefined) done(line);
      });
      child.once("exit", (code) => fail(new Error(`shoal cluster exited with ${code}: ${stdout}${stderr}`)));
    });
    assert.match(stdout, /No leader elected within 1 s; the nodes keep running \(Ctrl-C stops them\)\. Each says:\n/);
    for (const id of [1, 2, 3])
      assert.match(stdout, new RegExp(`\n  node ${id}: \\w+ in term \\d+, knows no leader\n`));
    assert.ok(stdout.indexOf("No leader elected") < stdout.indexOf("is up"));
    // Asked right after the announcement, every node already knows the leader it names.
    const views = await Promise.all(
      [0, 1, 2].map(async (i) => {
        const response = await fetch(`http://127.0.0.1:${httpBase + i}/v1/cluster`);
        return (await response.json()) as { leader: number };
      }),
    );
    const named = Number(/node (\d+) leads/.exec(upLine)?.[1]);
    assert.ok(named >= 1 && named <= 3, upLine);
    assert.ok(
      views.filter((view) => view.leader === named).length >= 2,
      `${upLine} but the nodes see leaders ${views.map((view) => view.leader)}`,
    );
    assert.match(stdout, new RegExp(`node 1: redis://127\\.0\\.0\\.1:${respBase}  http://127\\.0\\.0\\.1:${httpBase}`));
  } finally {
    child.kill("SIGTERM");
    assert.equal(await exited, 0, stderr);
    rmSync(dataDir, { recursive: true, force: true });
  }
  assert.match(stdout, /Cluster stopped\.\n$/);
});

test("a new local cluster has 3 shards whose leaders settle on 3 different nodes, each listed when it is up", async () => {
  const { dataDir, httpBase, child } = await startCluster([]);
  let stdout = "";
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  try {
    await new Promise<void>((done, fail) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes("Ctrl-C stops the cluster")) done();
      });
      child.once("exit", (code) => fail(new Error(`shoal cluster exited with ${code}: ${stdout}`)));
    });
    assert.match(stdout, /Shoal cluster of 3 node\(s\) is up, 3 shards; data in /);
    const leader = "leader (node [123]|not elected yet)"; // named as they stood when the wait for them ended
    assert.match(
      stdout,
      new RegExp(
        `\n {2}shard 1: slots 0-5460, ${leader}\n {2}shard 2: slots 5461-10922, ${leader}\n {2}shard 3: slots 10923-16383, ${leader}\n`,
      ),
    );
    let leaders: number[] = [];
    for (let attempt = 0; attempt < 300 && new Set(leaders.filter((id) => id > 0)).size < 3; attempt++) {
      const view = (await (await fetch(`http://127.0.0.1:${httpBase}/v1/cluster`)).json()) as {
        shards: { leader: number }[];
      };
      leaders = view.shards.map((shard) => shard.leader);
      await new Promise((wake) => setTimeout(wake, 100));
    }
    assert.deepEqual([...leaders].sort(), [1, 2, 3], "one shard led by each node");
  } finally {
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
