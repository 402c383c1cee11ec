/**
 * @module The load on each hash slot as this node sees it: every key a request names is routed to its slot's
 * shard here (ShoalNode.shardOfKey), and counted. Counts are kept per window of SLOT_LOAD_WINDOW_MS (the last
 * complete one is reported), so a report costs one pass over the slots and nothing per request but an increment.
 *
 * A member reports the load as rates (keys routed per second): per shard — each slot's count given to the shard
 * that owns the slot NOW, so a window that spans a slot move still says where that load goes from here on — and
 * the hottest slots. The meta group's leader sums the members' reports (`mergeSlotLoads`) and the rebalancer moves
 * hot slots off a shard that carries much more than another (slots/rebalance-plan.ts). A request forwarded to
 * another member is counted where it entered only: each request once.
 */
import { SLOT_COUNT } from "../slots/hash-slot.js";
import type { ShardLoads } from "../slots/rebalance-plan.js";

/** The length of one counting window. */
export const SLOT_LOAD_WINDOW_MS = 10_000;
/** The hottest slots a member reports. */
export const HOT_SLOTS_MAX = 64;

/** One member's report: keys routed per second over its last window, per shard and for its hottest slots (hottest
 * first; slots with no load left out). */
export interface SlotLoadReport {
  readonly shards: Readonly<Record<string, number>>;
  readonly hot: readonly (readonly [slot: number, perSecond: number])[];
}

/** A complete window: the keys routed to each slot, over `ms` milliseconds. */
interface CountWindow {
  readonly counts: Uint32Array;
  readonly ms: number;
}

/** Who owns each slot now (a SlotMap: a new one whenever the map moves slots). */
export interface SlotOwners {
  shardOf(slot: number): number;
}

export class SlotLoad {
  #current = new Uint32Array(SLOT_COUNT);
  #currentStartMs: number;
  #last: CountWindow | undefined;
  /** The last report, for the window and owners it was made of: every member info carries one (a peer's readiness
   * check asks for it too), and it changes only when a window ends or slots move. */
  #reported:
    | {
        readonly window: CountWindow;
        readonly owners: SlotOwners;
        readonly hotMax: number;
        readonly report: SlotLoadReport;
      }
    | undefined;

  constructor(nowMs: number) {
    this.#currentStartMs = nowMs;
  }

  /** Counts one key routed to `slot`. */
  record(slot: number): void {
    this.#current[slot] = (this.#current[slot] as number) + 1;
  }

  /** Ends the current window (a timer calls this every SLOT_LOAD_WINDOW_MS). */
  rotate(nowMs: number): void {
    this.#last = { counts: this.#current, ms: Math.max(1, nowMs - this.#currentStartMs) };
    this.#current = new Uint32Array(SLOT_COUNT);
    this.#currentStartMs = nowMs;
  }

  /** The last complete window's rates, each slot given to its owner in `owners`; undefined before the first window
   * ends. Made once per window and owners. */
  report(owners: SlotOwners, hotMax = HOT_SLOTS_MAX): SlotLoadReport | undefined {
    const last = this.#last;
    if (last === undefined) return undefined;
    const cached = this.#reported;
    if (cached?.window === last && cached.owners === owners && cached.hotMax === hotMax) return cached.report;
    const report = rates(last, owners, hotMax);
    this.#reported = { window: last, owners, hotMax, report };
    return report;
  }
}

/** A window's counts as rates (see SlotLoad.report). */
function rates(last: CountWindow, owners: SlotOwners, hotMax: number): SlotLoadReport {
  const perSecond = 1000 / last.ms;
  const shards: Record<string, number> = {};
  // The hottest slots, kept sorted (hottest first) in a small array: one pass over the slots.
  const hot: [number, number][] = [];
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    const count = last.counts[slot] as number;
    if (count === 0) continue;
    const shard = String(owners.shardOf(slot));
    shards[shard] = (shards[shard] ?? 0) + count * perSecond;
    if (hot.length === hotMax && count <= (hot[hot.length - 1] as [number, number])[1]) continue;
    let at = hot.length;
    while (at > 0 && (hot[at - 1] as [number, number])[1] < count) at--;
    hot.splice(at, 0, [slot, count]);
    if (hot.length > hotMax) hot.pop();
  }
  return { shards, hot: hot.map(([slot, count]) => [slot, count * perSecond] as const) };
}

/** The cluster's load: every member's reports summed (a member that did not report adds nothing); `slots` holds
 * the slots some member reported among its hottest. */
export function mergeSlotLoads(reports: Iterable<SlotLoadReport | undefined>): ShardLoads {
  const shards = new Map<number, number>();
  const slots = new Map<number, number>();
  for (const report of reports) {
    if (report === undefined) continue;
    for (const [id, rate] of Object.entries(report.shards))
      shards.set(Number(id), (shards.get(Number(id)) ?? 0) + rate);
    for (const [slot, rate] of report.hot) slots.set(slot, (slots.get(slot) ?? 0) + rate);
  }
  return { shards, slots };
}

/** Whether `value` is a SlotLoadReport as a member's info carries it (it comes from another process). */
export function isSlotLoadReport(value: unknown): value is SlotLoadReport {
  if (typeof value !== "object" || value === null) return false;
  const { shards, hot } = value as { shards?: unknown; hot?: unknown };
  if (typeof shards !== "object" || shards === null || !Array.isArray(hot)) return false;
  const rate = (n: unknown): boolean => typeof n === "number" && Number.isFinite(n) && n >= 0;
  return (
    Object.values(shards).every(rate) &&
    hot.every(
      (entry: unknown) =>
        Array.isArray(entry) &&
        entry.length === 2 &&
        Number.isInteger(entry[0]) &&
        (entry[0] as number) >= 0 &&
        (entry[0] as number) < SLOT_COUNT &&
        rate(entry[1]),
    )
  );
}
