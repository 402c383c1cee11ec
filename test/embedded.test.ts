/**
 * The embedded member (src/index.ts, docs/embedding.md): examples/embedded.mjs runs as a user would run it —
 * `node examples/embedded.mjs`, importing "shoal" through package.json's exports — and must print the value it
 * wrote and read back, and exit 0. Then one member started in this process with its HTTP API and Redis protocol
 * on port 0: the addresses it reports answer, and stop() frees its ports and its data directory's lock.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ShoalError, startNode } from "../src/index.js";
import { freePort } from "./support/process-cluster.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** One RESP command over a fresh connection; the raw reply. */
function respCommand(address: string, ...argv: string[]): Promise<string> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(":")),
    Number(address.slice(address.lastIndexOf(":") + 1)),
  ];
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let reply = "";
    socket.on("data", (chunk) => {
      reply += chunk;
      if (reply.endsWith("\r\n")) {
        socket.end();
        resolve(reply);
      }
    });
    socket.once("error", reject);
    socket.write(`*${argv.length}\r\n${argv.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`);
  });
}

describe("embedded members", { timeout: 60_000 }, () => {
  it("package.json exports the built entry point with its types", () => {
    const pkg = JSON.parse(readFileSync(path.join(repo, "package.json"), "utf8"));
    assert.equal(pkg.name, "shoal");
    const entry = pkg.exports["."];
    for (const file of [entry.import, entry.types, pkg.types]) assert.ok(existsSync(path.join(repo, file)), file);
    assert.match(readFileSync(path.join(repo, entry.types), "utf8"), /startNode/);
  });

  it("examples/embedded.mjs imports shoal, prints the value it wrote and read back, and exits 0", async () => {
    const source = readFileSync(path.join(repo, "examples/embedded.mjs"), "utf8");
    assert.match(source, /import \{ startNode \} from "shoal";/);
    const { code, stdout, stderr } = await run(["examples/embedded.mjs"], 30_000);
    assert.equal(code, 0, `exit ${code}\n${stdout}\n${stderr}`);
    assert.match(stdout, /node \d wrote greeting at revision \d+/);
    assert.match(stdout, /node \d read greeting: hello from an embedded member\n/);
  });

  it("a single member serves HTTP and RESP on the ports it reports, and stop() releases everything", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "shoal-embedded-one-"));
    try {
      const peers = { 1: `127.0.0.1:${await freePort()}` };
      const options = { id: 1, dataDir: dir, peers, tickMs: 10, fsync: "never" as const, http: { port: 0 }, resp: {} };
      const node = await startNode(options);
      assert.equal(await node.waitForLeader(10_000), 1);
      assert.deepEqual(await node.put("k", "v1"), { revision: 1 });
      assert.equal((await node.get("k"))?.text, "v1");
      const response = await fetch(`http://${node.addresses.http}/v1/kv/k`);
      assert.equal(response.status, 200);
      assert.equal(await respCommand(node.addresses.resp ?? "", "GET", "k"), "$2\r\nv1\r\n");
      assert.deepEqual(await node.delete("k"), { revision: 2, deleted: true });
      assert.equal(await node.get("k"), undefined);
      assert.equal((await node.delete("k")).deleted, false);
      await node.stop();
      await node.stop(); // a second stop is harmless
      await assert.rejects(fetch(`http://${node.addresses.http}/v1/kv/k`));
      // The data directory is unlocked and its data kept: the member starts again on it.
      const again = await startNode(options);
      await again.waitForLeader(10_000);
      assert.equal(await again.get("k"), undefined);
      assert.ok(again.status().appliedIndex >= 3);
      await again.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses peers that do not list it, or whose address is not host:port with a real port", async () => {
    await assert.rejects(
      startNode({ id: 4, dataDir: path.join(tmpdir(), "never-created"), peers: { 1: "127.0.0.1:1" } }),
      (error: unknown) => error instanceof ShoalError && error.code === "BAD_REQUEST",
    );
    await assert.rejects(
      startNode({ id: 1, dataDir: path.join(tmpdir(), "never-created"), peers: { 1: "no-port" } }),
      (error: unknown) => error instanceof ShoalError && error.code === "BAD_REQUEST",
    );
    await assert.rejects(
      startNode({ id: 1, dataDir: path.join(tmpdir(), "never-created"), peers: new Map([[1, "127.0.0.1:0"]]) }),
      (error: unknown) => error instanceof ShoalError && error.code === "BAD_REQUEST",
    );
  });
});
