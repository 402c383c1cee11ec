/**
 * @module End-to-end harness: real `shoal start` child processes on loopback, each with its own data directory,
 * driven over real HTTP. Used by the integration tests and the cluster benchmark.
 */

import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./free-port.js";
import { reapOnExit } from "./reap-on-exit.js";

const MAIN = resolve("dist/src/cli/main.js");

export interface ProcessClusterOptions {
  readonly nodes: number;
  readonly extraArgs?: readonly string[];
  readonly dataDir?: string;
}

interface NodeProcess {
  readonly id: number;
  readonly httpUrl: string;
  readonly httpPort: number;
  /** The node's Redis protocol (RESP) port, and the same as a redis:// URL. */
  readonly respPort: number;
  readonly respUrl: string;
  child: ChildProcess | undefined;
  /** What the current (or last) process wrote to stderr, and how it ended once it has. */
  stderr: string;
  exit: Promise<number | null>;
}

export { freePort };

export class ProcessCluster {
  readonly dataDir: string;
  readonly nodes = new Map<number, NodeProcess>();
  readonly #peers: string;
  readonly #extraArgs: readonly string[];
  /** Nodes added with addNode: their peer address and the member they join through. */
  readonly #joiners = new Map<number, { readonly peer: string; readonly join: string }>();
  readonly #ownsDataDir: boolean;

  private constructor(dataDir: string, ownsDataDir: boolean, peers: string, extraArgs: readonly string[]) {
    this.dataDir = dataDir;
    this.#ownsDataDir = ownsDataDir;
    this.#peers = peers;
    this.#extraArgs = extraArgs;
  }

  static async start(options: ProcessClusterOptions): Promise<ProcessCluster> {
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "shoal-e2e-"));
    const ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
    const peerPorts = await Promise.all(ids.map(() => freePort()));
    const httpPorts = await Promise.all(ids.map(() => freePort()));
    const respPorts = await Promise.all(ids.map(() => freePort()));
    const peers = ids.map((id, i) => `${id}=127.0.0.1:${peerPorts[i]}`).join(",");
    const cluster = new ProcessCluster(dataDir, options.dataDir === undefined, peers, options.extraArgs ?? []);
    ids.forEach((id, i) => {
      cluster.#addNodeSeat(id, httpPorts[i] as number, respPorts[i] as number);
    });
    // If one node fails to start, stop the others: left running, their pipes would keep the test process alive.
    const started = await Promise.allSettled(ids.map((id) => cluster.startNode(id)));
    const failure = started.find((outcome) => outcome.status === "rejected");
    if (failure !== undefined) {
      await cluster.stop();
      throw failure.reason;
    }
    return cluster;
  }

  url(id: number): string {
    return this.#node(id).httpUrl;
  }

  respPort(id: number): number {
    return this.#node(id).respPort;
  }

  /** The process id of node `id` while it runs. */
  pid(id: number): number | undefined {
    return this.#node(id).child?.pid;
  }

  /** The `--peers` list every node gets. */
  get peers(): string {
    return this.#peers;
  }

  /** Starts a new node `id` that joins the running cluster through node `via`'s peer address (`shoal start
   * --join`); resolves once it prints its ready line. Later `startNode(id)` restarts it the same way. */
  async addNode(id: number, via: number): Promise<void> {
    const [peerPort, httpPort, respPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const viaPeer = new RegExp(`(?:^|,)${via}=([^,]+)`).exec(this.#peers)?.[1];
    assert(viaPeer !== undefined, `node ${via} is not among the first members`);
    this.#joiners.set(id, { peer: `127.0.0.1:${peerPort}`, join: viaPeer });
    this.#addNodeSeat(id, httpPort, respPort);
    await this.startNode(id);
  }

  /** Records node `id` and its client ports, not started yet. */
  #addNodeSeat(id: number, httpPort: number, respPort: number): void {
    this.nodes.set(id, {
      id,
      httpPort,
      httpUrl: `http://127.0.0.1:${httpPort}`,
      respPort,
      respUrl: `redis://127.0.0.1:${respPort}`,
      child: undefined,
      stderr: "",
      exit: Promise.resolve(null),
    });
  }

  /** Starts (or restarts) node `id` and resolves once it prints its ready line; `args` go after the usual ones. */
  async startNode(id: number, moreArgs: readonly string[] = []): Promise<void> {
    const node = this.#node(id);
    const joiner = this.#joiners.get(id);
    // A joining node takes the cluster's shards and replicas: it is not given them.
    const clusterArgs = this.#extraArgs.filter(
      (arg, i, all) => joiner === undefined || !(isClusterFlag(arg) || isClusterFlag(all[i - 1])),
    );
    const args = [
      MAIN,
      "start",
      "--id",
      String(id),
      "--data-dir",
      join(this.dataDir, String(id)),
      ...(joiner === undefined ? ["--peers", this.#peers] : ["--peer", joiner.peer, "--join", joiner.join]),
      "--http-port",
      String(node.httpPort),
      "--resp-port",
      String(node.respPort),
      "--log-file",
      join(this.dataDir, `node-${id}.log`),
      ...clusterArgs,
      ...moreArgs,
    ];
    // SHOAL_NODE_ARGS passes flags to the node processes' runtime, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    const nodeArgs = process.env.SHOAL_NODE_ARGS ? process.env.SHOAL_NODE_ARGS.split(" ") : [];
    const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    reapOnExit(child);
    node.child = child;
    node.stderr = "";
    node.exit = new Promise((done) =>
      child.once("exit", (code) => {
        if (node.child === child) node.child = undefined;
        done(code);
      }),
    );
    child.stderr?.on("data", (chunk: Buffer) => {
      node.stderr += chunk.toString();
    });
    // SHOAL_NODE_STDOUT_DIR keeps each node's stdout (e.g. with SHOAL_NODE_ARGS="--trace-gc") in <dir>/node-<id>.log.
    const stdoutDir = process.env.SHOAL_NODE_STDOUT_DIR;
    if (stdoutDir) child.stdout?.pipe(createWriteStream(join(stdoutDir, `node-${id}.log`), { flags: "a" }));
    await new Promise<void>((done, fail) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("ready")) done();
      });
      child.once("exit", (code) => fail(new Error(`node ${id} exited with ${code} before ready: ${node.stderr}`)));
    });
  }

  /** kill -9 (or another signal) and wait for the process to be gone. */
  async kill(id: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const node = this.#node(id);
    const child = node.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once("exit", done));
    child.kill(signal);
    await exited;
    node.child = undefined;
  }

  /** Waits for node `id`'s process to end by itself; its exit code and stderr. */
  async exited(id: number, timeoutMs = 30_000): Promise<{ code: number | null; stderr: string }> {
    const node = this.#node(id);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`node ${id} still runs after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const code = await Promise.race([node.exit, timeout]);
      node.child = undefined;
      return { code, stderr: node.stderr };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` to node `id` without waiting for it to exit (SIGSTOP / SIGCONT pause and resume it). */
  signal(id: number, signal: NodeJS.Signals): void {
    const child = this.#node(id).child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill(signal);
  }

  async cluster(id: number): Promise<ClusterStatus> {
    const response = await fetch(`${this.url(id)}/v1/cluster`);
    return (await response.json()) as ClusterStatus;
  }

  /** Polls until some live node reports a leader that every live node agrees on. */
  async waitForLeader(timeoutMs = 15_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const live = [...this.nodes.values()].filter((n) => n.child !== undefined);
      const leaders = await Promise.all(
        live.map((n) =>
          this.cluster(n.id)
            .then((s) => s.leader)
            .catch(() => 0),
        ),
      );
      const first = leaders[0];
      if (first !== undefined && first !== 0 && leaders.every((l) => l === first)) return first;
      await sleep(100);
    }
    throw new Error("No leader elected in time");
  }

  /** Pauses the rebalancer (tests that move replicas by hand), once the meta group can record it. */
  async pauseRebalancer(via = 1, timeoutMs = 30_000, paused = true): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = await fetch(`${this.url(via)}/v1/admin/rebalance`, {
        method: "POST",
        body: JSON.stringify({ paused }),
      }).catch(() => undefined);
      if (answer?.status === 200) return;
      if (Date.now() > deadline) throw new Error(`cannot set the rebalancer paused ${paused}: ${await answer?.text()}`);
      await sleep(200);
    }
  }

  resumeRebalancer(via = 1, timeoutMs = 30_000): Promise<void> {
    return this.pauseRebalancer(via, timeoutMs, false);
  }

  async stop(): Promise<void> {
    // A paused node would hold SIGTERM until resumed: resume every node first (harmless for running ones).
    for (const id of this.nodes.keys()) this.signal(id, "SIGCONT");
    await Promise.all([...this.nodes.keys()].map((id) => this.kill(id, "SIGTERM")));
    if (this.#ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  #node(id: number): NodeProcess {
    const node = this.nodes.get(id);
    if (node === undefined) throw new RangeError(`No node ${id}`);
    return node;
  }
}

export interface ClusterStatus {
  readonly id: number;
  readonly leader: number;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly members: readonly {
    id: number;
    role: string;
    reachable: boolean;
    appliedIndex?: number;
    replication?: string;
  }[];
  readonly clusterId?: string;
  readonly problems?: readonly string[];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** PUT with retries on 503 (no leader yet); returns the HTTP status of the last attempt. */
export async function putKey(baseUrl: string, key: string, value: string, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`${baseUrl}/v1/kv/${encodeURIComponent(key)}`, { method: "PUT", body: value });
      await response.arrayBuffer();
      if (response.status !== 503 || Date.now() > deadline) return response.status;
    } catch {
      if (Date.now() > deadline) return 0;
    }
    await sleep(50);
  }
}

export async function getKey(baseUrl: string, key: string, stale = false): Promise<{ status: number; value: string }> {
  const query = stale ? "?consistency=stale" : "";
  const response = await fetch(`${baseUrl}/v1/kv/${encodeURIComponent(key)}${query}`);
  return { status: response.status, value: await response.text() };
}

/** Runs `count` tasks with at most `concurrency` in flight. */
export async function inParallel(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  });
  await Promise.all(workers);
}

/** `--shards` and `--replicas`: fixed when a cluster is created, refused from a joining node. */
function isClusterFlag(arg: string | undefined): boolean {
  return arg === "--shards" || arg === "--replicas";
}

/** Runs the shoal CLI; resolves with its exit code and output (a non-zero exit is not an error here). */
export async function runShoal(
  args: readonly string[],
  timeoutMs = 120_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [MAIN, ...args], { timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

/** Resolves with `probe`'s first defined answer (a throwing probe counts as not yet), polling every 250 ms; fails
 * naming `what` after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}
