/**
 * @module The nemesis: injects faults while the clients run — one at a time by default, or `concurrency`
 * overlapping ones (independent loops; a process fault never targets a node another loop holds, and the links cut
 * by overlapping partitions add up) — each logged with its times into the history (client "nemesis") and as a
 * line of nemesis.log:
 * - `kill`: kill -9 the leader or a random node, restart it after the fault's duration;
 * - `pause`: SIGSTOP the leader or a random node, SIGCONT after the fault's duration;
 * - `partition`: one of the shapes of partitions.ts through the fault proxy, healed after the fault's duration;
 * - `membership`: on one shard, moves a replica of it (its leader's, half the time) to a member without one,
 *   through a running node's admin API (POST /v1/admin/shards/{id}/move, admin-client.ts), and follows it for the
 *   fault's duration; the cluster's rebalancer may move replicas back meanwhile, which is more of the same (needs
 *   more nodes than replicas). On two shards or more, the fault is a run of actions back to back for its
 *   duration, each followed until done: the first a slot action, then a quarter of them such a replica move, the
 *   rest slot actions — a range of slots, often the workload's keys' own, moved to another shard, now and then a
 *   split or a merge back (slot-nemesis.ts). The first fault of the first loop is then a membership one, so that
 *   even a short run moves slots. Some membership actions add or remove a node instead (NODE_ACTION_SHARE): a new
 *   member joins (`shoal start --join`, through a first member; the rebalancer then moves replicas and leaders to
 *   it), or a member that joined is drained and removed (DELETE /v1/admin/nodes/{id}; it stops by itself once gone),
 *   at most JOINED_MAX joined at once. Joined members' links are not proxied and kills and pauses leave them alone
 *   (chaos-cluster.ts): partitions cut the first members' links only.
 * Faults alternate with quiet periods. `healAll` undoes everything (resume, restart, heal the network) before the
 * final reads. All choices come from the run's seeded PRNG.
 */

import type { AdminNodesView } from "../../src/http/admin-member-routes.js";
import type { AdminShardsView } from "../../src/http/admin-routes.js";
import { Prng } from "../../src/lib/prng.js";
import { AdminClient } from "./admin-client.js";
import type { ChaosCluster } from "./chaos-cluster.js";
import type { Link } from "./fault-proxy.js";
import type { HistoryRecorder } from "./history.js";
import { formatSeconds } from "./history.js";
import { makePartition, PARTITION_SHAPES, type PartitionShape } from "./partitions.js";
import { SlotNemesis } from "./slot-nemesis.js";

export const FAULT_KINDS = ["kill", "pause", "partition", "membership"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** On several shards, the share of membership actions that move a replica (the rest move slots). */
const REPLICA_MOVE_SHARE = 0.25;
/** The share of membership actions that add or remove a node. */
const NODE_ACTION_SHARE = 0.25;
/** Members that joined during the run, at most, at once. */
const JOINED_MAX = 2;
/** The pause between two membership actions of one fault. */
const ACTION_PAUSE_MS = 200;

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
  /** The shards the cluster started with (default 1); from 2 on, `membership` moves slots between them too. */
  readonly shards?: number;
  /** The hash slots of the keys the workload uses now (and next): slot moves aim at them. */
  readonly hotSlots?: () => readonly number[];
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
  readonly #admin: AdminClient;
  /** Slot moves, splits and merges: on a cluster of two shards or more. */
  readonly slots: SlotNemesis | undefined;
  faults = 0;
  /** Replica moves the cluster recorded. */
  replicaMoves = 0;
  /** Nodes that joined, and joined nodes whose removal the cluster recorded. */
  joins = 0;
  removals = 0;
  /** Joined members being drained and removed. */
  readonly #removing = new Set<number>();

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
    // Their own PRNGs, drawn from the nemesis's: a seed still replays every choice.
    this.#admin = new AdminClient(cluster, new Prng(random.nextUint32()));
    const slotRandom = new Prng(random.nextUint32());
    this.slots =
      (options.shards ?? 1) >= 2 && options.kinds.includes("membership")
        ? new SlotNemesis(this.#admin, slotRandom, recorder, this.#log, {
            initialShards: options.shards ?? 1,
            hotSlots: options.hotSlots ?? (() => []),
          })
        : undefined;
  }

  /** Runs faults until `stop()`; the faults in progress are ended early then. */
  async run(): Promise<void> {
    if (this.#options.kinds.length === 0) return;
    await Promise.all(Array.from({ length: this.#options.concurrency ?? 1 }, (_, i) => this.#loop(i === 0)));
  }

  stop(): void {
    this.#stopped = true;
    for (const wake of this.#wakers) wake();
  }

  async #loop(first: boolean): Promise<void> {
    await this.#sleep(this.#between(this.#options.quietMs));
    // When slots can move, the first loop starts with a membership fault: even a short run moves some.
    let kind: FaultKind | undefined = first && this.slots !== undefined ? "membership" : undefined;
    while (!this.#stopped) {
      kind ??= this.#options.kinds[this.#random.int(this.#options.kinds.length)]!;
      if (await this.#fault(kind)) this.faults++;
      kind = undefined;
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
    if (kind === "membership") return this.#membership(durationMs);
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

  /** The membership fault (see the module comment); false when no action was possible. */
  async #membership(durationMs: number): Promise<boolean> {
    const deadline = Date.now() + durationMs;
    const slots = this.slots;
    if (slots === undefined) {
      if (this.#random.chance(NODE_ACTION_SHARE) && (await this.#nodeAction(deadline))) return true;
      return this.#moveReplica(deadline);
    }
    let acted = false;
    do {
      // A slot action first: every membership fault moves slots.
      const draw = this.#random.next();
      let done = false;
      if (acted && draw < NODE_ACTION_SHARE) done = await this.#nodeAction(deadline);
      else if (acted && draw < NODE_ACTION_SHARE + REPLICA_MOVE_SHARE) done = await this.#moveReplica(deadline);
      if (!done) done = await slots.act(deadline, () => this.#stopped);
      if (!done) break; // nothing could be done now (no node answered): not again at once
      acted = true;
      await this.#sleep(ACTION_PAUSE_MS);
    } while (!this.#stopped && Date.now() < deadline);
    return acted;
  }

  /** One replica move, followed until it is done or `deadline` (Date.now() time) passes; false when no move was
   * possible (no node answered, or no shard has a member free to take it). */
  async #moveReplica(deadline: number): Promise<boolean> {
    const view = (await this.#admin.get<AdminShardsView>("/v1/admin/shards")).body;
    const movable = (view?.shards ?? []).filter(
      (shard) => shard.leaving.length === 0 && view!.members.some((id) => !shard.replicas.includes(id)),
    );
    if (view === undefined || movable.length === 0) return false;
    const shard = movable[this.#random.int(movable.length)]!;
    const from =
      shard.leader !== 0 && this.#random.chance(0.5)
        ? shard.leader
        : shard.replicas[this.#random.int(shard.replicas.length)]!;
    const takers = view.members.filter((id) => !shard.replicas.includes(id));
    const to = takers[this.#random.int(takers.length)]!;
    const invokeNs = this.#recorder.nowNs();
    // Sent again after no answer: a move recorded already is refused the second time (the replica moved).
    const answer = await this.#admin.post<{ message?: string }>(
      `/v1/admin/shards/${shard.id}/move`,
      { from, to },
      true,
    );
    const error =
      answer.status === 202
        ? undefined
        : answer.status === 0
          ? `no answer: ${answer.error ?? "?"}`
          : `${answer.status} ${answer.error ?? ""}`;
    const via = answer.via;
    this.#recorder.nemesis("move", { shard: shard.id, from, to, via, leader: shard.leader }, invokeNs, error);
    const following = Math.max(0, deadline - Date.now());
    this.#log(
      `move shard ${shard.id}'s replica from node ${from}${from === shard.leader ? " (leader)" : ""} to node ${to} via node ${via}` +
        (error === undefined ? ` (following it for up to ${following} ms)` : `: NOT DONE, ${error}`),
    );
    if (error !== undefined) return true;
    this.replicaMoves++;
    while (!this.#stopped && Date.now() < deadline) {
      await this.#sleep(500);
      const now = (await this.#admin.get<AdminShardsView>("/v1/admin/shards")).body?.shards.find(
        (each) => each.id === shard.id,
      );
      if (now !== undefined && now.leaving.length === 0) {
        this.#log(`shard ${shard.id}'s move done: held by ${now.replicas.join(",")}`);
        return true;
      }
    }
    this.#log(`shard ${shard.id}'s move still runs`);
    return true;
  }

  /** Adds a node (when fewer than JOINED_MAX joined) or removes a joined one, followed until done or `deadline`;
   * false when neither was possible. */
  async #nodeAction(deadline: number): Promise<boolean> {
    // A removal followed past its fault's end: gone once its process stopped by itself.
    for (const id of this.#removing) {
      if (this.#cluster.state(id) !== "down") continue;
      this.removals++;
      this.#removing.delete(id);
      this.#cluster.joined.delete(id);
    }
    const removable = [...this.#cluster.joined].filter((id) => !this.#removing.has(id));
    const adding = this.#cluster.joined.size < JOINED_MAX && (removable.length === 0 || this.#random.chance(0.5));
    if (adding) return this.#addNode();
    if (removable.length === 0) return false;
    return this.#removeNode(removable[this.#random.int(removable.length)]!, deadline);
  }

  async #addNode(): Promise<boolean> {
    const running = this.#cluster.ids.filter((id) => this.#cluster.state(id) === "running");
    if (running.length === 0) return false;
    const via = running[this.#random.int(running.length)]!;
    const invokeNs = this.#recorder.nowNs();
    try {
      const id = await this.#cluster.joinNode(via);
      this.joins++;
      this.#recorder.nemesis("join", { node: id, via }, invokeNs);
      this.#log(`node ${id} joined through node ${via}`);
    } catch (error) {
      const message = (error as Error).message;
      this.#recorder.nemesis("join", { via }, invokeNs, message);
      this.#log(`a node joining through node ${via}: NOT DONE, ${message}`);
    }
    return true;
  }

  async #removeNode(id: number, deadline: number): Promise<boolean> {
    const invokeNs = this.#recorder.nowNs();
    // Sent again after no answer: a removal recorded already is answered as such.
    const answer = await this.#admin.request<{ message?: string }>("DELETE", `/v1/admin/nodes/${id}`, undefined, true);
    const recorded = answer.status === 202 || answer.uncertain;
    const error = answer.status === 202 ? undefined : `${answer.status} ${answer.error ?? ""}`;
    this.#recorder.nemesis("remove", { node: id, via: answer.via }, invokeNs, error);
    this.#log(`remove node ${id} via node ${answer.via}${error === undefined ? "" : `: ${error}`}`);
    if (!recorded) return true;
    this.#removing.add(id);
    // It stops by itself once removed.
    this.#cluster.expectExit(id);
    while (!this.#stopped && Date.now() < deadline) {
      await this.#sleep(500);
      const nodes = (await this.#admin.get<AdminNodesView>("/v1/admin/nodes")).body;
      if (nodes?.removed.includes(id)) {
        this.removals++;
        this.#cluster.joined.delete(id);
        this.#removing.delete(id);
        this.#log(`node ${id} is removed (members: ${nodes.nodes.map((each) => each.id).join(",")})`);
        await this.#cluster.stopNode(id);
        return true;
      }
    }
    this.#log(`node ${id}'s removal still runs`);
    return true;
  }

  /** What the membership fault did, for the run's report; undefined when it never ran. */
  membershipSummary(): string | undefined {
    if (!this.#options.kinds.includes("membership")) return undefined;
    const replicas = `${this.replicaMoves} replica moves, ${this.joins} joins, ${this.removals} removals`;
    return this.slots === undefined ? replicas : `${this.slots.summary()}; ${replicas}`;
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
