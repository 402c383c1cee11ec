/**
 * @module Membership changes in the node simulation (issue 13): every running member runs the node's own replica
 * mover (src/node/replica-mover.ts) over its groups' real RaftHosts, toward the voters the run wants for each
 * group — the cluster map's part. Now and then the run wants another membership: a voter removed (the leader
 * itself sometimes: the mover hands leadership away first), a removed node back, or a voter's seat moved to the
 * node that is out. At most one member is out of a group at a time, so the node checkers' fixed voter set still
 * counts majorities right (a majority of n − 1 voters is a majority of n, for n = 3 and 5).
 *
 * Each change the mover proposes is judged first by the move-safety checker (../checkers/move-safety.ts) against
 * the durable logs NodeChecks keeps, crashed members' included. A member's mover lives as long as its incarnation
 * (a crash takes the process, mover and all, as on a real node).
 */
import type { Prng } from "../../src/lib/prng.js";
import type { MoveRules } from "../../src/node/replica-move.js";
import { ReplicaMover } from "../../src/node/replica-mover.js";
import type { GroupId, NodeId } from "../../src/raft/types.js";
import { checkMoveStep } from "../checkers/move-safety.js";
import { nextWantedVoters } from "../wanted-membership.js";
import type { NodeChecks } from "./node-checks.js";
import type { SimMember } from "./sim-member.js";

export interface MembershipSettings {
  /** Chance, at each look at a group whose membership is as wanted, of wanting another. */
  readonly changeChance: number;
  /** Chance that a voter removed is the group's leader. */
  readonly removeLeaderChance: number;
  /** The mover's catch-up slack (small in the simulator, so a log a few entries behind counts as behind). */
  readonly slack: number;
  /** Judge each proposed change with the move-safety checker. */
  readonly check: boolean;
  /** The mover's safety checks switched off (a mutation: node-mutations.ts). */
  readonly unsafe?: MoveRules["unsafe"];
}

export class NodeMembership {
  readonly #members: readonly SimMember[];
  readonly #groups: readonly GroupId[];
  readonly #random: Prng;
  readonly #settings: MembershipSettings;
  readonly #checksOf: (group: GroupId) => NodeChecks;
  readonly #trace: (line: string) => void;
  readonly #desired = new Map<GroupId, NodeId[]>();
  readonly #movers = new Map<NodeId, { readonly incarnation: number; readonly mover: ReplicaMover }>();
  #restoring = false;
  changes = 0;

  constructor(
    members: readonly SimMember[],
    groups: readonly GroupId[],
    random: Prng,
    settings: MembershipSettings,
    checksOf: (group: GroupId) => NodeChecks,
    trace: (line: string) => void,
  ) {
    this.#members = members;
    this.#groups = groups;
    this.#random = random;
    this.#settings = settings;
    this.#checksOf = checksOf;
    this.#trace = trace;
    for (const group of groups)
      this.#desired.set(
        group,
        members.map((m) => m.id),
      );
  }

  /** The liveness phase: every member a voter of every group again, and no new change. */
  restoreAll(): void {
    this.#restoring = true;
    for (const group of this.#groups)
      this.#desired.set(
        group,
        this.#members.map((m) => m.id),
      );
  }

  /** One look: each running member's mover takes the step its groups call for; maybe want another membership. */
  step(): void {
    for (const member of this.#members) {
      if (!member.up) {
        this.#movers.delete(member.id);
        continue;
      }
      this.#moverOf(member).round();
    }
    if (this.#restoring) return;
    for (const group of this.#groups) this.#maybeChange(group);
  }

  /** What keeps group `group` from full membership ("" when every member is a voter and none a learner). */
  gap(group: GroupId, voters: readonly NodeId[], learners: readonly NodeId[]): string {
    if (voters.length === this.#members.length && learners.length === 0) return "";
    return `group ${group} has voters ${voters.join(",")}${learners.length > 0 ? `, learners ${learners.join(",")}` : ""}`;
  }

  #moverOf(member: SimMember): ReplicaMover {
    const known = this.#movers.get(member.id);
    if (known !== undefined && known.incarnation === member.incarnation) return known.mover;
    const { slack, unsafe } = this.#settings;
    const rules: MoveRules = { catchUpSlack: slack, ...(unsafe === undefined ? {} : { unsafe }) };
    const mover = new ReplicaMover({
      layout: {
        votersOf: (group) => this.#desired.get(group) ?? [],
        leavingReplicasOf: () => [],
      },
      hosts: () => this.#hostsOf(member),
      markLeft: async () => undefined,
      intervalMs: 0,
      logger: {
        info: (...parts: unknown[]) =>
          this.#trace(
            `node ${member.id} mover: ${parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(" ")}`,
          ),
        debug: () => {},
      },
      rules,
    });
    this.#movers.set(member.id, { incarnation: member.incarnation, mover });
    return mover;
  }

  /** The member's group hosts, each change judged by the move-safety checker before it is proposed. */
  #hostsOf(member: SimMember) {
    const hosts = [];
    for (const group of this.#groups) {
      const host = member.hostOf(group);
      if (host === undefined) continue;
      const checks = this.#checksOf(group);
      hosts.push([
        group,
        {
          raw: host.raw,
          transferLeader: (target: NodeId) => host.transferLeader(target),
          proposeConfChange: (change: Parameters<typeof host.proposeConfChange>[0]) => {
            const status = host.raw.status();
            if (this.#settings.check) {
              checkMoveStep(change, {
                status,
                holdsThrough: (id, index) => checks.holdsThrough(id, status.id, index),
                slack: this.#settings.slack,
              });
            }
            this.changes++;
            return host.proposeConfChange(change);
          },
        },
      ] as const);
    }
    return hosts;
  }

  #maybeChange(group: GroupId): void {
    const leader = this.#members.find((m) => m.roleOf(group) === "leader");
    const status = leader?.hostOf(group)?.raw.status();
    const desired = this.#desired.get(group) ?? [];
    if (status === undefined) return;
    const { voters, learners } = status.confState;
    const settled =
      learners.length === 0 && voters.length === desired.length && desired.every((id) => voters.includes(id));
    if (!settled || !this.#random.chance(this.#settings.changeChance)) return;
    const all = this.#members.map((m) => m.id);
    const next = nextWantedVoters(desired, all, status.id, this.#random, this.#settings.removeLeaderChance);
    this.#desired.set(group, next.voters);
    this.#trace(`membership: group ${group} wants ${next.description}`);
  }
}
