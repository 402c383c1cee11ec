/**
 * @module A real Shoal cluster on loopback for chaos runs: `shoal start` child processes, each node's peer
 * traffic routed through the FaultProxy, and the process-level faults the nemesis uses: kill -9 and restart,
 * SIGSTOP and SIGCONT. Each node gets its own `--peers` list (peer j's address is the proxy's listener for the
 * link i→j) and really listens on `--peer-listen`.
 *
 * Members may also join while the run goes (`joinNode`: `shoal start --join`, ids after the first members'): their
 * peer links are direct, not proxied (every member dials a joined one at the one address it announced, so the
 * proxy could not cut its links one by one), and the process faults leave them alone — they are what the
 * membership nemesis adds and drains away again.
 *
 * Layout under the run directory: `data/<id>/` (the node's data directory), `nodes/node-<id>.log` (its pino log,
 * appended across restarts) and `nodes/node-<id>.stderr`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../support/free-port.js";
import { reapOnExit } from "../support/reap-on-exit.js";
import { FaultProxy } from "./fault-proxy.js";
import { NodeClient } from "./node-client.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const STATUS_TIMEOUT_MS = 1_500;
const START_ATTEMPTS = 4;

export type NodeState = "running" | "paused" | "down";

export interface ChaosClusterOptions {
  readonly nodes: number;
  readonly dir: string;
  /** `--unsafe` for every node, e.g. "stale-reads". */
  readonly unsafe?: string;
  /** More `shoal start` flags for every node. */
  readonly nodeArgs?: readonly string[];
}

/** A node's own view, from GET /v1/cluster. */
export interface NodeStatus {
  readonly id: number;
  readonly leader: number;
  readonly term: number;
  readonly role: string;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** Each shard as this node sees it (several when the cluster is sharded). */
  readonly shards?: readonly ShardView[];
}

interface ShardView {
  readonly id: number;
  readonly leader: number;
  readonly replicas: readonly number[];
  /** The shard's term on a node holding a replica; 0 elsewhere. */
  readonly term: number;
  /** From the shard leader's member info: each other replica's lag. */
  readonly lag?: Readonly<Record<string, number>>;
}

export interface UnexpectedExit {
  readonly id: number;
  readonly code: number | null;
  readonly signal: string | null;
}

export class ChaosCluster {
  readonly ids: readonly number[];
  readonly proxy: FaultProxy;
  readonly dir: string;
  readonly unexpectedExits: UnexpectedExit[] = [];
  readonly #options: ChaosClusterOptions;
  readonly #httpPorts = new Map<number, number>();
  /** Each node's Redis protocol port, fixed for the run (a restarted node re-binds it): clients connect to the
   * node directly, like the HTTP clients; only peer links go through the proxy. */
  readonly #respPorts = new Map<number, number>();
  readonly #peerPorts = new Map<number, number>();
  readonly #children = new Map<number, ChildProcess>();
  readonly #states = new Map<number, NodeState>();
  readonly #statusClients = new Map<number, NodeClient>();
  /** Nodes this harness is stopping or killing: their exits are expected. */
  readonly #exiting = new Set<number>();
  /** Members that joined during the run and have not been removed (see the module comment). */
  readonly joined = new Set<number>();
  #nextJoinId: number;

  private constructor(options: ChaosClusterOptions, ids: number[], proxy: FaultProxy, peerPorts: Map<number, number>) {
    this.#options = options;
    this.dir = options.dir;
    this.ids = ids;
    this.proxy = proxy;
    this.#peerPorts = peerPorts;
    this.#nextJoinId = ids.length + 1;
  }

  static async start(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
    const peerPorts = new Map<number, number>();
    for (const id of ids) peerPorts.set(id, await freePort());
    const proxy = await FaultProxy.start(ids, (id) => peerPorts.get(id)!);
    const cluster = new ChaosCluster(options, ids, proxy, peerPorts);
    for (const id of ids) {
      const port = await freePort();
      cluster.#httpPorts.set(id, port);
      cluster.#respPorts.set(id, await freePort());
      cluster.#states.set(id, "down");
      cluster.#statusClients.set(id, new NodeClient(id, port, STATUS_TIMEOUT_MS));
    }
    mkdirSync(join(options.dir, "nodes"), { recursive: true });
    mkdirSync(join(options.dir, "data"), { recursive: true });
    await Promise.all(ids.map((id) => cluster.startNode(id)));
    return cluster;
  }

  httpPort(id: number): number {
    return this.#httpPorts.get(id)!;
  }

  respPort(id: number): number {
    return this.#respPorts.get(id)!;
  }

  state(id: number): NodeState {
    return this.#states.get(id)!;
  }

  /** The `--peers` list node `id` is started with: itself at its real address, every peer through the proxy. */
  peersFor(id: number): string {
    return this.ids
      .map((peer) => `${peer}=127.0.0.1:${peer === id ? this.#peerPorts.get(id) : this.proxy.port(id, peer)}`)
      .join(",");
  }

  /** Starts (or restarts) node `id`; resolves when it prints its ready line. A start that fails because a port
   * is briefly taken is retried. */
  async startNode(id: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#startOnce(id);
      } catch (error) {
        if (attempt >= START_ATTEMPTS || !/EADDRINUSE/.test(readTail(join(this.dir, "nodes", `node-${id}.stderr`))))
          throw error;
        // That attempt's exit was the port's fault, not the node's: the retry is the start.
        const last = this.unexpectedExits.findLastIndex((exit) => exit.id === id);
        if (last >= 0) this.unexpectedExits.splice(last, 1);
        await sleep(500);
      }
    }
  }

  /**
   * Starts a new member that joins the cluster through `via` (a running first member), under the next unused id;
   * resolves with its id once it is ready (it is a member then). Rejects when it does not start or join in time
   * (the process is stopped; the id is not used again).
   */
  async joinNode(via: number): Promise<number> {
    const id = this.#nextJoinId++;
    const httpPort = await freePort();
    this.#httpPorts.set(id, httpPort);
    this.#respPorts.set(id, await freePort());
    this.#peerPorts.set(id, await freePort());
    this.#states.set(id, "down");
    this.#statusClients.set(id, new NodeClient(id, httpPort, STATUS_TIMEOUT_MS));
    // The cluster's own flags (shards, replicas) are refused by a joining node: it takes them from the cluster.
    const own: string[] = [];
    const nodeArgs = this.#options.nodeArgs ?? [];
    for (let i = 0; i < nodeArgs.length; i++) {
      if (nodeArgs[i] === "--shards" || nodeArgs[i] === "--replicas") i++;
      else own.push(nodeArgs[i] as string);
    }
    try {
      await this.#startOnce(id, [
        "--join",
        `127.0.0.1:${this.#peerPorts.get(via)}`,
        "--peer",
        `127.0.0.1:${this.#peerPorts.get(id)}`,
        ...own,
      ]);
    } catch (error) {
      await this.stopNode(id);
      throw error;
    }
    this.joined.add(id);
    return id;
  }

  /** Marks `id`'s coming exit as expected (a member being removed stops by itself once it is gone). */
  expectExit(id: number): void {
    this.#exiting.add(id);
  }

  /** Stops node `id` (SIGTERM, then SIGKILL after 5 s); its exit is expected. */
  async stopNode(id: number): Promise<void> {
    const child = this.#children.get(id);
    if (child === undefined) return;
    this.#exiting.add(id);
    if (this.#states.get(id) === "paused") this.resume(id);
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }

  async #startOnce(id: number, joining?: readonly string[]): Promise<void> {
    if (this.#states.get(id) !== "down") throw new Error(`Cannot start node ${id}: it is ${this.#states.get(id)}`);
    const args = [
      MAIN,
      "start",
      "--id",
      String(id),
      "--data-dir",
      join(this.dir, "data", String(id)),
      ...(joining ?? [
        "--peers",
        this.peersFor(id),
        "--peer-listen",
        `127.0.0.1:${this.#peerPorts.get(id)}`,
        ...(this.#options.nodeArgs ?? []),
      ]),
      "--http-port",
      String(this.httpPort(id)),
      "--resp-port",
      String(this.respPort(id)),
      "--log-file",
      join(this.dir, "nodes", `node-${id}.log`),
      ...(this.#options.unsafe === undefined ? [] : ["--unsafe", this.#options.unsafe]),
    ];
    const stderr = openSync(join(this.dir, "nodes", `node-${id}.stderr`), "a");
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", stderr] });
    closeSync(stderr);
    reapOnExit(child);
    this.#children.set(id, child);
    this.#states.set(id, "running");
    this.#exiting.delete(id);
    child.once("exit", (code, signal) => {
      if (this.#children.get(id) !== child) return;
      this.#children.delete(id);
      this.#states.set(id, "down");
      if (!this.#exiting.has(id)) this.unexpectedExits.push({ id, code, signal });
    });
    await new Promise<void>((done, fail) => {
      let output = "";
      const timer = setTimeout(
        () => fail(new Error(`Node ${id} did not start within ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("ready")) {
          clearTimeout(timer);
          done();
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        fail(new Error(`Node ${id} exited with ${code} before it was ready (see nodes/node-${id}.stderr)`));
      });
    });
  }

  /** kill -9; resolves when the process is gone. */
  async kill(id: number): Promise<void> {
    const child = this.#children.get(id);
    if (child === undefined) return;
    this.#exiting.add(id);
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGKILL");
    await exited;
  }

  pause(id: number): void {
    const child = this.#children.get(id);
    if (child === undefined || this.#states.get(id) !== "running") return;
    child.kill("SIGSTOP");
    this.#states.set(id, "paused");
  }

  resume(id: number): void {
    const child = this.#children.get(id);
    if (child === undefined || this.#states.get(id) !== "paused") return;
    child.kill("SIGCONT");
    this.#states.set(id, "running");
  }

  /** A node's own view, or undefined if it does not answer in time. */
  async status(id: number): Promise<NodeStatus | undefined> {
    if (this.#states.get(id) !== "running") return undefined;
    try {
      const answer = await this.#statusClients.get(id)!.send("GET", "/v1/cluster");
      if (answer.status !== 200) return undefined;
      return JSON.parse(answer.body.toString("utf8")) as NodeStatus;
    } catch {
      return undefined;
    }
  }

  /** The node that calls itself leader in the highest term, among those that answer. */
  async leader(): Promise<number | undefined> {
    const views = await Promise.all(this.ids.map((id) => this.status(id)));
    let best: NodeStatus | undefined;
    for (const view of views) {
      if (view?.role === "leader" && (best === undefined || view.term > best.term)) best = view;
    }
    return best?.id;
  }

  /** Waits until every node runs, all agree on one leader and term, and all have applied the same index. */
  async waitConverged(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const views = await Promise.all(this.ids.map((id) => this.status(id)));
      const first = views[0];
      if ((first?.shards?.length ?? 0) > 1) {
        if (shardsConverged(views)) return true;
        await sleep(200);
        continue;
      }
      const agreed =
        first !== undefined &&
        first.leader !== 0 &&
        views.every(
          (v) =>
            v !== undefined &&
            v.leader === first.leader &&
            v.term === first.term &&
            v.appliedIndex === first.appliedIndex &&
            v.commitIndex === first.commitIndex,
        );
      if (agreed) return true;
      await sleep(200);
    }
    return false;
  }

  /** Resumes paused nodes and stops every node (SIGTERM, then SIGKILL after a grace period). */
  async stop(): Promise<void> {
    await Promise.all([...this.#children.keys()].map((id) => this.stopNode(id)));
    for (const client of this.#statusClients.values()) client.close();
    await this.proxy.close();
  }
}

/** The last lines of a small log file ("" if missing). */
function readTail(path: string): string {
  try {
    return readFileSync(path, "utf8").slice(-2000);
  } catch {
    return "";
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/**
 * On several shards each shard is its own group, on its own replicas (placement): converged when every node names
 * the same leader for every shard, every node holding a replica agrees on its term, and the leader reports each
 * other replica caught up (lag 0).
 */
function shardsConverged(views: readonly (NodeStatus | undefined)[]): boolean {
  const first = views[0];
  if (first?.shards === undefined || views.some((view) => view === undefined)) return false;
  return first.shards.every((shard) => {
    if (shard.leader === 0) return false;
    const seen = views.map((view) => view?.shards?.find((other) => other.id === shard.id));
    if (seen.some((other) => other?.leader !== shard.leader)) return false;
    const terms = new Set(seen.flatMap((other) => (other === undefined || other.term === 0 ? [] : [other.term])));
    if (terms.size !== 1) return false;
    return shard.replicas.every((replica) => shard.lag?.[String(replica)] === 0);
  });
}
