/**
 * @module Which hash slots a shard's state machine does not simply own: the replicated record that makes a slot
 * move between shards safe whatever a router believes (docs/architecture.md "Moving slots between shards").
 * A slot absent from the record is served as routed (the cluster map decides who routes where); a slot in it is:
 * - `frozen` (the source, shard `shard` will take it): its keys are read-only — reads are served, a write is
 *   refused with SLOT_MIGRATING (Redis's TRYAGAIN) — so the copy the destination imports is final;
 * - `importing` (the destination, from shard `shard`): nothing but the move's own import entries touches it;
 * - `gone` (the source, after the hand-off to shard `shard`): every command for it is refused with ASK naming
 *   the shard that now holds it. A gone slot stays recorded (a router with an old map may still send a write
 *   here; accepting it would lose it) until the slot moves back;
 * - `owned` (the destination, once it took the slot over from shard `shard`): served like a slot not recorded;
 *   kept so that a late step of that finished move (from a source leader deposed midway, whose steps still land)
 *   is refused rather than opening the slot for import again — and overwriting writes made since.
 * Each state names the move it belongs to (`move`: the cluster map's epoch that recorded it, growing with every
 * move of any slot), so a step of an older move is told from one of the move running now (slot-ownership.ts).
 * The record is replicated state: applied from the log, stored in the same atomic write as the keys (store-meta.ts)
 * and carried by snapshots. Pure.
 */
import { ShoalError } from "../lib/errors.js";
import { hashSlot, SLOT_COUNT } from "../slots/hash-slot.js";

export type SlotPhase = "frozen" | "importing" | "gone" | "owned";

export interface SlotState {
  readonly phase: SlotPhase;
  /** The other shard of the move: the destination for `frozen` and `gone`, the source for `importing` and
   * `owned`. */
  readonly shard: number;
  /** The move this state belongs to: the map epoch that recorded it (0 for none known). */
  readonly move: number;
}

/** Slot → state, only for slots not simply owned. */
export type SlotStates = ReadonlyMap<number, SlotState>;

export const NO_SLOT_STATES: SlotStates = new Map();

const PHASES: readonly SlotPhase[] = ["frozen", "importing", "gone", "owned"];
const RUN_BYTES = 11;

/** A run of consecutive slots in the same state. */
interface SlotRun {
  readonly from: number;
  readonly to: number;
  readonly state: SlotState;
}

/** `states` as runs of consecutive slots with the same phase and shard, in slot order: a move hands over ranges of
 * slots, so thousands of gone slots (a split's half) are a run or two, and the meta written with every batch stays a
 * few bytes (store-meta.ts). */
function runsOf(states: SlotStates): SlotRun[] {
  const runs: SlotRun[] = [];
  for (const slot of [...states.keys()].sort((a, b) => a - b)) {
    const state = states.get(slot) as SlotState;
    const last = runs[runs.length - 1];
    if (
      last !== undefined &&
      last.to === slot - 1 &&
      last.state.phase === state.phase &&
      last.state.shard === state.shard
    ) {
      runs[runs.length - 1] = { ...last, to: slot };
    } else {
      runs.push({ from: slot, to: slot, state });
    }
  }
  return runs;
}

/** Bytes of `states` as encodeSlotStatesInto writes them. */
export function slotStatesBytes(states: SlotStates): number {
  return 2 + RUN_BYTES * runsOf(states).length;
}

/** count u16 | (from u16 | to u16 | phase u8 | shard u16 | move u32)*: runs in slot order (so equal records
 * encode equally). */
export function encodeSlotStatesInto(view: DataView, offset: number, states: SlotStates): void {
  const runs = runsOf(states);
  view.setUint16(offset, runs.length);
  let at = offset + 2;
  for (const { from, to, state } of runs) {
    view.setUint16(at, from);
    view.setUint16(at + 2, to);
    view.setUint8(at + 4, PHASES.indexOf(state.phase));
    view.setUint16(at + 5, state.shard);
    view.setUint32(at + 7, state.move);
    at += RUN_BYTES;
  }
}

/** Decodes what encodeSlotStatesInto wrote at `offset`, which must end exactly at the view's end; a BAD_REQUEST
 * ShoalError for anything else (a corrupt meta or snapshot: runs out of order or overlapping, a bad phase). */
export function decodeSlotStates(view: DataView, offset: number): SlotStates {
  const corrupt = (): ShoalError => new ShoalError("BAD_REQUEST", "Cannot decode store meta: bad slot states");
  if (view.byteLength < offset + 2) throw corrupt();
  const count = view.getUint16(offset);
  if (view.byteLength !== offset + 2 + count * RUN_BYTES) throw corrupt();
  const states = new Map<number, SlotState>();
  let next = 0;
  for (let i = 0, at = offset + 2; i < count; i++, at += RUN_BYTES) {
    const from = view.getUint16(at);
    const to = view.getUint16(at + 2);
    const phase = PHASES[view.getUint8(at + 4)];
    const shard = view.getUint16(at + 5);
    const move = view.getUint32(at + 7);
    if (phase === undefined || from < next || to < from || to >= SLOT_COUNT || shard === 0) throw corrupt();
    const state: SlotState = { phase, shard, move };
    for (let slot = from; slot <= to; slot++) states.set(slot, state);
    next = to + 1;
  }
  return states;
}

/** Why this shard refuses a command touching `slot` (a write when `writes`), or undefined when it serves it. */
export function slotRefusal(states: SlotStates, slot: number, writes: boolean): ShoalError | undefined {
  const state = states.get(slot);
  if (state === undefined) return undefined;
  switch (state.phase) {
    case "owned":
      return undefined;
    case "frozen":
      return writes ? slotMigrating(slot) : undefined;
    case "importing":
      return slotMigrating(slot);
    case "gone":
      return askError(slot, state.shard);
  }
}

const servingAll = new WeakMap<SlotStates, boolean>();

/** Whether `states` refuse nothing: none recorded, or only slots `owned` after an import (every shard that took
 * a slot keeps those for good). Asked per command, so answered once per states object (they are never changed in
 * place: a step makes new ones), and a shard that moved no slot or only took some pays no per-key check. */
export function servesAll(states: SlotStates): boolean {
  if (states.size === 0) return true;
  let all = servingAll.get(states);
  if (all === undefined) {
    all = [...states.values()].every((state) => state.phase === "owned");
    servingAll.set(states, all);
  }
  return all;
}

const movingAny = new WeakMap<SlotStates, boolean>();

/** Whether a slot of `states` is being moved in or out now (frozen or importing): its writes may be refused at
 * apply. Answered once per states object, as servesAll. */
export function slotsMoving(states: SlotStates): boolean {
  if (states.size === 0) return false;
  let moving = movingAny.get(states);
  if (moving === undefined) {
    moving = [...states.values()].some((state) => state.phase === "frozen" || state.phase === "importing");
    movingAny.set(states, moving);
  }
  return moving;
}

/** Throws the refusal of the first of `keys` this shard does not serve (reads when not `writes`). Reads check after
 * their ReadIndex barrier, so the states they see are at least as new as any move acknowledged before. */
export function checkServed(
  states: SlotStates,
  keys: Iterable<Uint8Array> | (() => Iterable<Uint8Array>),
  writes: boolean,
): void {
  if (servesAll(states)) return;
  if (typeof keys === "function") keys = keys();
  for (const key of keys) {
    const refusal = slotRefusal(states, hashSlot(key), writes);
    if (refusal !== undefined) throw refusal;
  }
}

/** A write to a slot whose keys are moving: nothing was done, the same command succeeds once the move is done. */
export function slotMigrating(slot: number): ShoalError {
  return new ShoalError("SLOT_MIGRATING", `Slot ${slot} is moving between shards; try again`);
}

/** The command's slot is held by shard `shard` now: nothing was done here; ask that shard (Redis's -ASK). The
 * message is `<slot> <shard>`: a node routes by it (node/slot-routing.ts), and front ends rewrite it to the
 * shard's address before a client sees it. */
export function askError(slot: number, shard: number): ShoalError {
  return new ShoalError("ASK", `${slot} ${shard}`, { slot, shard });
}

/** The slot and shard an ASK error names (askError's message: the detail does not cross the wire). */
export function askTarget(error: ShoalError): { readonly slot: number; readonly shard: number } | undefined {
  if (error.code !== "ASK") return undefined;
  const match = /^(\d{1,5}) (\d{1,5})$/.exec(error.message);
  if (match === null) return undefined;
  return { slot: Number(match[1]), shard: Number(match[2]) };
}
