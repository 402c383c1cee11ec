/**
 * @module SimNetwork: the simulated links between nodes. Every message is delivered after a seeded random delay
 * (in ticks), so messages overtake one another (reordering); it may be dropped or duplicated; links can be cut
 * in one direction (asymmetric partitions), both directions, or around a node (isolation). Raft must stay safe
 * under all of it (the paper's model, section 5.1: messages may be lost, duplicated, delayed and reordered).
 */

import { assert } from "../src/lib/assert.js";
import type { Prng } from "../src/lib/prng.js";
import type { Message, NodeId } from "../src/raft/types.js";

export interface NetworkFaults {
  /** Chance that a sent message is lost. */
  readonly dropChance: number;
  /** Chance that a sent message is delivered a second time (with its own delay). */
  readonly duplicateChance: number;
  /** Delay bounds in ticks. A delay of 0 delivers within the same tick (the benchmark's instant network). */
  readonly delayTicksMin: number;
  readonly delayTicksMax: number;
}

export const QUIET_NETWORK: NetworkFaults = { dropChance: 0, duplicateChance: 0, delayTicksMin: 1, delayTicksMax: 1 };
export const INSTANT_NETWORK: NetworkFaults = { dropChance: 0, duplicateChance: 0, delayTicksMin: 0, delayTicksMax: 0 };

export interface NetworkStats {
  sent: number;
  dropped: number;
  duplicated: number;
  delivered: number;
}

/** A run that sends more than this in one tick has a message storm (a feedback loop in the core): it fails
 * there, deterministically, instead of exhausting memory. Healthy runs send a few dozen per tick. */
export const SENDS_PER_TICK_MAX = 50_000;

export class MessageStormError extends Error {
  override readonly name = "MessageStormError";
}

/** Node ids stay far below this, so (from, to) packs into one number. */
const LINK_ID_BOUND = 1 << 16;

export class SimNetwork {
  readonly #random: Prng;
  #faults: NetworkFaults;
  /** Directed links that are down, as from * LINK_ID_BOUND + to. */
  readonly #cut = new Set<number>();
  /** Messages by the tick they are due. */
  readonly #due = new Map<number, Message[]>();
  readonly stats: NetworkStats = { sent: 0, dropped: 0, duplicated: 0, delivered: 0 };
  #stormTick = -1;
  #sentInTick = 0;

  /** Called when the first message due at a tick is queued (the node simulation schedules its delivery). */
  readonly #onNewDueTick: ((dueTick: number) => void) | undefined;

  constructor(random: Prng, faults: NetworkFaults, onNewDueTick?: (dueTick: number) => void) {
    this.#random = random;
    this.#faults = faults;
    this.#onNewDueTick = onNewDueTick;
  }

  get faults(): NetworkFaults {
    return this.#faults;
  }

  setFaults(faults: NetworkFaults): void {
    assert(faults.delayTicksMin >= 0, "Network delay must not be negative");
    assert(faults.delayTicksMin <= faults.delayTicksMax, "Network delay bounds are inverted");
    this.#faults = faults;
  }

  send(message: Message, nowTick: number): void {
    this.stats.sent++;
    if (nowTick !== this.#stormTick) {
      this.#stormTick = nowTick;
      this.#sentInTick = 0;
    }
    if (++this.#sentInTick > SENDS_PER_TICK_MAX) {
      throw new MessageStormError(
        `Message storm: more than ${SENDS_PER_TICK_MAX} messages sent in tick ${nowTick} (last: ${message.type} ${message.from}->${message.to})`,
      );
    }
    if (!this.linkUp(message.from, message.to) || this.#random.chance(this.#faults.dropChance)) {
      this.stats.dropped++;
      return;
    }
    this.#enqueue(message, nowTick);
    if (this.#random.chance(this.#faults.duplicateChance)) {
      this.stats.duplicated++;
      this.#enqueue(message, nowTick);
    }
  }

  #enqueue(message: Message, nowTick: number): void {
    const { delayTicksMin, delayTicksMax } = this.#faults;
    const dueTick = nowTick + this.#random.between(delayTicksMin, delayTicksMax);
    const bucket = this.#due.get(dueTick);
    if (bucket === undefined) {
      this.#due.set(dueTick, [message]);
      this.#onNewDueTick?.(dueTick);
    } else bucket.push(message);
  }

  /** Removes and returns the messages due at `nowTick` whose link is still up. A partition that starts while a
   * message is in flight loses it, as a real cut would. */
  takeDue(nowTick: number): Message[] {
    const bucket = this.#due.get(nowTick);
    if (bucket === undefined) return [];
    this.#due.delete(nowTick);
    const delivered: Message[] = [];
    for (const message of bucket) {
      if (this.linkUp(message.from, message.to)) delivered.push(message);
      else this.stats.dropped++;
    }
    this.stats.delivered += delivered.length;
    return delivered;
  }

  hasDue(nowTick: number): boolean {
    return this.#due.has(nowTick);
  }

  /** Messages still in flight (for the liveness phase's "quiet" check and for tests). */
  inFlightCount(): number {
    let count = 0;
    for (const bucket of this.#due.values()) count += bucket.length;
    return count;
  }

  linkUp(from: NodeId, to: NodeId): boolean {
    return !this.#cut.has(from * LINK_ID_BOUND + to);
  }

  /** Cuts the link from `from` to `to` only: `to` stops hearing `from`, `from` still hears `to`. */
  cutOneWay(from: NodeId, to: NodeId): void {
    assert(from < LINK_ID_BOUND && to < LINK_ID_BOUND, "Node id too large for the simulated network");
    this.#cut.add(from * LINK_ID_BOUND + to);
  }

  cutBothWays(a: NodeId, b: NodeId): void {
    this.cutOneWay(a, b);
    this.cutOneWay(b, a);
  }

  /** Cuts every link to and from `node`. */
  isolate(node: NodeId, nodes: readonly NodeId[]): void {
    for (const other of nodes) if (other !== node) this.cutBothWays(node, other);
  }

  /** Splits the nodes into groups that hear only their own group (a symmetric partition). */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const group of groups) {
      for (const other of groups) {
        if (other === group) continue;
        for (const a of group) for (const b of other) this.cutOneWay(a, b);
      }
    }
  }

  healAll(): void {
    this.#cut.clear();
  }

  /** Directed cut links as "from->to" (trace output). */
  describeCuts(): string {
    const links = [...this.#cut].sort((x, y) => x - y);
    return links.map((link) => `${Math.floor(link / LINK_ID_BOUND)}->${link % LINK_ID_BOUND}`).join(" ");
  }
}
