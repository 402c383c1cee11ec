/**
 * @module Scenario: a scripted cluster for readable, transcript-style tests (etcd's `testdata/` scenarios in
 * spirit): `isolate 1`, `stabilize`, `write 20`, each step noted in a transcript that a failing test prints.
 * Every safety checker watches the scenario, so a scripted test also fails on any broken invariant.
 */
import { assert } from "../src/lib/assert.js";
import type { RaftStatus } from "../src/raft/raw-node.js";
import type { Message, NodeId } from "../src/raft/types.js";
import { type CheckerSet, createCheckers } from "./checkers/checker-set.js";
import { type CheckerName, SAFETY_CHECKERS } from "./checkers/violation.js";
import { SimCluster } from "./cluster.js";
import { type NetworkFaults, QUIET_NETWORK } from "./network.js";
import type { HostObserver } from "./observer.js";
import type { RaftOverrides, SimHost } from "./sim-host.js";
import { encodeWrite, REGISTER_COUNT } from "./state-machine.js";

export interface ScenarioOptions {
  readonly nodes: number;
  readonly seed?: number;
  readonly raft?: RaftOverrides;
  readonly network?: NetworkFaults;
  readonly snapshotEveryEntries?: number;
  readonly snapshotRetainEntries?: number;
  /** The checkers watching (default: every safety checker). A scenario that wipes a disk breaks what Raft
   * assumes, so it keeps only those that must still hold. */
  readonly checkers?: readonly CheckerName[];
  /** See HostSettings.haltOnDataLoss. */
  readonly haltOnDataLoss?: boolean;
}

/** Counts what the scenario's expectations talk about. */
class ScenarioCounters implements HostObserver {
  readonly snapshotChunksTo = new Map<NodeId, number>();
  readonly snapshotsInstalledBy = new Map<NodeId, number>();
  readonly elected: { node: NodeId; term: number }[] = [];

  messageSent(message: Message): void {
    if (message.type !== "installSnapshot") return;
    this.snapshotChunksTo.set(message.to, (this.snapshotChunksTo.get(message.to) ?? 0) + 1);
  }

  stateRestored(host: SimHost, _machine: unknown, cause: "install" | "restart"): void {
    if (cause === "install") this.snapshotsInstalledBy.set(host.id, (this.snapshotsInstalledBy.get(host.id) ?? 0) + 1);
  }

  leaderElected(host: SimHost, term: number): void {
    this.elected.push({ node: host.id, term });
  }
}

export class Scenario {
  readonly cluster: SimCluster;
  readonly checkers: CheckerSet;
  readonly counters = new ScenarioCounters();
  readonly transcript: string[] = [];
  #nextValueId = 1;

  constructor(options: ScenarioOptions) {
    const observers: HostObserver[] = [];
    this.cluster = new SimCluster({
      seed: options.seed ?? 1,
      nodeCount: options.nodes,
      raft: { electionTimeoutTicks: 10, heartbeatIntervalTicks: 1, ...options.raft },
      network: options.network ?? QUIET_NETWORK,
      snapshotEveryEntries: options.snapshotEveryEntries ?? 0,
      snapshotRetainEntries: options.snapshotRetainEntries ?? 0,
      haltOnDataLoss: options.haltOnDataLoss ?? false,
      observers,
    });
    this.checkers = createCheckers(options.checkers ?? SAFETY_CHECKERS, () => this.cluster.hosts);
    observers.push(...this.checkers.observers, this.counters);
    this.cluster.start();
    this.note(`start ${options.nodes} nodes`);
  }

  note(line: string): void {
    this.transcript.push(`${String(this.cluster.tickCount).padStart(5)}  ${line}`);
  }

  run(ticks: number): void {
    this.cluster.run(ticks);
    this.note(`run ${ticks} ticks`);
  }

  /** Runs until one leader is followed by every live, connected node and everyone applied its commit index. */
  stabilize(ticksMax = 1000): SimHost {
    const settled = this.cluster.runUntil(() => this.#settled(), ticksMax);
    assert(settled, `Cluster did not stabilize within ${ticksMax} ticks`);
    const leader = this.leader();
    this.note(
      `stabilize -> leader ${leader.id}, term ${this.status(leader.id).term}, commit ${this.status(leader.id).commitIndex}`,
    );
    return leader;
  }

  #settled(): boolean {
    const leader = this.cluster.leader();
    const status = leader?.status();
    if (leader === undefined || status === undefined || status.commitIndex < status.lastIndex) return false;
    const members = [...status.confState.voters, ...status.confState.learners];
    return this.cluster.liveHosts().every((host) => {
      if (!members.includes(host.id)) return true;
      if (!this.cluster.network.linkUp(leader.id, host.id) || !this.cluster.network.linkUp(host.id, leader.id))
        return true;
      const s = host.status() as RaftStatus;
      return s.leaderId === leader.id && host.machine.appliedIndex === status.commitIndex;
    });
  }

  leader(): SimHost {
    const leader = this.cluster.leader();
    assert(leader !== undefined, "No leader");
    return leader;
  }

  status(id: NodeId): RaftStatus {
    const status = this.cluster.host(id).status();
    assert(status !== undefined, `Node ${id} is down`);
    return status;
  }

  isolate(id: NodeId): void {
    this.cluster.isolate(id);
    this.note(`isolate ${id}`);
  }

  heal(): void {
    this.cluster.healAll();
    this.note("heal");
  }

  crash(id: NodeId): void {
    this.cluster.crash(id);
    this.note(`crash ${id}`);
  }

  restart(id: NodeId): void {
    this.cluster.restart(id);
    this.note(`restart ${id} (applied ${this.cluster.host(id).machine.appliedIndex} from its disk)`);
  }

  /** The node loses its disk and restarts empty under the same id. */
  wipeAndRestart(id: NodeId): void {
    this.cluster.wipe(id);
    this.cluster.restart(id);
    this.note(`wipe ${id} and restart it empty`);
  }

  /** Proposes `count` writes at the current leader; returns the index of the last. */
  write(count: number): number {
    const leader = this.leader();
    let last = 0;
    for (let i = 0; i < count; i++) {
      const valueId = this.#nextValueId++;
      const result = leader.propose(encodeWrite({ valueId, key: valueId % REGISTER_COUNT }));
      assert(result.accepted, `Leader ${leader.id} refused a write: ${result.accepted ? "" : result.reason}`);
      last = result.index;
    }
    this.note(`write ${count} at leader ${leader.id} (up to index ${last})`);
    return last;
  }
}
