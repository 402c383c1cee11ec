/**
 * @module SimNemesis: the faults of the safety phase (after TigerBeetle's VOPR packet simulator and Jepsen's
 * nemeses). In epochs of random length it picks a partition mode — none, one node isolated, a symmetric split,
 * a "bridge" (two sides that only one node hears both of), or random one-way cuts — and it crashes nodes and
 * restarts them later. Crashes also strike inside a host's Ready handling: before the write to the disk (the
 * Ready is lost) or right after sending (the messages are out; with a correct host they were persisted first),
 * with a higher chance right after granting a vote, where a host that sends before it persists forgets its vote.
 * `heal()` ends it all for the liveness phase.
 */
import type { Prng } from "../src/lib/prng.js";
import type { NodeId, Ready } from "../src/raft/types.js";
import type { SimCluster } from "./cluster.js";
import type { NetworkFaults } from "./network.js";
import type { HostObserver } from "./observer.js";
import type { CrashPoint, SimHost } from "./sim-host.js";

export type PartitionMode = "none" | "isolate" | "split" | "bridge" | "asymmetric";

export interface NemesisSettings {
  readonly network: NetworkFaults;
  /** The modes this run draws from (a per-seed subset: swarm testing). */
  readonly partitionModes: readonly PartitionMode[];
  readonly epochTicksMin: number;
  readonly epochTicksMax: number;
  /** Chance per tick of crashing a live node. */
  readonly crashChance: number;
  /** Chance that a crash or an isolation targets the current leader (Jepsen's "kill/partition the leader"):
   * leader churn leaves divergent uncommitted tails behind, the raw material of the paper's Figure 8. */
  readonly leaderFocus: number;
  readonly downTicksMin: number;
  readonly downTicksMax: number;
  /** Nodes down at the same time, at most. */
  readonly downMax: number;
  /** Chance of crashing right after sending a vote grant. */
  readonly crashAfterVoteChance: number;
  /** Chance of crashing inside any other Ready. */
  readonly crashInReadyChance: number;
}

export class SimNemesis implements HostObserver {
  readonly #cluster: SimCluster;
  readonly #random: Prng;
  readonly #settings: NemesisSettings;
  readonly #trace: (line: string) => void;
  readonly #downUntil = new Map<NodeId, number>();
  #epochEndTick = 0;
  #tick = 0;
  #healed = false;
  crashes = 0;

  constructor(cluster: SimCluster, random: Prng, settings: NemesisSettings, trace: (line: string) => void) {
    this.#cluster = cluster;
    this.#random = random;
    this.#settings = settings;
    this.#trace = trace;
  }

  step(tick: number): void {
    this.#tick = tick;
    this.#restartDue();
    if (this.#healed) return;
    if (tick >= this.#epochEndTick) this.#newEpoch();
    if (this.#random.chance(this.#settings.crashChance) && this.#downUntil.size < this.#settings.downMax) {
      const live = this.#cluster.liveHosts();
      const leader = this.#random.chance(this.#settings.leaderFocus) ? this.#cluster.leader() : undefined;
      if (live.length > 0) {
        const host = leader ?? this.#random.pick(live);
        this.#trace(`nemesis: crash node ${host.id}${leader === undefined ? "" : " (the leader)"}`);
        host.crash();
      }
    }
  }

  #restartDue(): void {
    for (const [id, until] of [...this.#downUntil]) {
      if (this.#tick < until) continue;
      this.#downUntil.delete(id);
      const host = this.#cluster.host(id);
      if (host.alive || host.halted !== undefined) continue;
      this.#trace(`nemesis: restart node ${id}`);
      host.start();
    }
  }

  #newEpoch(): void {
    const s = this.#settings;
    this.#epochEndTick = this.#tick + this.#random.between(s.epochTicksMin, s.epochTicksMax);
    const network = this.#cluster.network;
    network.healAll();
    const ids = this.#cluster.nodeIds;
    const mode = this.#random.pick(s.partitionModes);
    const leader = this.#random.chance(s.leaderFocus) ? this.#cluster.leader()?.id : undefined;
    if (mode === "isolate") network.isolate(leader ?? this.#random.pick(ids), ids);
    if (mode === "split" || mode === "bridge") {
      // With a leader in focus it goes first, so it lands on the smaller side of the cut.
      const shuffled =
        leader === undefined
          ? shuffle(this.#random, ids)
          : [
              leader,
              ...shuffle(
                this.#random,
                ids.filter((id) => id !== leader),
              ),
            ];
      const cut =
        leader === undefined
          ? this.#random.between(1, ids.length - 1)
          : this.#random.between(1, Math.floor(ids.length / 2));
      const [left, right] = [shuffled.slice(0, cut), shuffled.slice(cut)];
      // A bridge node is left out of both groups, so it still hears both sides (a non-transitive partition).
      if (mode === "bridge" && right.length > 1) right.pop();
      network.partition([left, right]);
    }
    if (mode === "asymmetric") {
      const cuts = this.#random.between(1, ids.length);
      for (let i = 0; i < cuts; i++) {
        const from = this.#random.pick(ids);
        const to = this.#random.pick(ids.filter((id) => id !== from));
        network.cutOneWay(from, to);
      }
    }
    this.#trace(`nemesis: ${mode} until tick ${this.#epochEndTick} [${network.describeCuts()}]`);
  }

  crashPoint(host: SimHost, ready: Ready): CrashPoint {
    if (this.#healed || this.#downUntil.size >= this.#settings.downMax) return "none";
    const grantsVote = ready.messages.some((m) => m.type === "requestVoteResponse" && m.granted && !m.preVote);
    if (grantsVote && this.#random.chance(this.#settings.crashAfterVoteChance)) {
      this.#trace(`nemesis: crash node ${host.id} right after granting a vote`);
      return "afterSend";
    }
    if (!this.#random.chance(this.#settings.crashInReadyChance)) return "none";
    const point: CrashPoint = this.#random.chance(0.5) ? "beforePersist" : "afterSend";
    this.#trace(`nemesis: crash node ${host.id} in a Ready (${point})`);
    return point;
  }

  crashed(host: SimHost): void {
    this.crashes++;
    const s = this.#settings;
    this.#downUntil.set(host.id, this.#tick + this.#random.between(s.downTicksMin, s.downTicksMax));
  }

  /** The liveness phase: every link up, no loss or duplication, every node running, no more crashes. */
  heal(): void {
    this.#healed = true;
    const network = this.#cluster.network;
    network.healAll();
    const delayTicksMax = Math.min(network.faults.delayTicksMax, 3);
    network.setFaults({ dropChance: 0, duplicateChance: 0, delayTicksMin: 1, delayTicksMax });
    for (const id of [...this.#downUntil.keys()]) this.#downUntil.set(id, this.#tick);
    this.#restartDue();
    this.#trace("nemesis: healed (liveness phase)");
  }
}

function shuffle<T>(random: Prng, items: readonly T[]): T[] {
  const result = [...items];
  for (let i = result.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [result[i], result[j]] = [result[j] as T, result[i] as T];
  }
  return result;
}
