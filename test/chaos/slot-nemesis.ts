/**
 * @module The membership nemesis's slot moves between shards (docs/operations.md "Moving slots between shards"), on
 * a cluster of two shards or more, through any running node's admin API (admin-client.ts):
 * - most actions move a random range of 1–500 slots (half the time at most 20) of one shard to another
 *   (`POST /v1/admin/slots/move`); `HOT_SHARE` of them is centred on a slot of a key the workload uses now or next,
 *   so the clients' own keys are frozen, copied and handed off under them;
 * - `SPLIT_MERGE_SHARE` of them splits a shard (`POST /v1/admin/shards/{id}/split`: a new shard takes about half of
 *   its slots) while the cluster has fewer than its first shards + `EXTRA_SHARDS_MAX`, or merges a shard a split
 *   made back into the one it came from (`POST /v1/admin/shards/{id}/merge`).
 * Each action is followed (`GET /v1/admin/slots`) until its slots no longer move, or its fault's time is up. The
 * cluster's refusals (a slot already moving, a shard with slots moving cannot split…) are logged and counted,
 * never fatal. Every choice comes from the nemesis's seeded PRNG; what the cluster answers does not.
 */
import type { AdminShardsView } from "../../src/http/admin-routes.js";
import type { AdminSlotsView } from "../../src/http/admin-slot-routes.js";
import type { Prng } from "../../src/lib/prng.js";
import { SLOT_COUNT } from "../../src/slots/hash-slot.js";
import type { AdminClient } from "./admin-client.js";
import type { HistoryRecorder } from "./history.js";

/** Share of slot moves centred on a slot of the workload's keys. */
const HOT_SHARE = 0.6;
/** Share of actions that split or merge a shard (when one can be). */
const SPLIT_MERGE_SHARE = 0.15;
/** The most slots one move takes. */
const MOVE_SLOTS_MAX = 500;
/** Shards the cluster may have beyond the ones it started with. */
const EXTRA_SHARDS_MAX = 2;
/** How often a move being followed is looked at. */
const FOLLOW_POLL_MS = 250;

export interface SlotMoveCounts {
  /** Slot moves the cluster recorded (202) and the slots they took. */
  moves: number;
  movedSlots: number;
  /** Of those, the moves that took a slot of a key the workload was using or about to use. */
  hotMoves: number;
  splits: number;
  /** Slots the splits moved to their new shards. */
  splitSlots: number;
  merges: number;
  /** Slots the merges moved back. */
  mergedSlots: number;
  /** Actions followed to their end within their fault. */
  finished: number;
  /** Refused by the cluster (400: already moving, a shard with slots moving, …). */
  refused: number;
  /** No node answered (down, paused, cut off), or the answer did not say whether it was recorded. */
  unanswered: number;
}

export interface SlotNemesisOptions {
  /** The shards the cluster started with (ids 1…N; a split's shard takes the next unused id). */
  readonly initialShards: number;
  /** The hash slots of the keys the workload uses now (and next). */
  readonly hotSlots: () => readonly number[];
}

/** The map as one node sees it: every shard, each slot's owner and the slots moving. */
interface SlotsState {
  readonly shards: readonly number[];
  /** Slot → shard; a slot moving stays its source's until its move is done. */
  readonly owner: Uint16Array;
  readonly moving: AdminSlotsView["moving"];
}

export class SlotNemesis {
  readonly counts: SlotMoveCounts = {
    moves: 0,
    movedSlots: 0,
    hotMoves: 0,
    splits: 0,
    splitSlots: 0,
    merges: 0,
    mergedSlots: 0,
    finished: 0,
    refused: 0,
    unanswered: 0,
  };
  readonly #admin: AdminClient;
  readonly #random: Prng;
  readonly #recorder: HistoryRecorder;
  readonly #log: (line: string) => void;
  readonly #options: SlotNemesisOptions;
  /** Shards this nemesis merged away: the admin API does not list them as retiring, and a move to one is refused. */
  readonly #retiring = new Set<number>();
  /** The shard each split shard came from (merged back into it). */
  readonly #splitFrom = new Map<number, number>();

  constructor(
    admin: AdminClient,
    random: Prng,
    recorder: HistoryRecorder,
    log: (line: string) => void,
    options: SlotNemesisOptions,
  ) {
    this.#admin = admin;
    this.#random = random;
    this.#recorder = recorder;
    this.#log = log;
    this.#options = options;
  }

  /** One action (see the module comment), followed until done or `deadline` (Date.now() time). False when none
   * could be asked for (no node answered, or no move was possible). */
  async act(deadline: number, stopped: () => boolean): Promise<boolean> {
    const state = await this.#state();
    if (state === undefined) return false;
    if (this.#random.chance(SPLIT_MERGE_SHARE)) {
      const done = await this.#splitOrMerge(state, deadline, stopped);
      if (done) return true;
    }
    return this.#moveSlots(state, deadline, stopped);
  }

  /** Waits until no slot moves and every shard merged away is gone from the map (after the heal). */
  async settle(timeoutMs: number): Promise<{ readonly settled: boolean; readonly moving: number }> {
    const deadline = Date.now() + timeoutMs;
    let moving = -1;
    while (Date.now() < deadline) {
      const state = await this.#state();
      if (state !== undefined) {
        moving = state.moving.length;
        if (moving === 0 && ![...this.#retiring].some((id) => state.shards.includes(id))) {
          return { settled: true, moving };
        }
      }
      await sleep(500);
    }
    return { settled: false, moving };
  }

  /** "12 slot moves (3,456 slots, 8 of them on the workload's keys), 2 splits (…), 1 merge (…); …". */
  summary(): string {
    const c = this.counts;
    return (
      `${c.moves} slot moves (${c.movedSlots} slots; ${c.hotMoves} took a slot of the workload's keys), ` +
      `${c.splits} splits (${c.splitSlots} slots), ${c.merges} merges (${c.mergedSlots} slots): ` +
      `${c.movedSlots + c.splitSlots + c.mergedSlots} slots asked to move, ${c.finished} actions seen done ` +
      `within their fault, ${c.refused} refused, ${c.unanswered} unanswered`
    );
  }

  async #state(): Promise<SlotsState | undefined> {
    const shards = await this.#admin.get<AdminShardsView>("/v1/admin/shards");
    const slots = await this.#admin.get<AdminSlotsView>("/v1/admin/slots");
    if (shards.status !== 200 || slots.status !== 200 || shards.body === undefined || slots.body === undefined) {
      return undefined;
    }
    const owner = new Uint16Array(SLOT_COUNT);
    for (const shard of shards.body.shards) {
      for (const [from, to] of shard.slots) owner.fill(shard.id, from, to + 1);
    }
    const ids = shards.body.shards.map((shard) => shard.id);
    for (const id of this.#retiring) if (!ids.includes(id)) this.#retiring.delete(id);
    return { shards: ids, owner, moving: slots.body.moving };
  }

  /** Moves a range of one shard's slots to another (see the module comment). */
  async #moveSlots(state: SlotsState, deadline: number, stopped: () => boolean): Promise<boolean> {
    const moving = new Set(state.moving.map((m) => m.slot));
    const hot = this.#options.hotSlots();
    const hotSet = new Set(hot);
    const hotFree = hot.filter((slot) => !moving.has(slot));
    const aimed = hotFree.length > 0 && this.#random.chance(HOT_SHARE);
    let anchor = aimed ? this.#random.pick(hotFree) : this.#random.int(SLOT_COUNT);
    for (let attempt = 0; moving.has(anchor) && attempt < 20; attempt++) anchor = this.#random.int(SLOT_COUNT);
    const from = state.owner[anchor]!;
    if (moving.has(anchor) || from === 0) return false;
    const length = 1 + this.#random.int(this.#random.chance(0.5) ? 20 : MOVE_SLOTS_MAX);
    const start = Math.max(0, Math.min(anchor - this.#random.int(length), SLOT_COUNT - length));
    let slots: number[] = [];
    for (let slot = start; slot < start + length; slot++) {
      if (state.owner[slot] === from && !moving.has(slot)) slots.push(slot);
    }
    // The source must keep a slot once every move asked for is done (else the cluster refuses the move).
    const after = Uint16Array.from(state.owner);
    for (const m of state.moving) after[m.slot] = m.to;
    const keeps = after.filter((owner) => owner === from).length;
    if (slots.length >= keeps) slots = keeps > 1 ? [anchor] : [];
    const targets = state.shards.filter((id) => id !== from && !this.#retiring.has(id));
    if (slots.length === 0 || targets.length === 0) return false;
    const to = this.#random.pick(targets);
    const onHot = slots.some((slot) => hotSet.has(slot));
    const invokeNs = this.#recorder.nowNs();
    const answer = await this.#admin.post<AdminSlotsView>("/v1/admin/slots/move", { slots, to }, true);
    const what =
      `move ${slots.length} slots (${rangesText(slots)}) from shard ${from} to shard ${to}` +
      `${onHot ? " (the workload's keys' slots among them)" : ""}`;
    const recorded = this.#outcome(
      answer,
      "move-slots",
      { from, to, slots: slots.length, first: slots[0], onHot },
      invokeNs,
      what,
    );
    if (!recorded) return true;
    this.counts.moves++;
    this.counts.movedSlots += slots.length;
    if (onHot) this.counts.hotMoves++;
    await this.#follow(`shard ${from}'s ${slots.length} slots to shard ${to}`, deadline, stopped, (now) =>
      slots.every((slot) => !now.moving.some((m) => m.slot === slot)),
    );
    return true;
  }

  /** Splits a shard, or merges one a split made back; false when neither was possible or the cluster refused. */
  async #splitOrMerge(state: SlotsState, deadline: number, stopped: () => boolean): Promise<boolean> {
    const initial = this.#options.initialShards;
    const extra = state.shards.filter((id) => id > initial && !this.#retiring.has(id));
    const canSplit = state.shards.length < initial + EXTRA_SHARDS_MAX;
    if (extra.length > 0 && (!canSplit || this.#random.chance(0.5))) {
      return this.#merge(state, this.#random.pick(extra), deadline, stopped);
    }
    if (!canSplit) return false;
    const busy = new Set(state.moving.flatMap((m) => [m.from, m.to]));
    const candidates = state.shards.filter(
      (id) => !this.#retiring.has(id) && !busy.has(id) && state.owner.filter((owner) => owner === id).length >= 2,
    );
    if (candidates.length === 0) return false;
    // Half the time the shard that holds a key the workload uses.
    const hotShards = this.#options
      .hotSlots()
      .map((slot) => state.owner[slot]!)
      .filter((id) => candidates.includes(id));
    const id =
      hotShards.length > 0 && this.#random.chance(0.5) ? this.#random.pick(hotShards) : this.#random.pick(candidates);
    const invokeNs = this.#recorder.nowNs();
    // Not sent again after an answer that never came: a second split would make another shard.
    const answer = await this.#admin.post<AdminSlotsView & { shard: number }>(
      `/v1/admin/shards/${id}/split`,
      {},
      false,
    );
    if (!this.#outcome(answer, "split", { shard: id }, invokeNs, `split shard ${id}`)) return answer.status !== 400;
    const created = answer.body!.shard;
    const slots = answer.body!.moving.filter((m) => m.to === created).map((m) => m.slot);
    this.#splitFrom.set(created, id);
    this.counts.splits++;
    this.counts.splitSlots += slots.length;
    this.#log(`  shard ${id} split: new shard ${created} takes ${slots.length} slots (${rangesText(slots)})`);
    await this.#follow(`the split of shard ${id} into ${created}`, deadline, stopped, (now) =>
      slots.every((slot) => !now.moving.some((m) => m.slot === slot)),
    );
    return true;
  }

  async #merge(state: SlotsState, id: number, deadline: number, stopped: () => boolean): Promise<boolean> {
    if (state.moving.some((m) => m.to === id)) return false; // refused until the moves into it are done
    const parent = this.#splitFrom.get(id);
    const others = state.shards.filter((each) => each !== id && !this.#retiring.has(each));
    if (others.length === 0) return false;
    const into = parent !== undefined && others.includes(parent) ? parent : this.#random.pick(others);
    const slots = state.owner.filter((owner) => owner === id).length;
    const invokeNs = this.#recorder.nowNs();
    const answer = await this.#admin.post<AdminSlotsView>(`/v1/admin/shards/${id}/merge`, { into }, true);
    const what = `merge shard ${id} (${slots} slots) into shard ${into}`;
    if (!this.#outcome(answer, "merge", { shard: id, into, slots }, invokeNs, what)) return answer.status !== 400;
    this.#retiring.add(id);
    this.counts.merges++;
    this.counts.mergedSlots += slots;
    await this.#follow(`the merge of shard ${id} into ${into}`, deadline, stopped, (now) => !now.shards.includes(id));
    return true;
  }

  /** Records and logs an admin request's answer; true when the cluster recorded the change (202). */
  #outcome(
    answer: Awaited<ReturnType<AdminClient["get"]>>,
    op: string,
    value: Record<string, unknown>,
    invokeNs: number,
    what: string,
  ): boolean {
    const recorded = answer.status === 202;
    const error = recorded
      ? undefined
      : answer.status === 0 || answer.status === 504
        ? `no answer${answer.uncertain ? " (may be recorded)" : ""}: ${answer.error ?? "?"}`
        : `${answer.status} ${answer.error ?? ""}`.trim();
    this.#recorder.nemesis(op, { ...value, via: answer.via }, invokeNs, error);
    this.#log(`${what} via node ${answer.via}${error === undefined ? "" : `: NOT DONE, ${error}`}`);
    if (!recorded) {
      if (answer.status === 400) this.counts.refused++;
      else this.counts.unanswered++;
    }
    return recorded;
  }

  /** Looks at the slots until `done` says the action ended, or `deadline` passes. */
  async #follow(
    what: string,
    deadline: number,
    stopped: () => boolean,
    done: (state: SlotsState) => boolean,
  ): Promise<void> {
    const startedAt = Date.now();
    while (!stopped() && Date.now() < deadline) {
      await sleep(FOLLOW_POLL_MS);
      const state = await this.#state();
      if (state !== undefined && done(state)) {
        this.counts.finished++;
        this.#log(`  ${what}: done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
        return;
      }
    }
    this.#log(`  ${what}: still moving`);
  }
}

/** "0-10, 12, 20-30". */
export function rangesText(slots: readonly number[]): string {
  const sorted = [...slots].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.length > 6 ? `${parts.slice(0, 6).join(", ")}, …` : parts.join(", ");
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
