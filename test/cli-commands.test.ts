/**
 * `shoal status|get|put|del|watch|bench` as a user runs them: spawned `node dist/src/cli/main.js` processes
 * against a real 3-node cluster, checked by their output and exit codes (0 ok, 1 failed, 2 bad usage).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort, ProcessCluster, sleep } from "./support/process-cluster.js";

const MAIN = resolve("dist/src/cli/main.js");
/** The escape that starts every colour code. */
const ESC = "\x1b";

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `shoal ...args` to completion; `input` goes to its stdin. */
function shoal(args: readonly string[], input?: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(input ?? "");
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}

function assertOneLineError(run: Run, status: number, pattern: RegExp): void {
  assert.equal(run.status, status, `exit code; stderr: ${run.stderr}`);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line, got: ${run.stderr}`);
  assert.match(lines[0] as string, /^shoal: /);
  assert.match(lines[0] as string, pattern);
  assert.equal(run.stdout, "");
}

const COMMANDS = ["status", "get", "put", "del", "watch", "bench"];

test("every command has --help; shoal --help lists them", async () => {
  const runs = await Promise.all(
    [["--help"], ...COMMANDS.map((command) => [command, "--help"])].map((args) => shoal(args)),
  );
  for (const [i, run] of runs.entries()) {
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, i === 0 ? /Usage: shoal <command>/ : new RegExp(`Usage: shoal ${COMMANDS[i - 1]}`));
  }
  for (const command of COMMANDS) assert.match(runs[0]?.stdout ?? "", new RegExp(`\\n  ${command} `));
});

test("bad usage exits 2 with one line", async () => {
  const cases: [string[], RegExp][] = [
    [["get"], /Missing KEY \(try: shoal get --help\)/],
    [["put", "k"], /Missing VALUE/],
    [["get", "a", "b"], /Unexpected argument "b"/],
    [["del"], /Missing KEY/],
    [["status", "--bogus"], /Unknown option '--bogus'/],
    [["status", "--endpoint", "ftp://h:1"], /Cannot parse --endpoint "ftp:\/\/h:1"/],
    [["put", "k", "v", "--ttl", "0"], /Cannot parse --ttl "0"/],
    [["put", "k", "v", "--ttl", "-5"], /^shoal: Cannot parse --ttl "-5": expected a number from /],
    [["put", "k", "v", "--ttl"], /^shoal: Missing a value for --ttl \(try: shoal put --help\)$/],
    [["get", "k", "--json=yes"], /^shoal: Option --json takes no value \(got "yes"\) \(try: shoal get --help\)$/],
    [["put", "k", "v", "--if-match", "x"], /Cannot parse --if-match "x"/],
    [["put", "k", "v", "--if-match", "1", "--if-absent"], /Cannot combine --if-match and --if-absent/],
    [["watch", "--from", "0"], /Cannot parse --from "0"/],
    [["watch", "--count", "many"], /Cannot parse --count "many"/],
    [["bench", "--ratio", "2"], /Cannot parse --ratio "2"/],
    [["bench", "--clients", "0"], /Cannot parse --clients "0"/],
    [["bench", "--seconds", "soon"], /Cannot parse --seconds "soon"/],
  ];
  const runs = await Promise.all(cases.map(([args]) => shoal(args)));
  for (const [i, run] of runs.entries()) assertOneLineError(run, 2, (cases[i] as [string[], RegExp])[1]);
});

test("an unreachable endpoint exits 1 with one line", async () => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const runs = await Promise.all([
    shoal(["status", "--endpoint", dead]),
    shoal(["get", "k", "-e", dead]),
    shoal(["put", "k", "v", "-e", dead]),
    shoal(["bench", "--seconds", "1", "-e", dead]),
    shoal(["watch", "-e", dead]),
    shoal(["status"], undefined, { ...process.env, SHOAL_ENDPOINT: `${dead},${dead}/` }),
  ]);
  for (const run of runs) assertOneLineError(run, 1, new RegExp(`Cannot reach ${dead} \\(connection refused\\)`));
});

describe("against a 3-node cluster", () => {
  let cluster: ProcessCluster;
  let endpoint: string;

  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 3 });
    await cluster.waitForLeader();
    endpoint = cluster.url(1);
  });
  after(() => cluster.stop());

  test("status prints every member, one leader, and no colour when not on a terminal", async () => {
    const run = await shoal(["status", "-e", endpoint]);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(!run.stdout.includes(ESC), "no colour off a terminal");
    const lines = run.stdout.split("\n");
    assert.match(lines[0] as string, /^Cluster of 3 members, 3 reachable; leader \d, term \d+/);
    assert.match(lines[2] as string, /^ID\s+ROLE\s+TERM\s+COMMIT\s+APPLIED\s+LAG\s+HTTP\s+PEER$/);
    const rows = lines.slice(3).filter((line) => /^\d /.test(line));
    assert.deepEqual(
      rows.map((row) => row.split(/\s+/)[0]),
      ["1", "2", "3"],
    );
    assert.equal(rows.filter((row) => /^\d\s+leader/.test(row)).length, 1);
    const json = JSON.parse((await shoal(["status", "--json", "-e", endpoint])).stdout) as { members: unknown[] };
    assert.equal(json.members.length, 3);
  });

  test("status tries the next endpoint when the first is down", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const run = await shoal(["status", "--endpoint", `${dead},${cluster.url(2)}`]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`answered by node 2 at ${cluster.url(2)}`));
  });

  test("put, get, conditional put, del, and the errors a user meets", async () => {
    const put = await shoal(["put", "cli/greeting", "hello world", "-e", endpoint]);
    assert.equal(put.status, 0, put.stderr);
    const revision = Number(/^OK \(revision (\d+)\)\n$/.exec(put.stdout)?.[1]);
    assert.ok(revision > 0, put.stdout);

    const get = await shoal(["get", "cli/greeting", "-e", cluster.url(2)]);
    assert.deepEqual([get.status, get.stdout], [0, "hello world"], "the raw value, no newline added off a terminal");
    const json = JSON.parse((await shoal(["get", "cli/greeting", "--json", "-e", endpoint])).stdout);
    assert.deepEqual(json, {
      key: "cli/greeting",
      modRevision: revision,
      createRevision: revision,
      version: 1,
      value: "hello world",
    });

    assertOneLineError(
      await shoal(["put", "cli/greeting", "x", "--if-match", String(revision + 100), "-e", endpoint]),
      1,
      new RegExp(`Precondition failed: the key's mod revision is ${revision}`),
    );
    assertOneLineError(
      await shoal(["put", "cli/greeting", "x", "--if-absent", "-e", endpoint]),
      1,
      /Precondition failed/,
    );
    const cas = await shoal(["put", "cli/greeting", "bonjour", "--if-match", String(revision), "-e", endpoint]);
    assert.equal(cas.status, 0, cas.stderr);
    assert.equal((await shoal(["get", "cli/greeting", "-e", endpoint])).stdout, "bonjour");

    const del = await shoal(["del", "cli/greeting", "-e", cluster.url(3)]);
    assert.equal(del.status, 0, del.stderr);
    assert.match(del.stdout, /^Deleted \(revision \d+\)\n$/);
    assertOneLineError(await shoal(["get", "cli/greeting", "-e", endpoint]), 1, /^shoal: Key not found$/);
    assertOneLineError(await shoal(["del", "cli/greeting", "-e", endpoint]), 1, /^shoal: Key not found$/);
  });

  test("put - reads the value from stdin; keys with odd characters round-trip; --ttl expires", async () => {
    const value = "line one\nline two\n\u00e9\u4e2d";
    assert.equal((await shoal(["put", "cli/stdin", "-", "-e", endpoint], value)).status, 0);
    assert.equal((await shoal(["get", "cli/stdin", "-e", endpoint])).stdout, value);
    await Promise.all(
      ["cli/a b?c#d%e", "cli/../x", "cli/./y", "cli/\u00fcml", "."].map(async (key) => {
        const put = await shoal(["put", key, key, "-e", endpoint]);
        if (key === ".") return assertOneLineError(put, 1, /Cannot address the key "\." over HTTP/);
        assert.equal(put.status, 0, `${key}: ${put.stderr}`);
        assert.equal((await shoal(["get", key, "-e", endpoint])).stdout, key, key);
      }),
    );
    assert.equal((await shoal(["put", "cli/ttl", "soon gone", "--ttl", "0.5", "-e", endpoint])).status, 0);
    await sleep(800);
    assertOneLineError(await shoal(["get", "cli/ttl", "-e", endpoint]), 1, /Key not found/);
  });

  test("bench runs a load and prints throughput, percentiles and a histogram; no progress bar off a terminal", async () => {
    const run = await shoal([
      "bench",
      "--seconds",
      "1",
      "--clients",
      "4",
      "--seed",
      "7",
      "-e",
      `${cluster.url(1)},${cluster.url(2)}`,
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, "", "the progress bar is for terminals only");
    assert.ok(!run.stdout.includes("\r") && !run.stdout.includes(ESC), "no progress bar or colour in a pipe");
    assert.match(
      run.stdout,
      /4 clients for 1 s against 2 endpoints; 50% reads, 128-byte values, 1000 keys under "bench\/", seed 7/,
    );
    assert.match(
      run.stdout,
      /\nThroughput {2}[\d,]+ ops\/s {2}\([\d,]+ ops in 1\.\d s: [\d,]+ reads, [\d,]+ of them misses; [\d,]+ writes\)\n/,
    );
    assert.match(run.stdout, /\nErrors {6}0\n/);
    assert.match(run.stdout, /\n {2}all {7}( +[\d.]+){6}\n/);
    assert.match(run.stdout, /Latency histogram \(all requests\)\n( {2}<= +[\d.]+ ms .+\n)+$/);
    const json = await shoal(["bench", "--seconds", "0.5", "--clients", "2", "--ratio", "0", "--json", "-e", endpoint]);
    const summary = JSON.parse(json.stdout) as {
      opsPerSecond: number;
      reads: { count: number };
      writes: { count: number };
    };
    assert.ok(summary.opsPerSecond > 0);
    assert.equal(summary.reads.count, 0, "--ratio 0: writes only");
    assert.ok(summary.writes.count > 0);
  });

  test("colour and the progress bar appear on a terminal, and NO_COLOR turns colour off", {
    skip: !existsSync("/usr/bin/script") && "needs script(1) for a pseudo-terminal",
  }, async () => {
    // script(1) runs the command on a pseudo-terminal: isTTY is true for its stdout and stderr.
    const onTerminal = (command: string, env: NodeJS.ProcessEnv) =>
      new Promise<string>((done) => {
        const child = spawn("script", ["-qec", command, "/dev/null"], { env, stdio: ["ignore", "pipe", "ignore"] });
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
        child.on("close", () => done(out));
      });
    const env = { ...process.env };
    delete env.NO_COLOR;
    const status = await onTerminal(`${process.execPath} ${MAIN} status -e ${endpoint}`, env);
    assert.ok(status.includes(`${ESC}[32m${ESC}[1mleader`), status);
    const plain = await onTerminal(`${process.execPath} ${MAIN} status -e ${endpoint}`, { ...env, NO_COLOR: "1" });
    assert.match(plain, /leader/);
    assert.ok(!plain.includes(ESC), "no colour with NO_COLOR");
    const bench = await onTerminal(`${process.execPath} ${MAIN} bench --seconds 0.6 --clients 2 -e ${endpoint}`, env);
    assert.match(bench, /\r\[█*░*\] +\d+% +0\.\d\/0\.6 s/);
  });

  test("watch prints events in order from a revision, and follows a leader change without loss or repeats", async () => {
    const first = await shoal(["put", "watch/k0", "v0", "-e", endpoint]);
    const from = Number(/revision (\d+)/.exec(first.stdout)?.[1]);
    const replay = await shoal(["watch", "--prefix", "watch/", "--from", String(from), "--count", "1", "-e", endpoint]);
    assert.deepEqual([replay.status, replay.stdout], [0, `${from} PUT watch/k0 v0\n`]);

    // A long-running watch on the leader; the leader dies mid-stream.
    const leader = await cluster.waitForLeader();
    const others = [1, 2, 3].filter((id) => id !== leader);
    const total = 8;
    const watch = spawn(
      process.execPath,
      [
        MAIN,
        "watch",
        "--prefix",
        "watch/",
        "--from",
        String(from + 1),
        "--count",
        String(total),
        "--json",
        "-e",
        cluster.url(leader),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const output = collect(watch);
    const writer = cluster.url(others[0] as number);
    for (let i = 1; i <= total / 2; i++)
      assert.equal((await shoal(["put", `watch/k${i}`, `v${i}`, "-e", writer])).status, 0);
    await cluster.kill(leader);
    for (let i = total / 2 + 1; i <= total; i++) {
      const put = await shoal(["put", `watch/k${i}`, `v${i}`, "--timeout", "10000", "-e", writer]);
      assert.equal(put.status, 0, put.stderr);
    }
    const { status, stdout, stderr } = await output;
    assert.equal(status, 0, stderr);
    const events = stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { key: string; revision: number });
    assert.deepEqual(
      events.map((event) => event.key),
      Array.from({ length: total }, (_, i) => `watch/k${i + 1}`),
    );
    assert.deepEqual(
      events.map((event) => event.revision),
      [...events.map((event) => event.revision)].sort((a, b) => a - b),
    );
    assert.match(stderr, /watch interrupted .*; resuming from revision \d+/);
    // The last test: the cluster is stopped next, so the killed node is not restarted.
  });
});

function collect(child: ChildProcess): Promise<Run> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((done) => {
    child.on("close", (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}
