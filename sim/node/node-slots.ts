/**
 * @module Slot moves between shards in the node simulation (docs/architecture.md "Moving slots between shards").
 * In the seeds that run them (2 or 3 groups per member), the clients' keys are routed as a node routes them — key →
 * hash slot (src/slots/hash-slot.ts) → the group the slot table names — and the cluster map's part is simulated:
 * `SimSlotMap` holds the slot table and the slots asked to move (`migrations`, as ClusterMap has them), and an
 * operator now and then asks for one slot, or two going the same way, to move to another group. Each running member
 * runs the node's own driver, `SlotMover` (src/node/slot-mover.ts), over its real replicas: the leader of a moving
 * slot's source group freezes it, imports the source's own copy into the destination (slot-export.ts), hands it off
 * and drops it, every step a real command through the real hosts (submitted to the group's leader as this member
 * knows it, as leader forwarding does), and then records the move in the map.
 *
 * Each client routes by its own copy of the slot table, refreshed now and then (a node's map lags the meta group's),
 * so a client with an old table writes to a source that handed the slot off; the shards' state machines must refuse
 * it (ASK, or SLOT_MIGRATING while the slot is copied), and the client follows as a node does (node-clients.ts). The
 * linearizability checker judges every key's whole history across the groups it moved through.
 */
import type { Command, CommandResult } from "../../src/commands/command.js";
import { encodeCommand } from "../../src/commands/command-codec.js";
import { ShoalError } from "../../src/lib/errors.js";
import type { Prng } from "../../src/lib/prng.js";
import { type SlotMoveReplica, SlotMover } from "../../src/node/slot-mover.js";
import type { GroupId } from "../../src/raft/types.js";
import type { SlotMigration } from "../../src/slots/cluster-map.js";
import { hashSlot } from "../../src/slots/hash-slot.js";
import type { SimNetwork } from "../network.js";
import type { SimClock } from "../sim-clock.js";
import type { SimMember } from "./sim-member.js";

const encoder = new TextEncoder();

/** The slot of a client key. */
export function slotOfKey(key: string): number {
  return hashSlot(encoder.encode(key));
}

/** The slot table at one epoch: the group owning each client key's slot. */
export interface SlotTable {
  readonly epoch: number;
  readonly owners: ReadonlyMap<number, GroupId>;
}

/** The cluster map's slot part, as the meta group would keep it: the table and the moves asked for, in order. */
export class SimSlotMap {
  #table: SlotTable;
  #migrations: readonly SlotMigration[] = [];
  /** Moves recorded done. */
  moved = 0;

  constructor(owners: ReadonlyMap<number, GroupId>) {
    this.#table = { epoch: 1, owners };
  }

  get table(): SlotTable {
    return this.#table;
  }

  get migrations(): readonly SlotMigration[] {
    return this.#migrations;
  }

  ownerOf(slot: number): GroupId {
    return this.#table.owners.get(slot) as GroupId;
  }

  /** `slots` asked to move to group `to` (withSlotsMigrating: none of them moving already). */
  startMoving(slots: readonly number[], to: GroupId): void {
    const added = slots.map((slot) => {
      if (this.#migrations.some((m) => m.slot === slot)) throw new RangeError(`Slot ${slot} is already moving`);
      return { slot, from: this.ownerOf(slot), to, epoch: this.#table.epoch + 1 };
    });
    this.#migrations = [...this.#migrations, ...added];
    this.#table = { ...this.#table, epoch: this.#table.epoch + 1 };
  }

  /** The moves of `slots` done (withSlotsMoved: a RangeError when one is not moving — another driver recorded it). */
  recordMoved(slots: readonly number[]): void {
    const owners = new Map(this.#table.owners);
    for (const slot of new Set(slots)) {
      const migration = this.#migrations.find((m) => m.slot === slot);
      if (migration === undefined) throw new RangeError(`Slot ${slot} is not moving`);
      owners.set(slot, migration.to);
    }
    this.#migrations = this.#migrations.filter((m) => !slots.includes(m.slot));
    this.#table = { epoch: this.#table.epoch + 1, owners };
    this.moved += new Set(slots).size;
  }
}

/** How the clients route a key: by the slot table, each client by its own copy of it. */
export class KeyRouting {
  readonly #map: SimSlotMap;
  /** Present when slots move: draws when a client's table is refreshed (its own stream). */
  readonly #random: Prng | undefined;
  readonly #refreshChance: number;
  readonly #views = new Map<number, SlotTable>();

  constructor(map: SimSlotMap, random: Prng | undefined, refreshChance = 0.3) {
    this.#map = map;
    this.#random = random;
    this.#refreshChance = refreshChance;
  }

  /** Whether slots move in this run (then the clients follow ASK and retry SLOT_MIGRATING, as a node does). */
  get moving(): boolean {
    return this.#random !== undefined;
  }

  /** The group `client` sends `key` to: by its copy of the table ("final": the newest). */
  groupOf(client: number | "final", key: string): GroupId {
    const table = (client === "final" ? undefined : this.#views.get(client)) ?? this.#map.table;
    return table.owners.get(slotOfKey(key)) as GroupId;
  }

  /** Before `client`'s next operation: its copy of the table may catch up with the map. */
  beforeOperation(client: number): void {
    if (this.#random === undefined) return;
    if (!this.#views.has(client) || this.#random.chance(this.#refreshChance)) this.refresh(client);
  }

  /** `client` routes afresh (after a refusal, as a node does): its copy becomes the map's newest. */
  refresh(client: number | "final"): void {
    if (client !== "final") this.#views.set(client, this.#map.table);
  }
}

export interface SlotMoveSettings {
  /** Chance, at each look while fewer than two moves are pending, of asking for another. */
  readonly moveChance: number;
  /** Chance that a move takes two slots together (one batch: one freeze, one hand-off). */
  readonly pairChance: number;
  /** A forwarded step's delay each way, at most (the network's message delay). */
  readonly forwardDelayMsMax: number;
}

/** The operator and the members' slot movers. */
export class NodeSlotMoves {
  readonly #members: readonly SimMember[];
  readonly #groups: readonly GroupId[];
  readonly #map: SimSlotMap;
  readonly #slots: readonly number[];
  readonly #random: Prng;
  readonly #settings: SlotMoveSettings;
  readonly #clock: SimClock;
  readonly #links: SimNetwork;
  readonly #trace: (line: string) => void;
  readonly #movers = new Map<number, { readonly incarnation: number; readonly mover: SlotMover }>();
  #asking = true;
  /** Slots asked to move. */
  asked = 0;

  constructor(
    members: readonly SimMember[],
    groups: readonly GroupId[],
    map: SimSlotMap,
    slots: readonly number[],
    random: Prng,
    settings: SlotMoveSettings,
    clock: SimClock,
    links: SimNetwork,
    trace: (line: string) => void,
  ) {
    this.#members = members;
    this.#groups = groups;
    this.#map = map;
    this.#slots = slots;
    this.#random = random;
    this.#settings = settings;
    this.#clock = clock;
    this.#links = links;
    this.#trace = trace;
  }

  /** The liveness phase: no new move is asked for; those pending must finish. */
  stopAsking(): void {
    this.#asking = false;
  }

  /** One look: each running member's mover takes its next batch (if it leads a source); maybe ask for a move. */
  step(): void {
    for (const member of this.#members) {
      if (!member.up) continue;
      this.#moverOf(member).round();
    }
    if (this.#asking && this.#map.migrations.length < 2 && this.#random.chance(this.#settings.moveChance)) {
      this.#ask();
    }
  }

  /** What keeps the slot table from being settled ("" when no move is pending). */
  gap(): string {
    const pending = this.#map.migrations;
    if (pending.length === 0) return "";
    return `slot moves pending: ${pending.map((m) => `${m.slot} ${m.from}→${m.to}`).join(", ")}`;
  }

  #ask(): void {
    const moving = new Set(this.#map.migrations.map((m) => m.slot));
    const idle = this.#slots.filter((slot) => !moving.has(slot));
    if (idle.length === 0) return;
    const first = this.#random.pick(idle);
    const from = this.#map.ownerOf(first);
    const to = this.#random.pick(this.#groups.filter((group) => group !== from));
    const slots = [first];
    const along = idle.filter((slot) => slot !== first && this.#map.ownerOf(slot) === from);
    if (along.length > 0 && this.#random.chance(this.#settings.pairChance)) slots.push(this.#random.pick(along));
    this.#map.startMoving(slots, to);
    this.asked += slots.length;
    this.#trace(`slot map: move slot${slots.length > 1 ? "s" : ""} ${slots.join(",")} from group ${from} to ${to}`);
  }

  /** The member's mover for its running incarnation (a crash takes the process, mover and all). */
  #moverOf(member: SimMember): SlotMover {
    const known = this.#movers.get(member.id);
    if (known !== undefined && known.incarnation === member.incarnation) return known.mover;
    known?.mover.stop();
    const incarnation = member.incarnation;
    const scope = member.scope;
    const alive = (): boolean => member.up && member.incarnation === incarnation;
    const gone = (): ShoalError => new ShoalError("UNAVAILABLE", `Node ${member.id} is down`);
    const log =
      (level: string) =>
      (...parts: unknown[]): void =>
        this.#trace(`node ${member.id} slot mover ${level}: ${parts.map(describe).join(" ")}`);
    const mover = new SlotMover({
      map: () => ({ migrations: this.#map.migrations }),
      replicaOf: (group) => (alive() ? replicaOf(member, group) : undefined),
      submitTo: (group, command) => (alive() ? this.#submit(member, group, command) : Promise.reject(gone())),
      recordMoved: async (slots) => {
        if (!alive()) throw gone();
        this.#map.recordMoved(slots);
        this.#trace(`slot map: slot${slots.length > 1 ? "s" : ""} ${slots.join(",")} moved (node ${member.id})`);
      },
      intervalMs: 0, // never started: the run calls round() in virtual time
      logger: { info: log("info"), debug: log("debug"), warn: log("warn") },
      now: () => this.#clock.now(),
      // A real turn of the event loop takes time; here at least a virtual millisecond, or a step refused at once
      // (a leadership transfer under way: the mover retries a failed batch on the next turn) would spin at one
      // instant of virtual time for ever.
      later: (round) => scope?.setTimeout(round, 1),
    });
    this.#movers.set(member.id, { incarnation, mover });
    return mover;
  }

  /** `command` proposed to group `group`'s leader as `member` knows it, as leader forwarding does: refused when no
   * leader is known or the link to it is cut; a forward crosses the network, so it reaches the leader after a delay
   * (others may propose meanwhile) and its answer comes back after another; the proposal itself goes through the
   * leader's real host. */
  async #submit(member: SimMember, group: GroupId, command: Command): Promise<CommandResult> {
    const leaderId = member.hostOf(group)?.raw.status().leaderId ?? 0;
    const leader = this.#members.find((m) => m.id === leaderId);
    if (leader === undefined) throw new ShoalError("UNAVAILABLE", `No leader of group ${group} known`);
    const step = command.op === "slot" ? `${command.action} ${command.slots.join(",")}` : command.op;
    const propose = async (): Promise<CommandResult> => {
      this.#trace(`node ${member.id} slot step ${step} proposed to group ${group} on node ${leader.id}`);
      const result = await leader.call(group, (host) => host.propose(encodeCommand(command)));
      if (result.kind === "error") this.#trace(`node ${member.id} slot step ${step} refused: ${result.message}`);
      return result;
    };
    if (leader === member) return propose();
    await this.#forwardDelay(member);
    if (!(this.#links.linkUp(member.id, leader.id) && this.#links.linkUp(leader.id, member.id))) {
      throw new ShoalError("UNAVAILABLE", `Node ${leader.id} cannot be reached`);
    }
    const result = await propose();
    await this.#forwardDelay(member);
    return result;
  }

  /** One way of a forwarded request, in `member`'s incarnation (a crash ends the wait, and the mover with it). */
  #forwardDelay(member: SimMember): Promise<void> {
    const delayMs = this.#random.between(0, this.#settings.forwardDelayMsMax);
    return new Promise((resolve) => member.scope?.setTimeout(resolve, delayMs));
  }
}

/** The member's replica of `group` as the slot mover reads it. */
function replicaOf(member: SimMember, group: GroupId): SlotMoveReplica | undefined {
  const host = member.hostOf(group);
  const store = member.storeOf(group);
  return host === undefined || store === undefined ? undefined : { host, store };
}

function describe(part: unknown): string {
  if (typeof part === "string") return part;
  if (part !== null && typeof part === "object") {
    return Object.entries(part)
      .map(([key, value]) => `${key}=${value instanceof Error ? value.message : String(value)}`)
      .join(" ");
  }
  return String(part);
}
