/**
 * The guard `npm test` runs under (scripts/run-tests.mjs): it catches a test that binds or dials a default port,
 * and its list of default ports is the one the CLI prints.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { connect, createServer } from "node:net";
import { resolve } from "node:path";
import { test } from "node:test";
import { DEFAULT_ENDPOINTS } from "../src/cli/endpoint-flag.js";
import { DEFAULT_NODES_MAX, DEFAULT_PORT_BASES, DefaultPortGuard, defaultPorts } from "./support/default-port-guard.js";
import { freePort } from "./support/free-port.js";

const MAIN = resolve("dist/src/cli/main.js");

test("a held port cannot be bound, and a connection to it is reported", async () => {
  const port = await freePort();
  const guard = await DefaultPortGuard.hold([port]);
  try {
    assert.deepEqual(guard.held, [port]);
    assert.deepEqual(guard.report(), []);
    const bindError = await new Promise<NodeJS.ErrnoException | undefined>((done) => {
      const server = createServer();
      server.once("error", (error) => done(error));
      server.listen(port, "127.0.0.1", () => server.close(() => done(undefined)));
    });
    assert.equal(bindError?.code, "EADDRINUSE");
    await new Promise<void>((done) => {
      const socket = connect(port, "127.0.0.1");
      socket.on("error", () => undefined);
      socket.once("close", () => done());
    });
    assert.equal(guard.report().length, 1);
    assert.match(guard.report()[0] as string, new RegExp(`port ${port}.*free-port`));
  } finally {
    await guard.release();
  }
});

test("a port already taken is left alone", async () => {
  const port = await freePort();
  const owner = createServer();
  await new Promise<void>((done) => owner.listen(port, "127.0.0.1", done));
  const guard = await DefaultPortGuard.hold([port]);
  assert.deepEqual(guard.held, []);
  await guard.release();
  await new Promise((done) => owner.close(done));
});

test("the guarded ports are the CLI's defaults", () => {
  const cluster = spawnSync(process.execPath, [MAIN, "cluster", "--help"], { encoding: "utf8" }).stdout;
  const start = spawnSync(process.execPath, [MAIN, "start", "--help"], { encoding: "utf8" }).stdout;
  assert.match(cluster, new RegExp(`--peer-port-base P .*\\(default ${DEFAULT_PORT_BASES.peer}\\)`));
  assert.match(cluster, new RegExp(`--http-port-base P .*\\(default ${DEFAULT_PORT_BASES.http}\\)`));
  assert.match(cluster, new RegExp(`--resp-port-base P .*\\(default ${DEFAULT_PORT_BASES.resp}\\)`));
  assert.match(cluster, new RegExp(`how many nodes \\(1-${DEFAULT_NODES_MAX},`));
  assert.match(start, new RegExp(`--http-port PORT .*\\(default ${DEFAULT_PORT_BASES.http - 1} \\+ id\\)`));
  assert.match(start, new RegExp(`--resp-port PORT .*\\(default ${DEFAULT_PORT_BASES.resp - 1} \\+ id;`));
  const ports = new Set(defaultPorts());
  for (const endpoint of DEFAULT_ENDPOINTS) assert.ok(ports.has(Number(new URL(endpoint).port)), endpoint);
});
