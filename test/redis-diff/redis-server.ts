/**
 * @module Starts a real redis-server (the Debian package) on a free loopback port in a temporary directory, for the
 * differential test and the RESP benchmark. No persistence unless the caller passes `--appendonly yes ...`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, sleep } from "../support/process-cluster.js";

export const REDIS_SERVER = "/usr/bin/redis-server";
export const REDIS_CLI = "/usr/bin/redis-cli";

export function redisServerInstalled(): boolean {
  return existsSync(REDIS_SERVER);
}

export interface RedisServer {
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

/** `extraArgs` are redis-server options, e.g. ["--appendonly", "yes", "--appendfsync", "always"]. */
export async function startRedisServer(extraArgs: readonly string[] = []): Promise<RedisServer> {
  let lastError: unknown;
  // freePort() closes its probe before redis binds, so another process can take the port in between: retry.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "shoal-redis-"));
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"];
    const child = spawn(REDIS_SERVER, [...args, ...extraArgs], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      await waitForPong(port, child);
      return { port, dir, stop: () => stopChild(child, dir) };
    } catch (error) {
      lastError = new Error(`redis-server on port ${port} did not start: ${String(error)}\n${output}`);
      await stopChild(child, dir);
    }
  }
  throw lastError;
}

async function waitForPong(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    if (await respPing(port)) return;
    await sleep(20);
  }
  throw new Error("no PONG in time");
}

/** True when something on 127.0.0.1:`port` answers an inline PING with +PONG. */
export function respPing(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) {
        socket.destroy();
        done(reply === "+PONG\r\n");
      }
    });
    socket.on("error", () => done(false));
  });
}

async function stopChild(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGTERM");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}
