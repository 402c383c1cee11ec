/**
 * @module The nemesis: injects faults while the clients run — one at a time by default, or `concurrency`
 * overlapping ones (independent loops; a process fault never targets a node another loop holds, and the links cut
 * by overlapping partitions add up) — each logged with its times into the history (client "nemesis") and as a
 * line of nemesis.log:
 * - `kill`: kill -9 the leader or a random node, restart it after the fault's duration;
 * - `pause`: SIGSTOP the leader or a random node, SIGCONT after the fault's duration;
 * - `partition`: one of the shapes of partitions.ts through the fault proxy, healed after the fault's duration.
 * Faults alternate with quiet periods. `healAll` undoes everything (resume, restart, heal the network) before the
 * final reads. All choices come from the run's seeded PRNG.
 */
import type { Prng } from "../../src/lib/prng.js";
import type { ChaosCluster } from "./chaos-cluster.js";
import type { Link } from "./fault-proxy.js";
import type { HistoryRecorder } from "./history.js";
import { formatSeconds } from "./history.js";
import { makePartition, PARTITION_SHAPES, type PartitionShape } from "./partitions.js";

export const FAULT_KINDS = ["kill", "pause", "partition"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface NemesisOptions {
  readonly kinds: readonly FaultKind[];
  readonly shapes?: readonly PartitionShape[];
  /** How long a fault lasts: uniform in [min, max]. */
  readonly faultMs: readonly [number, number];
  /** The quiet time between faults (and before the first): uniform in [min, max]. */
  readonly quietMs: readonly [number, number];
  /** Chance that a kill or pause targets the leader rather than a random node. */
  readonly leaderBias?: number;
  /** Faults that may be in progress at once (default 1). */
  readonly concurrency?: number;
}

export class Nemesis {
  readonly #cluster: ChaosCluster;
  readonly #recorder: HistoryRecorder;
  readonly #random: Prng;
  readonly #options: NemesisOptions;
  readonly #log: (line: string) => void;
  #stopped = false;
  readonly #wakers = new Set<() => void>();
  /** Nodes a kill or pause of some loop currently holds. */
  readonly #busy = new Set<number>();
  /** The links each active partition cuts; the proxy blocks their union. */
  readonly #partitions = new Map<number, readonly Link[]>();
  #nextFault = 0;
  faults = 0;

  constructor(
    cluster: ChaosCluster,
    recorder: HistoryRecorder,
    random: Prng,
    options: NemesisOptions,
    log: (line: string) => void,
  ) {
    this.#cluster = cluster;
    this.#recorder = recorder;
    this.#random = random;
    this.#options = options;
    this.#log = (line) => log(`[${formatSeconds(recorder.nowNs()).padStart(9)}] ${line}`);
  }

  /** Runs faults until `stop()`; the faults in progress are ended early then. */
  async run(): Promise<void> {
    if (this.#options.kinds.length === 0) return;
    await Promise.all(Array.from({ length: this.#options.concurrency ?? 1 }, () => this.#loop()));
  }

  stop(): void {
    this.#stopped = true;
    for (const wake of this.#wakers) wake();
  }

  async #loop(): Promise<void> {
    await this.#sleep(this.#between(this.#options.quietMs));
    while (!this.#stopped) {
      const kind = this.#options.kinds[this.#random.int(this.#options.kinds.length)]!;
      if (await this.#fault(kind)) this.faults++;
      await this.#sleep(this.#between(this.#options.quietMs));
    }
  }

  /** Resumes paused nodes, restarts dead ones and heals the network. */
  async healAll(): Promise<void> {
    const invokeNs = this.#recorder.nowNs();
    this.#cluster.proxy.heal();
    const resumed: number[] = [];
    const restarted: number[] = [];
    const errors: string[] = [];
    for (const id of this.#cluster.ids) {
      if (this.#cluster.state(id) === "paused") {
        this.#cluster.resume(id);
        resumed.push(id);
      }
    }
    for (const id of this.#cluster.ids) {
      if (this.#cluster.state(id) !== "down") continue;
      try {
        await this.#cluster.startNode(id);
        restarted.push(id);
      } catch (error) {
        errors.push(`node ${id}: ${(error as Error).message}`);
      }
    }
    const error = errors.length > 0 ? errors.join("; ") : undefined;
    this.#recorder.nemesis("heal-all", { resumed, restarted }, invokeNs, error);
    this.#log(
      `heal all: network healed, resumed [${resumed.join(",")}], restarted [${restarted.join(",")}]${error ? `, FAILED: ${error}` : ""}`,
    );
  }

  /** Runs one fault to its end; false when no node was free for a process fault. */
  async #fault(kind: FaultKind): Promise<boolean> {
    const durationMs = this.#between(this.#options.faultMs);
    const leader = await this.#cluster.leader();
    if (kind === "partition") {
      await this.#partition(leader, durationMs);
      return true;
    }
    const target = this.#target(leader);
    if (target === undefined) return false;
    this.#busy.add(target);
    try {
      if (kind === "kill") await this.#kill(target, leader, durationMs);
      else await this.#pause(target, leader, durationMs);
    } finally {
      this.#busy.delete(target);
    }
    return true;
  }

  async #kill(id: number, leader: number | undefined, durationMs: number): Promise<void> {
    let invokeNs = this.#recorder.nowNs();
    await this.#cluster.kill(id);
    this.#recorder.nemesis("kill", { node: id, leader: id === leader }, invokeNs);
    this.#log(`kill -9 node ${id}${id === leader ? " (leader)" : ""} for ${durationMs} ms`);
    await this.#sleep(durationMs);
    invokeNs = this.#recorder.nowNs();
    try {
      await this.#cluster.startNode(id);
      this.#recorder.nemesis("restart", { node: id }, invokeNs);
      this.#log(`restarted node ${id}`);
    } catch (error) {
      this.#recorder.nemesis("restart", { node: id }, invokeNs, (error as Error).message);
      this.#log(`restart of node ${id} FAILED: ${(error as Error).message}`);
    }
  }

  async #pause(id: number, leader: number | undefined, durationMs: number): Promise<void> {
    let invokeNs = this.#recorder.nowNs();
    this.#cluster.pause(id);
    this.#recorder.nemesis("pause", { node: id, leader: id === leader }, invokeNs);
    this.#log(`SIGSTOP node ${id}${id === leader ? " (leader)" : ""} for ${durationMs} ms`);
    await this.#sleep(durationMs);
    invokeNs = this.#recorder.nowNs();
    this.#cluster.resume(id);
    this.#recorder.nemesis("resume", { node: id }, invokeNs);
    this.#log(`SIGCONT node ${id}`);
  }

  async #partition(leader: number | undefined, durationMs: number): Promise<void> {
    const shapes = this.#options.shapes ?? PARTITION_SHAPES;
    const shape = shapes[this.#random.int(shapes.length)]!;
    const partition = makePartition(shape, this.#cluster.ids, leader, this.#random);
    const id = this.#nextFault++;
    let invokeNs = this.#recorder.nowNs();
    this.#partitions.set(id, partition.blocked);
    this.#cluster.proxy.setBlocked([...this.#partitions.values()].flat());
    this.#recorder.nemesis(
      "partition",
      { shape, description: partition.description, leader: leader ?? null, blocked: partition.blocked },
      invokeNs,
    );
    this.#log(
      `partition ${shape}: ${partition.description}${leader === undefined ? "" : ` (leader was ${leader})`} for ${durationMs} ms`,
    );
    await this.#sleep(durationMs);
    invokeNs = this.#recorder.nowNs();
    this.#partitions.delete(id);
    this.#cluster.proxy.setBlocked([...this.#partitions.values()].flat());
    this.#recorder.nemesis("heal", { shape, stillBlocked: this.#cluster.proxy.blocked() }, invokeNs);
    this.#log(this.#partitions.size === 0 ? "healed the network" : `healed the ${shape} partition (others remain)`);
  }

  /** The leader (with the configured bias) or a random node, among those no other fault holds. */
  #target(leader: number | undefined): number | undefined {
    const free = this.#cluster.ids.filter((id) => !this.#busy.has(id));
    if (free.length === 0) return undefined;
    if (leader !== undefined && free.includes(leader) && this.#random.chance(this.#options.leaderBias ?? 0.5))
      return leader;
    return free[this.#random.int(free.length)]!;
  }

  #between([min, max]: readonly [number, number]): number {
    return min + this.#random.int(Math.max(1, max - min + 1));
  }

  /** Sleeps `ms`, or less if the nemesis is stopped meanwhile. */
  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((done) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.#wakers.delete(finish);
        done();
      };
      const timer = setTimeout(finish, ms);
      this.#wakers.add(finish);
    });
  }
}
