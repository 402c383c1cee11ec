/**
 * The `shoal` command as a user runs it: spawned processes, their output and exit codes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { freePort } from "./support/process-cluster.js";

const MAIN = resolve("dist/src/cli/main.js");

function shoal(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `--peers`, `--http-port` and `--resp-port` for a one-node `shoal start`, all from the free-port allocator: a
 * test never takes a default port (a running `npm start` holds 7001-7003, 7101-7103 and 8001-8003). */
async function singleNodePorts(): Promise<{ args: string[]; httpPort: number }> {
  const [peerPort, httpPort, respPort] = [await freePort(), await freePort(), await freePort()];
  return {
    args: ["--peers", `1=127.0.0.1:${peerPort}`, "--http-port", String(httpPort), "--resp-port", String(respPort)],
    httpPort,
  };
}

function assertOneLineError(result: ReturnType<typeof shoal>, status: number, pattern: RegExp): void {
  assert.equal(result.status, status, result.stderr);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got: ${result.stderr}`);
  assert.match(lines[0] as string, pattern);
}

test("--help prints usage and exits 0", () => {
  for (const args of [
    ["--help"],
    ["start", "--help"],
    ["cluster", "--help"],
    ["slots", "-h"],
    ["slots", "move", "-h"],
  ]) {
    const result = shoal(...args);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /Usage: shoal/);
  }
  assert.match(shoal("--help").stdout, /^ {2}slots {6}hash slots moving between shards/m);
  assert.match(shoal("slots", "--help").stdout, /shoal slots move SLOTS --to SHARD/);
});

test("bad flags give one line and exit 2", async () => {
  assertOneLineError(shoal("frobnicate"), 2, /Unknown command "frobnicate"/);
  // A slot list is checked before any node is asked.
  assertOneLineError(
    shoal("slots", "move", "7010-7005", "--to", "2"),
    2,
    /^shoal: Cannot parse SLOTS "7010-7005": the range 7010-7005 runs backwards \(try: shoal slots --help\)$/,
  );
  assertOneLineError(shoal("slots", "move", "1-5"), 2, /^shoal: slots move needs --to SHARD/);
  assertOneLineError(shoal("start", "--bogus"), 2, /Unknown option '--bogus'/);
  assertOneLineError(shoal("start", "--id", "x"), 2, /Cannot parse --id "x"/);
  assertOneLineError(shoal("start", "--id", "1", "--data-dir", "d", "--peers", "1=localhost"), 2, /Cannot parse peer/);
  assertOneLineError(
    shoal("start", "--id", "1", "--data-dir", "d", "--peers", "1=127.0.0.1:7101,1048577=127.0.0.1:7102"),
    2,
    /Cannot parse peer "1048577=127.0.0.1:7102": id \(1-1000000\) or port out of range/,
  );
  assertOneLineError(shoal("start", "--id", "1000001"), 2, /Cannot parse --id "1000001"/);
  assertOneLineError(
    shoal("start", "--id", "4", "--data-dir", "d", "--peers", "1=127.0.0.1:7101", "--peer", "127.0.0.1:7104"),
    2,
    /--peer is this node's address for --join/,
  );
  assertOneLineError(
    shoal("start", "--id", "4", "--data-dir", "d", "--peer", "127.0.0.1:7104", "--join", "nowhere"),
    2,
    /Cannot parse --join "nowhere": expected HOST:PORT/,
  );
  assertOneLineError(
    shoal("start", "--id", "2", "--data-dir", "d", "--peers", "1=127.0.0.1:7101"),
    2,
    /does not list this node's id 2/,
  );
  assertOneLineError(shoal("cluster", "--nodes", "12"), 2, /Cannot parse --nodes "12"/);
  // Cache mode's flags, checked by shoal cluster before any node starts.
  assertOneLineError(shoal("cluster", "--mode", "cachy"), 2, /Cannot parse --mode "cachy": expected store, cache/);
  assertOneLineError(
    shoal("cluster", "--maxmemory", "5q"),
    2,
    /Cannot parse --maxmemory "5q": it must be a size in bytes/,
  );
  assertOneLineError(
    shoal("cluster", "--maxmemory-policy", "lru"),
    2,
    /Cannot parse --maxmemory-policy "lru": it must be one of/,
  );
  assertOneLineError(shoal("cluster", "--maxmemory-samples", "65"), 2, /from 1 to 64/);
  for (const shards of ["0", "257", "3.5"]) {
    assertOneLineError(
      shoal("start", "--id", "1", "--data-dir", "d", "--peers", "1=127.0.0.1:7101", "--shards", shards),
      2,
      new RegExp(`Cannot parse --shards "${shards.replace(".", "\\.")}": expected an integer from 1 to 256`),
    );
  }
  // Flags read late once left a started node running after the error (spawnSync would time out here).
  const dir = mkdtempSync(join(tmpdir(), "shoal-cli-"));
  const { args } = await singleNodePorts();
  for (const [flag, value] of [
    ["--proto-max-bulk-len", "x"],
    ["--maxclients", "0"],
    ["--resp-port", "70000"],
    ["--maxmemory", "-1"],
  ] as const) {
    const result = shoal("start", "--id", "1", "--data-dir", dir, ...args, flag, value);
    assertOneLineError(result, 2, new RegExp(`Cannot parse ${flag} "${value}"`));
  }
});

test("shoal --version and -v print package.json's version", () => {
  const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
  for (const flag of ["--version", "-v"]) {
    const result = shoal(flag);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `shoal ${version}\n`);
  }
  assert.match(shoal("--help").stdout, /shoal --version/);
});

test("every subcommand words every parse error as one line of its own, with a pointer to its help", () => {
  const commands = ["start", "cluster", "status", "get", "put", "del", "watch", "bench", "slots"];
  const valueFlag: Record<string, string> = {
    start: "--id",
    cluster: "--nodes",
    status: "--endpoint",
    get: "--timeout",
    put: "--ttl",
    del: "-e",
    watch: "--from",
    bench: "--seconds",
    slots: "--to",
  };
  for (const command of commands) {
    const cases: [string[], RegExp][] = [
      [[command, "--bogus"], /^shoal: Unknown option '--bogus'/],
      [[command, "-X"], /^shoal: Unknown option '-X'/],
      [[command, valueFlag[command] as string], new RegExp(`^shoal: Missing a value for ${valueFlag[command]}`)],
      [[command, "--help=yes"], /^shoal: Option --help takes no value \(got "yes"\)/],
    ];
    for (const [args, pattern] of cases) {
      const result = shoal(...args);
      assertOneLineError(result, 2, pattern);
      assert.match(result.stderr, new RegExp(`\\(try: shoal ${command} --help\\)\\n$`), args.join(" "));
      // Node's own parseArgs wording never reaches the user.
      assert.doesNotMatch(result.stderr, /ambiguous|To specify|ERR_PARSE_ARGS/, args.join(" "));
    }
  }
  assertOneLineError(
    shoal("cluster", "extra"),
    2,
    /^shoal: Unexpected argument "extra" \(try: shoal cluster --help\)$/,
  );
  assertOneLineError(shoal("get", "-5"), 2, /^shoal: Unknown option '-5'; a KEY starting with "-" goes after --/);
});

test("an unusable data directory gives one line and exits 1", async () => {
  const file = join(mkdtempSync(join(tmpdir(), "shoal-cli-")), "a-file");
  writeFileSync(file, "not a directory");
  const { args } = await singleNodePorts();
  assertOneLineError(shoal("start", "--id", "1", "--data-dir", file, ...args), 1, /Cannot use data directory/);
  assertOneLineError(
    shoal("start", "--id", "1", "--data-dir", "/proc/shoal-nope", ...args),
    1,
    /Cannot use data directory/,
  );
});

test("a single node starts, serves HTTP and stops on SIGTERM", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "shoal-cli-"));
  const { args, httpPort } = await singleNodePorts();
  const { spawn } = await import("node:child_process");
  const child = spawn(
    process.execPath,
    [MAIN, "start", "--id", "1", "--data-dir", dataDir, ...args, "--log-file", join(dataDir, "log")],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // A node that fails to start (a port taken) fails the test instead of leaving it waiting for a ready line.
  const ready = await new Promise<string>((done, fail) => {
    child.stdout.on("data", (chunk: Buffer) => done(chunk.toString()));
    child.once("exit", (code) => fail(new Error(`shoal start exited with ${code}: ${stderr}`)));
  });
  assert.match(ready, new RegExp(`node 1 ready: http://127.0.0.1:${httpPort}`));
  let status = 0;
  for (let i = 0; i < 50 && status !== 200; i++) {
    status = (await fetch(`http://127.0.0.1:${httpPort}/v1/kv/k`, { method: "PUT", body: "v" })).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 200);
  assert.equal(await (await fetch(`http://127.0.0.1:${httpPort}/v1/kv/k`)).text(), "v");
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  child.kill("SIGTERM");
  assert.equal(await exited, 0);
});
