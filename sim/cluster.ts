/**
 * @module SimCluster: N simulated hosts, the network between them and the global tick loop. One tick delivers
 * the messages due at that tick (each followed by the host's Ready handling), then ticks every live node. Faults
 * and clients act between ticks through the methods here; the run (run-seed.ts) and the scenario tests decide
 * when. Nothing here draws randomness except through the generators it is given, so a seed replays exactly.
 */
import { assert } from "../src/lib/assert.js";
import type { RaftStatus } from "../src/raft/raw-node.js";
import type { Message, NodeId, Ready } from "../src/raft/types.js";
import type { NetworkFaults } from "./network.js";
import { SimNetwork } from "./network.js";
import { fanOut, type HostObserver } from "./observer.js";
import { derivePrng } from "./random.js";
import { type CrashPoint, type HostSettings, type RaftOverrides, SimHost } from "./sim-host.js";

export interface ClusterOptions {
  readonly seed: number;
  readonly nodeCount: number;
  readonly raft: RaftOverrides;
  readonly network: NetworkFaults;
  readonly snapshotEveryEntries: number;
  readonly snapshotRetainEntries: number;
  readonly persistAfterSend?: HostSettings["persistAfterSend"];
  readonly localReads?: boolean;
  /** See HostSettings.haltOnDataLoss. */
  readonly haltOnDataLoss?: boolean;
  readonly observers: readonly HostObserver[];
  /** Decides crash points inside Ready handling (the nemesis); none by default. */
  readonly crashPoint?: (host: SimHost, ready: Ready) => CrashPoint;
}

/** Bound on delivery rounds within one tick when messages take zero ticks (the instant network). */
const SAME_TICK_ROUNDS_MAX = 1_000;

export class SimCluster {
  readonly hosts: readonly SimHost[];
  readonly network: SimNetwork;
  readonly nodeIds: readonly NodeId[];
  readonly options: ClusterOptions;
  tickCount = 0;

  constructor(options: ClusterOptions) {
    assert(options.nodeCount >= 1, "A cluster needs at least one node");
    this.options = options;
    this.nodeIds = Array.from({ length: options.nodeCount }, (_, i) => i + 1);
    this.network = new SimNetwork(derivePrng(options.seed, "network"), options.network);
    const observer = fanOut(options.observers);
    const crashPoint = options.crashPoint ?? ((): CrashPoint => "none");
    const env = {
      observer,
      send: (message: Message): void => this.network.send(message, this.tickCount),
      crashPoint,
      nodeRandom: (id: NodeId, incarnation: number) => derivePrng(options.seed, `node-${id}-${incarnation}`),
    };
    this.hosts = this.nodeIds.map((id) => new SimHost(this.#hostSettings(id), env));
  }

  #hostSettings(id: NodeId): HostSettings {
    const o = this.options;
    return {
      id,
      groupId: 1,
      initialVoters: this.nodeIds,
      raft: o.raft,
      snapshotEveryEntries: o.snapshotEveryEntries,
      snapshotRetainEntries: o.snapshotRetainEntries,
      persistAfterSend: o.persistAfterSend ?? "nothing",
      localReads: o.localReads ?? false,
      haltOnDataLoss: o.haltOnDataLoss ?? false,
    };
  }

  start(): void {
    for (const host of this.hosts) host.start();
  }

  host(id: NodeId): SimHost {
    const host = this.hosts[id - 1];
    assert(host !== undefined, `No node ${id}`);
    return host;
  }

  liveHosts(): SimHost[] {
    return this.hosts.filter((host) => host.alive);
  }

  /** One global tick: deliver what is due (repeatedly, for zero-delay messages), then tick every live node. */
  tick(): void {
    this.tickCount++;
    this.deliverDue();
    for (const host of this.hosts) if (host.alive) host.tick();
    this.deliverDue();
  }

  /** Delivers the messages due now; messages to a node that is down are lost. */
  deliverDue(): void {
    for (let round = 0; this.network.hasDue(this.tickCount); round++) {
      assert(round < SAME_TICK_ROUNDS_MAX, "Messages kept arriving within one tick");
      for (const message of this.network.takeDue(this.tickCount)) {
        const host = this.hosts[message.to - 1];
        if (host?.alive === true) host.step(message);
      }
    }
  }

  run(ticks: number): void {
    for (let i = 0; i < ticks; i++) this.tick();
  }

  /** Runs until `done` holds (checked after every tick) or `ticksMax` ticks pass; returns whether it held. */
  runUntil(done: () => boolean, ticksMax: number): boolean {
    for (let i = 0; i < ticksMax; i++) {
      if (done()) return true;
      this.tick();
    }
    return done();
  }

  /** The live node that believes it leads in the highest term, if any. */
  leader(): SimHost | undefined {
    let best: { host: SimHost; status: RaftStatus } | undefined;
    for (const host of this.hosts) {
      const status = host.status();
      if (status?.role !== "leader") continue;
      if (best === undefined || status.term > best.status.term) best = { host, status };
    }
    return best?.host;
  }

  crash(id: NodeId): void {
    this.host(id).crash();
  }

  restart(id: NodeId): void {
    this.host(id).start();
  }

  wipe(id: NodeId): void {
    this.host(id).wipe();
  }

  isolate(id: NodeId): void {
    this.network.isolate(id, this.nodeIds);
  }

  healAll(): void {
    this.network.healAll();
  }
}
