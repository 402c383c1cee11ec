/**
 * @module What the Redis client tests run against: a real 3-node Shoal cluster of child processes, each node
 * serving RESP on its own port, or — with SHOAL_REDIS_TARGET=redis-server — one real redis-server standing in for
 * all three nodes. The second mode checks the tests themselves: a test that fails against redis-server is wrong,
 * unless it asserts a documented Shoal extension (guarded by `target.kind === "shoal"`).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { freePort, ProcessCluster, sleep } from "../support/process-cluster.js";

export type TargetKind = "shoal" | "redis-server" | "external";

export interface RedisTarget {
  readonly kind: TargetKind;
  /** The RESP port of node `id` (1..3). redis-server answers on the same port for every id. */
  port(id: number): number;
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** Starts the nodes with `--requirepass` (redis-server: `--requirepass`). */
  readonly requirepass?: string;
}

export const NODE_IDS = [1, 2, 3] as const;
export const REDIS_SERVER = "/usr/bin/redis-server";
export const REDIS_CLI = "/usr/bin/redis-cli";

export function targetKind(): TargetKind {
  const kind = process.env.SHOAL_REDIS_TARGET;
  return kind === "redis-server" || kind === "external" ? kind : "shoal";
}

/** Why the suite cannot run here, or undefined when it can (a `skip` option for describe). */
export function missingPrerequisite(): string | undefined {
  if (targetKind() === "redis-server" && !existsSync(REDIS_SERVER)) return `${REDIS_SERVER} is not installed`;
  if (targetKind() === "external" && externalPorts().length === 0) return "SHOAL_REDIS_PORTS lists no ports";
  return undefined;
}

export async function startTarget(options: TargetOptions = {}): Promise<RedisTarget> {
  switch (targetKind()) {
    case "redis-server":
      return startRedisServer(options);
    case "external":
      return useExternal();
    case "shoal":
      return startShoal(options);
  }
}

/**
 * SHOAL_REDIS_TARGET=external SHOAL_REDIS_PORTS=7001,7002,7003: servers someone else started (e.g. `npm start`).
 * With fewer than three ports, node ids wrap around. Suites that need --requirepass skip themselves. The tests
 * expect an empty keyspace (they assert exact counters and NX results), so restart the servers between runs.
 */
function externalPorts(): number[] {
  return (process.env.SHOAL_REDIS_PORTS ?? "")
    .split(",")
    .filter((p) => p !== "")
    .map(Number);
}

async function useExternal(): Promise<RedisTarget> {
  const ports = externalPorts();
  return {
    kind: "external",
    port: (id) => ports[(id - 1) % ports.length] as number,
    stop: async () => {},
  };
}

async function startShoal(options: TargetOptions): Promise<RedisTarget> {
  const extraArgs = options.requirepass === undefined ? [] : ["--requirepass", options.requirepass];
  const cluster = await ProcessCluster.start({ nodes: 3, extraArgs });
  try {
    await cluster.waitForLeader(30_000);
    await Promise.all(NODE_IDS.map((id) => waitForListener(cluster.respPort(id), `node ${id}'s RESP port`)));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return {
    kind: "shoal",
    port: (id) => cluster.respPort(id),
    stop: () => cluster.stop(),
  };
}

async function startRedisServer(options: TargetOptions): Promise<RedisTarget> {
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  if (options.requirepass !== undefined) args.push("--requirepass", options.requirepass);
  const child: ChildProcess = spawn(REDIS_SERVER, args, { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((done, fail) => {
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) done();
    });
    child.once("exit", (code) => fail(new Error(`redis-server exited with ${code}: ${output}`)));
  });
  return {
    kind: "redis-server",
    port: () => port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((done) => child.once("exit", done));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Resolves once something accepts TCP connections on `port`; throws after `timeoutMs`. */
async function waitForListener(port: number, what: string, timeoutMs = 15_000): Promise<void> {
  const accepts = () =>
    new Promise<boolean>((done) => {
      const socket = connect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        done(true);
      });
      socket.once("error", () => done(false));
    });
  await eventually(`${what} (${port}) to accept connections`, accepts, timeoutMs);
}

/** Polls `probe` until it returns true; throws with `what` after `timeoutMs`. Never asserts on speed. */
export async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** True when redis-cli is installed; the redis-cli suite skips itself otherwise. */
export function hasRedisCli(): boolean {
  return existsSync(REDIS_CLI) && spawnSync(REDIS_CLI, ["--version"]).status === 0;
}
