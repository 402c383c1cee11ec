/**
 * @module One run of the node simulation (the default tier of `npm run sim`): 3 or 5 members, each the production
 * `RaftHost` over the real WAL on a simulated disk (sim-member.ts), clients issuing real commands (node-clients.ts)
 * and a nemesis that crashes members (power loss: unsynced writes lost, torn or garbled), restarts them,
 * partitions and degrades the network. A SAFETY phase with faults and every checker watching every step, then a
 * LIVENESS phase with the faults healed in which the cluster must converge: one leader followed by all, every
 * member applied to the commit index with the same keyspace, every client operation answered, a final read of
 * every key. Last, the whole client history goes to the linearizability checker. Everything is drawn from the
 * one seed and runs in virtual time (../sim-clock.ts), so a failing seed replays exactly.
 *
 * In half the seeds every member hosts 2 or 3 Raft groups (shards), as a real node does (src/node/shoal-node.ts):
 * each group has its own WAL, snapshots and store on the member's one disk, its own checkers (each group is its
 * own log, with its own terms and indexes), and the clients' keys are spread over the groups; the members share one
 * network attachment and one node-level liveness, and a crash takes every group of the member down at once.
 * In half of those (or all, with `slotMoves`), the keys' hash slots move between the groups under the faults, by
 * the node's own slot mover (node-slots.ts), and the clients follow the moves.
 */
import { ShoalError } from "../../src/lib/errors.js";
import type { Prng } from "../../src/lib/prng.js";
import type { GroupId, NodeId } from "../../src/raft/types.js";
import { type ElectedHost, ElectionSafetyChecker } from "../checkers/election-safety.js";
import { LogMatchingChecker } from "../checkers/log-matching.js";
import { checkRegisterHistory } from "../checkers/register-checker.js";
import { type FailureKind, SimViolation } from "../checkers/violation.js";
import { HOSTILE_SHORT_KEY, SimHostileClient } from "../hostile-client.js";
import { QUIET_NETWORK } from "../network.js";
import { derivePrng, HASH_SEED, hashString, hashUint32 } from "../random.js";
import type { SeedResult } from "../run-seed.js";
import { SimClock } from "../sim-clock.js";
import { QUIET_DISK, SimDisk } from "../sim-disk.js";
import { NodeChecks } from "./node-checks.js";
import { COUNTER_KEYS, REGISTER_KEYS, SimClients } from "./node-clients.js";
import { NodeMembership } from "./node-membership.js";
import { findNodeMutation, shownSlotStates } from "./node-mutations.js";
import { NodeNetwork } from "./node-network.js";
import { chooseNodeProfile, type NodeProfile, TICK_MS } from "./node-profile.js";
import { KeyRouting, NodeSlotMoves, SimSlotMap, slotOfKey } from "./node-slots.js";
import { SimMember } from "./sim-member.js";

export interface NodeRunOptions {
  readonly nodes: number | undefined;
  /** Length of the safety phase, in ticks of TICK_MS virtual milliseconds. */
  readonly ticks: number;
  /** Bound on the liveness phase, in ticks. */
  readonly livenessTicks: number;
  readonly mutation: string | undefined;
  /** Raft groups per member; drawn per seed (1, 2 or 3) when undefined. */
  readonly groups?: number | undefined;
  /** Slot moves between the groups (with 2 or 3 of them): drawn per seed (half) when undefined. */
  readonly slotMoves?: boolean | undefined;
}

interface Failure {
  readonly kind: FailureKind;
  readonly atMs: number;
  readonly message: string;
}

/** Thrown out of the event loop once a failure is recorded: the run stops at the first broken invariant. */
class RunStopped extends Error {}

export async function runNodeSeed(
  seed: number,
  options: NodeRunOptions,
  print: (line: string) => void = () => {},
): Promise<SeedResult> {
  const run = new NodeRun(seed, options, print);
  return run.execute();
}

class NodeRun {
  readonly #seed: number;
  readonly #options: NodeRunOptions;
  readonly #print: (line: string) => void;
  readonly #clock = new SimClock();
  readonly #nodeCount: number;
  readonly #profile: NodeProfile;
  readonly #members: SimMember[];
  readonly #network: NodeNetwork;
  readonly #clients: SimClients;
  readonly #nemesisRandom: Prng;
  readonly #hostile: SimHostileClient;
  readonly #groups: readonly GroupId[];
  /** Election Safety per group: terms count in each group separately. */
  readonly #electionSafety = new Map<GroupId, ElectionSafetyChecker>();
  #failure: Failure | undefined;
  #crashes = 0;
  #elections = 0;
  #nemesisOn = true;
  /** Membership changes through the node's replica mover (node-membership.ts), in half the seeds that run PreVote
   * and CheckQuorum (without them a removed member that never learnt of its removal disrupts: thesis 4.2.3). */
  readonly #membership: NodeMembership | undefined;
  /** The slot table the clients route by (the cluster map's part: node-slots.ts). */
  readonly #slotMap: SimSlotMap;
  /** Slot moves between the groups, in the seeds that run them. */
  readonly #slotMoves: NodeSlotMoves | undefined;

  constructor(seed: number, options: NodeRunOptions, print: (line: string) => void) {
    this.#seed = seed;
    this.#options = options;
    this.#print = print;
    this.#nodeCount = options.nodes ?? (seed % 2 === 1 ? 5 : 3);
    this.#profile = chooseNodeProfile(derivePrng(seed, "profile"), this.#nodeCount);
    const ids: NodeId[] = Array.from({ length: this.#nodeCount }, (_, i) => i + 1);
    const mutation = options.mutation === undefined ? undefined : findNodeMutation(options.mutation);
    if (options.mutation !== undefined && mutation === undefined)
      throw new RangeError(`Unknown node mutation ${options.mutation}`);
    // Groups per member: drawn from its own stream, so everything else draws as before.
    const groupRandom = derivePrng(seed, "groups");
    const drawnGroups = options.groups ?? (groupRandom.chance(0.5) ? 1 : groupRandom.between(2, 3));
    // A slot-move mutation needs groups to move slots between.
    const groupCount = mutation?.slots !== undefined ? Math.max(2, drawnGroups) : drawnGroups;
    this.#groups = Array.from({ length: groupCount }, (_, i) => i + 1);
    for (const group of this.#groups) this.#electionSafety.set(group, new ElectionSafetyChecker());
    this.#network = new NodeNetwork(this.#clock, derivePrng(seed, "network"), this.#profile.network, (message) =>
      this.#guard(() => this.#electionSafety.get(message.groupId)?.messageSent(message)),
    );
    const world = {
      clock: this.#clock,
      network: this.#network,
      groups: new Map(
        this.#groups.map((group) => [
          group,
          {
            checks: new NodeChecks(ids),
            logMatching: new LogMatchingChecker(),
            leaderElected: (host: ElectedHost, term: number) => {
              this.#elections++;
              this.#trace(`node ${host.id} leads group ${group} term ${term}`);
              this.#guard(() => this.#electionSafety.get(group)?.leaderElected(host, term));
            },
          },
        ]),
      ),
      fatal: (id: NodeId, error: unknown) => this.#fail(error, `node ${id}: `),
      trace: (line: string) => this.#trace(line),
    };
    // Half the seeds run quiescence (idle groups quiet, woken by node-level liveness), drawn from its own stream so
    // the profile and everything else draw as before.
    const quiesce = derivePrng(seed, "quiesce").chance(0.5);
    this.#members = ids.map(
      (id) =>
        new SimMember(
          id,
          new SimDisk(this.#clock, derivePrng(seed, `disk-${id}`), this.#profile.disk),
          {
            ...this.#profile.member,
            raft: { ...this.#profile.member.raft, quiesce },
            voters: ids,
            groups: this.#groups,
            mutation,
          },
          world,
          derivePrng(seed, `node-${id}`),
        ),
    );
    // The keys' slots start on the groups they were always dealt to; in half the seeds with several groups (its own
    // stream: the rest draws as before), they move between the groups, and a slot-move mutation moves them always.
    const keySlots = [...REGISTER_KEYS, ...COUNTER_KEYS].map((key) => slotOfKey(key));
    this.#slotMap = new SimSlotMap(
      new Map([...REGISTER_KEYS, ...COUNTER_KEYS].map((key) => [slotOfKey(key), this.#groupOfKey(key)])),
    );
    // Drawn always, so a seed forced to move slots (--slot-moves, a slot mutation) runs as it does when drawn to.
    const slotRandom = derivePrng(seed, "slot-moves");
    const drawnMoves = slotRandom.chance(0.5);
    const movesSlots = this.#groups.length > 1 && (mutation?.slots !== undefined || (options.slotMoves ?? drawnMoves));
    this.#slotMoves = movesSlots
      ? new NodeSlotMoves(
          this.#members,
          this.#groups,
          this.#slotMap,
          keySlots,
          slotRandom,
          {
            moveChance: 0.1,
            pairChance: 0.3,
            forwardDelayMsMax: this.#profile.network.delayTicksMax * TICK_MS,
          },
          this.#clock,
          this.#network.links,
          (line) => this.#trace(line),
        )
      : undefined;
    const slotUnsafe = mutation?.slots;
    this.#clients = new SimClients(
      this.#members,
      this.#clock.scope(),
      derivePrng(seed, "clients"),
      2 * this.#profile.member.requestTimeoutMs,
      new KeyRouting(this.#slotMap, movesSlots ? derivePrng(seed, "slot-routing") : undefined),
      (states) => shownSlotStates(states, slotUnsafe),
    );
    this.#nemesisRandom = derivePrng(seed, "nemesis");
    const membershipRandom = derivePrng(seed, "membership");
    // A mover mutation runs membership changes in every seed that may (drawn all the same: the stream is the same).
    const changesMembership = membershipRandom.chance(0.5) || mutation?.move !== undefined;
    this.#membership =
      this.#profile.member.raft.preVote === true && changesMembership
        ? new NodeMembership(
            this.#members,
            this.#groups,
            membershipRandom,
            {
              changeChance: 0.05,
              removeLeaderChance: 0.2,
              slack: 4,
              check: true,
              ...(mutation?.move === undefined ? {} : { unsafe: mutation.move }),
            },
            (group) => world.groups.get(group)?.checks as NodeChecks,
            (line) => this.#trace(line),
          )
        : undefined;
    this.#hostile = new SimHostileClient(
      { pickProposer: (random) => this.#hostileProposer(random) },
      derivePrng(seed, "hostile"),
    );
  }

  /** The group a client key's slot starts on (the slot table's first epoch): the keys are dealt round-robin, so
   * every group has some. */
  #groupOfKey(key: string): GroupId {
    const index = [...REGISTER_KEYS, ...COUNTER_KEYS].indexOf(key);
    return this.#groups[Math.max(0, index) % this.#groups.length] as GroupId;
  }

  /** A running member's real `RaftHost` takes the hostile entry straight into its log, skipping the front ends'
   * checks (as a buggy or older proposer could); every replica must then refuse it in apply without throwing. */
  #hostileProposer(random: Prng): ((data: Uint8Array) => boolean) | undefined {
    const running = this.#members.filter((m) => m.host !== undefined);
    if (running.length === 0) return undefined;
    const host = (random.pick(running) as SimMember).host as NonNullable<SimMember["host"]>;
    return (data) => {
      host.propose(data).catch(() => {});
      return true;
    };
  }

  #scheduleHostile(): void {
    const scope = this.#clock.scope();
    const act = (): void => {
      if (this.#hostile.draining) return;
      this.#guard(() => this.#hostile.step());
      scope.setTimeout(act, TICK_MS);
    };
    scope.setTimeout(act, TICK_MS);
  }

  async execute(): Promise<SeedResult> {
    try {
      for (const member of this.#members) member.start();
      this.#clients.start(this.#profile.clients, this.#profile.thinkMsMax);
      this.#scheduleNemesis();
      this.#scheduleHostile();
      this.#scheduleDiskStalls();
      this.#scheduleMembership();
      this.#scheduleSlotMoves();
      await this.#advance(this.#options.ticks * TICK_MS);
      this.#trace("liveness phase: faults healed");
      await this.#liveness();
      this.#checkHistory();
    } catch (error) {
      if (!(error instanceof RunStopped)) this.#fail(error, "");
    }
    return this.#result();
  }

  /** Runs virtual time forward by `ms`, stopping at the first failure. */
  async #advance(ms: number): Promise<void> {
    await this.#clock.advanceTo(this.#clock.now() + ms, () => {
      if (this.#failure !== undefined) throw new RunStopped();
    });
  }

  #scheduleNemesis(): void {
    const scope = this.#clock.scope();
    const act = (): void => {
      if (!this.#nemesisOn) return;
      this.#guard(() => this.#nemesisStep());
      scope.setTimeout(act, this.#nemesisRandom.between(10, this.#profile.nemesisGapMsMax));
    };
    scope.setTimeout(act, this.#nemesisRandom.between(50, this.#profile.nemesisGapMsMax));
  }

  /**
   * In half the seeds, now and then every member's disk (or a random subset) stalls: each fsync issued in the window
   * takes up to three election timeouts, as when kernel writeback holds every node's fsync at once (issue 10). The
   * members keep stepping messages meanwhile, and what they send before their Ready is durable
   * (RawNode.takeEarlyMessages) must keep every checker quiet — a crash inside a stall included. Drawn from its own
   * stream, so the nemesis and the clients draw as before.
   */
  /** The movers look every 10 ticks, in the liveness phase too (where they restore full membership). */
  #scheduleMembership(): void {
    const membership = this.#membership;
    if (membership === undefined) return;
    const scope = this.#clock.scope();
    const act = (): void => {
      this.#guard(() => membership.step());
      scope.setTimeout(act, 10 * TICK_MS);
    };
    scope.setTimeout(act, 10 * TICK_MS);
  }

  /** The slot movers look every 5 ticks (and each again a virtual millisecond after its batch ends or fails), in the
   * liveness phase too (where the moves pending must finish). */
  #scheduleSlotMoves(): void {
    const moves = this.#slotMoves;
    if (moves === undefined) return;
    const scope = this.#clock.scope();
    const act = (): void => {
      this.#guard(() => moves.step());
      scope.setTimeout(act, 5 * TICK_MS);
    };
    scope.setTimeout(act, 5 * TICK_MS);
  }

  #scheduleDiskStalls(): void {
    const random = derivePrng(this.#seed, "disk-stalls");
    if (!random.chance(0.5)) return;
    const scope = this.#clock.scope();
    const electionTimeoutMs = (this.#profile.member.raft.electionTimeoutTicks ?? 10) * TICK_MS;
    const stall = (): void => {
      if (!this.#nemesisOn) return;
      const stalled = random.chance(0.5) ? this.#members : this.#members.filter(() => random.chance(0.5));
      const lengthMs = random.between(electionTimeoutMs, 3 * electionTimeoutMs);
      this.#trace(`disk stall ${lengthMs} ms on ${stalled.map((m) => m.id).join(",") || "none"}`);
      for (const member of stalled) {
        member.disk.setFaults({ ...this.#profile.disk, syncLatencyMsMin: lengthMs >> 1, syncLatencyMsMax: lengthMs });
      }
      scope.setTimeout(() => {
        if (!this.#nemesisOn) return; // the liveness phase set quiet disks already
        for (const member of stalled) member.disk.setFaults(this.#profile.disk);
        scope.setTimeout(stall, random.between(200, 1500));
      }, lengthMs);
    };
    scope.setTimeout(stall, random.between(200, 1500));
  }

  #nemesisStep(): void {
    const random = this.#nemesisRandom;
    const links = this.#network.links;
    const ids = this.#members.map((m) => m.id);
    const roll = random.int(100);
    const down = this.#members.filter((m) => m.down);
    const running = this.#members.filter((m) => !m.down);
    if (roll < 30 && running.length > 0 && down.length < this.#profile.downMax) {
      const leader = running.find((m) => m.role() === "leader");
      const victim = leader !== undefined && random.chance(0.5) ? leader : (random.pick(running) as SimMember);
      this.#crash(victim);
    } else if (roll < 55 && down.length > 0) {
      const member = random.pick(down);
      this.#trace(`restart node ${member.id}`);
      member.start();
    } else if (roll < 70) {
      const victim = random.pick(ids);
      this.#trace(`isolate node ${victim}`);
      links.isolate(victim, ids);
    } else if (roll < 80) {
      const shuffled = [...ids].sort(() => random.next() - 0.5);
      const cut = random.between(1, ids.length - 1);
      this.#trace(`partition ${shuffled.slice(0, cut).join(",")} | ${shuffled.slice(cut).join(",")}`);
      links.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
    } else if (roll < 95) {
      this.#trace("heal network");
      links.healAll();
    } else {
      const a = random.pick(ids);
      const b = random.pick(ids.filter((id) => id !== a));
      this.#trace(`cut ${a} -> ${b}`);
      links.cutOneWay(a, b);
    }
  }

  #crash(victim: SimMember): void {
    this.#trace(`crash node ${victim.id}`);
    this.#crashes++;
    victim.crash();
    if (!this.#nemesisRandom.chance(this.#profile.refusalChance)) return;
    // Its peers' connections to it are refused from now on (the transport's onPeerRefused → RaftHost.leaderGone).
    const scope = this.#clock.scope();
    scope.setTimeout(
      () => {
        for (const member of this.#members) {
          if (member.id !== victim.id) for (const host of member.hosts()) host.leaderGone(victim.id);
        }
      },
      this.#nemesisRandom.between(1, 20),
    );
  }

  async #liveness(): Promise<void> {
    this.#nemesisOn = false;
    this.#membership?.restoreAll();
    this.#slotMoves?.stopAsking();
    this.#hostile.draining = true;
    this.#clients.stop();
    this.#network.links.healAll();
    this.#network.links.setFaults({ ...QUIET_NETWORK, delayTicksMax: this.#profile.network.delayTicksMax });
    for (const member of this.#members) {
      member.disk.setFaults(QUIET_DISK);
      if (member.down) member.start();
    }
    const deadline = this.#clock.now() + this.#options.livenessTicks * TICK_MS;
    while (!this.#converged()) {
      if (this.#clock.now() >= deadline) {
        this.#fail(
          new SimViolation(
            "liveness",
            `no convergence within ${this.#options.livenessTicks} ticks after healing: ${this.#gap()}${this.#slotStatesText()}`,
          ),
          "",
        );
        throw new RunStopped();
      }
      await this.#advance(5 * TICK_MS);
    }
    const reads = [...REGISTER_KEYS, ...COUNTER_KEYS].map((key) => {
      const group = this.#slotMap.ownerOf(slotOfKey(key));
      const leader = this.#members.find((m) => m.roleOf(group) === "leader") as SimMember;
      return this.#clients.finalRead(leader, key);
    });
    let settled = false;
    const outcomes = Promise.all(reads).finally(() => {
      settled = true;
    });
    while (!settled && this.#clock.now() < deadline + 5000) await this.#advance(5 * TICK_MS);
    if (!settled || (await outcomes).some((outcome) => outcome !== "ok")) {
      const unread = this.#clients.history
        .filter((op) => op.client === "final" && op.outcome !== "ok")
        .map((op) => `${op.key}${op.error === undefined ? "" : ` (${op.error})`}`);
      this.#fail(
        new SimViolation(
          "liveness",
          `a final read on the healed cluster did not succeed: ${unread.join(", ") || "still waiting"}${this.#slotStatesText()}`,
        ),
        "",
      );
      throw new RunStopped();
    }
    this.#checkSameState();
  }

  /** Where slots move: each group leader's record of the keys' slots (store/slot-states.ts), for a failure. */
  #slotStatesText(): string {
    if (this.#slotMoves === undefined) return "";
    const parts = this.#groups.map((group) => {
      const leader = this.#members.find((m) => m.roleOf(group) === "leader");
      const states = leader?.storeOf(group)?.slotStates();
      if (states === undefined) return `group ${group}: no leader`;
      const text = [...states].map(([slot, state]) => `${slot} ${state.phase} (${state.shard})`).join(", ");
      return `group ${group}: ${text || "serves its slots"}`;
    });
    const owners = [...this.#slotMap.table.owners].map(([slot, group]) => `${slot}→${group}`).join(", ");
    return `; slot table ${owners}; ${parts.join("; ")}`;
  }

  /** One leader followed by all, everything applied everywhere, no client operation waiting. */
  #converged(): boolean {
    return this.#gap() === "";
  }

  #gap(): string {
    if (this.#clients.inFlight > 0) return `${this.#clients.inFlight} client operations in flight`;
    for (const group of this.#groups) {
      const gap = this.#groupGap(group);
      if (gap !== "") return this.#groups.length === 1 ? gap : `group ${group}: ${gap}`;
    }
    return this.#slotMoves?.gap() ?? "";
  }

  #groupGap(group: GroupId): string {
    const statuses = this.#members.map((m) => ({ member: m, status: m.hostOf(group)?.raw.status() }));
    const leaders = statuses.filter((s) => s.status?.role === "leader");
    if (leaders.length !== 1) {
      const views = statuses.map(({ member, status }) =>
        status === undefined
          ? `${member.id} down`
          : `${member.id} ${status.role} t${status.term} last ${status.lastIndex} commit ${status.commitIndex} ` +
            `voters ${status.confState.voters.join(",")}${status.confState.learners.length > 0 ? ` learners ${status.confState.learners.join(",")}` : ""}`,
      );
      return `${leaders.length} leaders (${views.join("; ")})`;
    }
    const leader = leaders[0]?.status;
    if (leader === undefined) return "no leader";
    const membershipGap = this.#membership?.gap(group, leader.confState.voters, leader.confState.learners) ?? "";
    if (membershipGap !== "") return membershipGap;
    for (const { member, status } of statuses) {
      if (status === undefined) return `node ${member.id} is not up`;
      if (status.leaderId !== leader.id || status.term !== leader.term) {
        return `node ${member.id} follows ${status.leaderId} in term ${status.term}, not ${leader.id} in ${leader.term}`;
      }
      const applied = member.storeOf(group)?.appliedIndex() ?? -1;
      if (applied !== leader.commitIndex)
        return `node ${member.id} applied ${applied} of commit index ${leader.commitIndex}`;
    }
    return "";
  }

  /** In every group, every member holds the same keyspace at the same applied index (the replicated state
   * machine). */
  #checkSameState(): void {
    for (const group of this.#groups) this.#checkSameGroupState(group);
  }

  #checkSameGroupState(group: GroupId): void {
    let reference: { id: NodeId; digest: number } | undefined;
    for (const member of this.#members) {
      const store = member.storeOf(group);
      if (store === undefined) continue;
      if (store.get(new TextEncoder().encode(HOSTILE_SHORT_KEY), store.clockMs()) !== undefined) {
        this.#fail(
          new SimViolation(
            "stateMachineSafety",
            `node ${member.id} holds key "${HOSTILE_SHORT_KEY}": a refused hostile entry wrote part of itself`,
          ),
          "",
        );
        throw new RunStopped();
      }
      let digest = hashUint32(HASH_SEED, store.appliedIndex());
      digest = hashUint32(digest, store.revision());
      for (const kv of store.range(new Uint8Array(0), undefined, 100_000, store.clockMs())) {
        digest = hashString(digest, `${new TextDecoder().decode(kv.key)}=${new TextDecoder().decode(kv.value)}`);
        digest = hashUint32(hashUint32(hashUint32(digest, kv.createRevision), kv.modRevision), kv.version);
      }
      if (reference === undefined) reference = { id: member.id, digest };
      else if (reference.digest !== digest) {
        this.#fail(
          new SimViolation(
            "stateMachineSafety",
            `node ${member.id}'s keyspace of group ${group} differs from node ${reference.id}'s at the same applied index`,
          ),
          "",
        );
        throw new RunStopped();
      }
    }
  }

  #checkHistory(): void {
    const check = checkRegisterHistory(this.#clients.history, { configurationsMax: 2_000_000 });
    if (check.linearizable !== false) return;
    const failure = check.failures[0];
    const window =
      failure?.window
        .map(
          (op) =>
            `#${op.index} c${String(op.client)}@${op.node} ${op.op}(${String(op.expected ?? "")}→${String(op.value)}) ${op.outcome}${op.error === undefined ? "" : `:${op.error}`}`,
        )
        .join("; ") ?? "";
    this.#fail(
      new SimViolation("linearizability", `key ${failure?.key ?? "?"} is not linearizable; window: ${window}`),
      "",
    );
  }

  #guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.#fail(error, "");
    }
  }

  #fail(error: unknown, prefix: string): void {
    if (this.#failure !== undefined) return;
    const kind: FailureKind = error instanceof SimViolation ? error.checker : "exception";
    const text =
      error instanceof Error
        ? error instanceof SimViolation || error instanceof ShoalError
          ? error.message
          : (error.stack ?? error.message)
        : String(error);
    this.#failure = { kind, atMs: this.#clock.now(), message: prefix + text };
    this.#trace(`FAILURE ${kind}: ${prefix}${text}`);
  }

  #trace(line: string): void {
    this.#print(`[${String(this.#clock.now()).padStart(6)} ms] ${line}`);
  }

  #result(): SeedResult {
    const history = this.#clients.history;
    let digest = hashUint32(HASH_SEED, this.#clock.eventsRun);
    for (const op of history)
      digest = hashString(digest, `${op.op}:${op.key}:${String(op.value)}:${op.outcome}:${op.completeNs}`);
    const counts = { ok: 0, fail: 0, info: 0 };
    for (const op of history) counts[op.outcome]++;
    const failure = this.#failure;
    return {
      seed: this.#seed,
      nodeCount: this.#nodeCount,
      failure:
        failure === undefined
          ? undefined
          : { kind: failure.kind, tick: Math.floor(failure.atMs / TICK_MS), message: failure.message },
      ticks: Math.floor(this.#clock.now() / TICK_MS),
      digest: (digest >>> 0).toString(16).padStart(8, "0"),
      summary:
        `${this.#nodeCount} nodes${this.#groups.length === 1 ? "" : ` × ${this.#groups.length} groups`}, ${history.length} client ops (${counts.ok} ok, ${counts.fail} fail, ${counts.info} unknown), ` +
        `${this.#elections} elections, ${this.#crashes} crashes, ${this.#membership === undefined ? "fixed membership" : `${this.#membership.changes} membership changes`}, ${this.#slotMoves === undefined ? "" : `${this.#slotMap.moved} of ${this.#slotMoves.asked} slots moved, `}hostile entries ${this.#hostile.stats.proposed}, ${this.#clock.eventsRun} events, ${this.#network.links.stats.sent} messages`,
    };
  }
}
