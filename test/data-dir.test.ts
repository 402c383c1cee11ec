/**
 * One process per data directory (issue 10, section 3), with real processes: a second `shoal start` on a
 * directory in use exits at once naming the directory and the holder's pid while the first keeps serving; a
 * kill -9 leaves no lock behind; a second `shoal cluster` over a running one fails on the ports (same ports)
 * or on the lock (other ports) without disturbing it.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { freePort, getKey, ProcessCluster, putKey, sleep } from "./support/process-cluster.js";

const MAIN = resolve("dist/src/cli/main.js");

function shoal(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test("a second process on a data directory exits with the directory and the holder's pid; the first serves on", {
  timeout: 90_000,
}, async () => {
  const cluster = await ProcessCluster.start({ nodes: 1 });
  try {
    await cluster.waitForLeader();
    assert.equal(await putKey(cluster.url(1), "before", "1"), 200);
    const holder = cluster.nodes.get(1)?.child?.pid;
    const dir = join(cluster.dataDir, "1");
    const second = shoal(
      "start",
      "--id",
      "1",
      "--data-dir",
      dir,
      "--peers",
      cluster.peers,
      "--http-port",
      String(await freePort()),
      "--resp-port",
      String(await freePort()),
    );
    assert.equal(second.status, 1, second.stderr);
    const lines = second.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `one line: ${second.stderr}`);
    assert.match(
      lines[0] as string,
      new RegExp(`Data directory ${dir} is in use by another Shoal process \\(pid ${holder}\\)`),
    );
    assert.equal((await getKey(cluster.url(1), "before")).value, "1", "the first still serves its data");
    assert.equal(await putKey(cluster.url(1), "after", "2"), 200, "and takes writes");

    // kill -9 leaves the lock file behind but not the lock: the kernel released it with the process.
    await cluster.kill(1);
    await cluster.startNode(1);
    await cluster.waitForLeader();
    assert.equal((await getKey(cluster.url(1), "before")).value, "1");
    assert.equal((await getKey(cluster.url(1), "after")).value, "2");
  } finally {
    await cluster.stop();
  }
});

/** Three consecutive free ports (shoal cluster takes base + id - 1). */
async function portBase(): Promise<number> {
  for (;;) {
    const ports = [await freePort(), await freePort(), await freePort()];
    if (ports[1] === (ports[0] as number) + 1 && ports[2] === (ports[0] as number) + 2) return ports[0] as number;
  }
}

interface RunningCluster {
  readonly child: ChildProcess;
  output: string;
}

async function startLocalCluster(args: readonly string[]): Promise<RunningCluster> {
  const child = spawn(process.execPath, [MAIN, "cluster", "--nodes", "3", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const running: RunningCluster = { child, output: "" };
  const collect = (chunk: Buffer): void => {
    running.output += chunk.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  await new Promise<void>((done, fail) => {
    const check = setInterval(() => {
      if (running.output.includes("is up")) {
        clearInterval(check);
        done();
      }
    }, 50);
    child.once("exit", (code) => {
      clearInterval(check);
      fail(new Error(`shoal cluster exited with ${code}: ${running.output}`));
    });
  });
  return running;
}

async function stopLocalCluster(running: RunningCluster): Promise<void> {
  if (running.child.exitCode !== null) return;
  const exited = new Promise((done) => running.child.once("exit", done));
  running.child.kill("SIGTERM");
  await exited;
}

async function clusterStatus(url: string): Promise<{ leader: number; term: number; clusterId: string }> {
  return (await (await fetch(`${url}/v1/cluster`)).json()) as { leader: number; term: number; clusterId: string };
}

async function waitForLeader(url: string): Promise<{ leader: number; term: number; clusterId: string }> {
  let status = await clusterStatus(url);
  for (let i = 0; i < 150 && status.leader === 0; i++) {
    await sleep(100);
    status = await clusterStatus(url);
  }
  assert.notEqual(status.leader, 0, "the cluster elected a leader");
  return status;
}

test("a second shoal cluster over a running one fails on its ports, or on the lock, and leaves it alone", {
  timeout: 180_000,
}, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "shoal-twice-"));
  const bases = { peer: await portBase(), http: await portBase(), resp: await portBase() };
  const flags = (b: typeof bases) => [
    "--data-dir",
    dataDir,
    "--peer-port-base",
    String(b.peer),
    "--http-port-base",
    String(b.http),
    "--resp-port-base",
    String(b.resp),
  ];
  const first = await startLocalCluster(flags(bases));
  try {
    const url = `http://127.0.0.1:${bases.http}`;
    // Settled: the leader balancer hands the meta group to its preferred leader soon after start (a term change
    // that is no fault of the second cluster), so the baseline is a leader that held for a few seconds.
    let before = await waitForLeader(url);
    for (let stable = 0, polls = 0; stable < 6 && polls < 100; polls++) {
      await sleep(500);
      const now = await waitForLeader(url);
      stable = now.leader === before.leader && now.term === before.term ? stable + 1 : 0;
      before = now;
    }
    assert.equal(await putKey(url, "kept", "yes"), 200);

    const samePorts = shoal("cluster", "--nodes", "3", ...flags(bases));
    assert.notEqual(samePorts.status, 0);
    assert.match(samePorts.stderr, new RegExp(`Cannot listen for HTTP on 127.0.0.1:${bases.http}`));
    assert.doesNotMatch(samePorts.stderr, /in use by another Shoal process/, "it failed before the data directory");

    const otherPorts = { peer: await portBase(), http: await portBase(), resp: await portBase() };
    const sameDir = shoal("cluster", "--nodes", "3", ...flags(otherPorts));
    assert.notEqual(sameDir.status, 0);
    assert.match(
      sameDir.stderr,
      new RegExp(`Data directory ${join(dataDir, "\\d")} is in use by another Shoal process \\(pid \\d+\\)`),
    );

    const after = await clusterStatus(url);
    assert.deepEqual([after.leader, after.term], [before.leader, before.term], "no election was caused");
    for (const id of [0, 1, 2]) {
      assert.equal((await getKey(`http://127.0.0.1:${bases.http + id}`, "kept")).value, "yes", `node ${id + 1}`);
    }
    assert.equal(await putKey(url, "still", "writable"), 200);
    // npm start again over the same directory: the cluster restarts from it, under the same cluster id.
    await stopLocalCluster(first);
    const again = await startLocalCluster(flags(bases));
    try {
      assert.equal((await waitForLeader(url)).clusterId, before.clusterId);
      assert.equal((await getKey(url, "still")).value, "writable");
    } finally {
      await stopLocalCluster(again);
    }
  } finally {
    await stopLocalCluster(first);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
