/**
 * @module `shoal slots`: the hash slots moving between shards now (GET /v1/admin/slots), and each shard's slots
 * (GET /v1/admin/shards); `shoal slots move SLOTS --to SHARD` records a move (POST /v1/admin/slots/move) and,
 * unless `--no-wait`, follows it with a progress bar until none of SLOTS is moving (exit 0) or `--wait-ms` passes
 * (exit 1, saying how many are left). The bar counts the slots done of those asked for (ETA from the rate so far)
 * and shows the keys and bytes copied meanwhile: every member's slot mover counters (each member's own GET
 * /v1/admin/slots, the HTTP address `GET /v1/admin/nodes` gives), summed from where they stood when the move began.
 * `shoal slots split SHARD` and `shoal slots merge SHARD --into OTHER` record a split or a merge (POST
 * /v1/admin/shards/{id}/split|merge) and follow the slots it moves the same way.
 */

import { ShoalClient } from "../client/shoal-client.js";
import type { AdminNodes, AdminShards, AdminSlots } from "../client/types.js";
import { CliError } from "./cli-error.js";
import { clientFromFlags, ENDPOINT_FLAGS, ENDPOINT_HELP } from "./endpoint-flag.js";
import { formatBytes, progressLine } from "./nodes-command.js";
import { integerFlag, parseCommand } from "./parse-flags.js";
import { colourEnabled, formatCount, makeStyle, renderTable, type Style } from "./terminal.js";

/** The hash slots: 0 to SLOT_COUNT - 1. */
const SLOT_COUNT = 16384;

const HELP = `Usage: shoal slots [options]
       shoal slots move SLOTS --to SHARD [options]
       shoal slots split SHARD [options]
       shoal slots merge SHARD --into OTHER [options]

Without a subcommand: the hash slots moving between shards now (from → to), and each shard's slots and slot
count. "move" moves SLOTS to shard SHARD, online: the leader of each shard giving slots up moves them in
batches (a slot's keys are read-only while they are copied; a write waits meanwhile). SLOTS is a list of slots
and ranges, such as 5461-6000,7000,7005-7010 (0-16383). Slots already in SHARD are left out; every shard must
keep a slot (merge one instead). "split" creates a new shard on SHARD's members and moves the upper part of
SHARD's slots to it (about half of its keys); "merge" moves every slot of SHARD to OTHER, then the cluster drops
SHARD (its id is never given again). Each follows its move (slots done, keys and bytes copied, ETA) until none
of its slots is moving (exit 0), or until --wait-ms passes (exit 1).

${ENDPOINT_HELP}
  --to SHARD           (move) the shard taking the slots
  --into OTHER         (merge) the shard taking SHARD's slots
  --no-wait            (move, split, merge) return once the move is recorded
  --wait-ms MS         (move, split, merge) how long to follow it (default 3600000)
  --json               (without move) print JSON instead of text
  -h, --help           show this help
`;

const FLAGS = {
  ...ENDPOINT_FLAGS,
  to: { type: "string" },
  into: { type: "string" },
  "no-wait": { type: "boolean" },
  "wait-ms": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** How often a waiting move looks again. */
const POLL_MS = 500;

type SlotMove = AdminSlots["moving"][number];
type MoverCounters = AdminSlots["mover"];

export async function runSlots(argv: string[]): Promise<number> {
  const { flags, args } = parseCommand("slots", argv, FLAGS, { required: [], optional: ["subcommand", "slots"] });
  if (flags.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  if (args.subcommand === "split" || args.subcommand === "merge") return runReshard(args.subcommand, args.slots, flags);
  if (args.subcommand === undefined) {
    const moveOnly = ["to", "into", "no-wait", "wait-ms"].filter((name) => flags[name] !== undefined);
    if (moveOnly.length > 0) throw new CliError(`--${moveOnly[0]} goes with "shoal slots move"`);
    const client = clientFromFlags(flags);
    const [slots, shards] = await Promise.all([client.slots(), client.shards()]);
    process.stdout.write(
      flags.json === true
        ? `${JSON.stringify(slotsJson(slots, shards), null, 2)}\n`
        : renderSlots(slots, shards, makeStyle(colourEnabled(process.stdout))),
    );
    return 0;
  }
  if (args.subcommand !== "move") throw new CliError(`Unknown subcommand "${args.subcommand}"`);
  if (args.slots === undefined) throw new CliError("slots move needs SLOTS (such as 5461-6000,7000)");
  const slots = parseSlotList(args.slots);
  if (flags.to === undefined) throw new CliError("slots move needs --to SHARD");
  const to = integerFlag(flags, "to", 0, 1, 65_535);
  if (flags.json === true) throw new CliError(`--json goes with "shoal slots", not "slots move"`);
  const waitMs = integerFlag(flags, "wait-ms", 3_600_000, 0, 86_400_000);
  const client = clientFromFlags(flags);
  // The slots already in shard `to` are left out by the node: count only the others.
  const before = await client.shards();
  const already = slotsIn(before, to, slots);
  // The members' mover counters before the move starts: what they count from then on is this move's (and any other
  // running meanwhile).
  const wait = flags["no-wait"] !== true;
  const movers = wait ? moverClients(await client.nodes().catch(() => undefined)) : [];
  const tally = new MoverTally();
  await sampleMovers(movers, tally);
  const recorded = await client.moveSlots(slots, to);
  const total = slots.length - already;
  if (total === 0) {
    process.stdout.write(
      `Nothing to move: shard ${to} holds ${slots.length === 1 ? "that slot" : `those ${plural(slots.length, "slot")}`} already\n`,
    );
    return 0;
  }
  const left = already === 0 ? "" : ` (${formatCount(already)} already there, left out)`;
  process.stdout.write(`Moving ${plural(total, "slot")} to shard ${to}${left}, map epoch ${recorded.epoch}\n`);
  if (!wait) return 0;
  return follow(client, { asked: new Set(slots), total, to, epoch: recorded.epoch }, movers, tally, waitMs);
}

/** `shoal slots split SHARD` / `shoal slots merge SHARD --into OTHER`: records it and follows its slots. */
async function runReshard(
  what: "split" | "merge",
  shardText: string | undefined,
  flags: { readonly [name: string]: string | boolean | undefined },
): Promise<number> {
  if (shardText === undefined) throw new CliError(`slots ${what} needs SHARD (a shard number: 1, 2, …)`);
  if (!/^[1-9][0-9]{0,4}$/.test(shardText)) {
    throw new CliError(`Cannot parse SHARD "${shardText}": expected a shard number (1, 2, …)`);
  }
  if (flags.to !== undefined) throw new CliError(`--to goes with "shoal slots move"`);
  if (flags.json === true) throw new CliError(`--json goes with "shoal slots", not "slots ${what}"`);
  if (what === "split" && flags.into !== undefined) throw new CliError(`--into goes with "shoal slots merge"`);
  if (what === "merge" && flags.into === undefined) throw new CliError("slots merge needs --into OTHER");
  const shard = Number(shardText);
  const into = integerFlag(flags, "into", 0, 1, 65_535);
  const waitMs = integerFlag(flags, "wait-ms", 3_600_000, 0, 86_400_000);
  const client = clientFromFlags(flags);
  const wait = flags["no-wait"] !== true;
  const movers = wait ? moverClients(await client.nodes().catch(() => undefined)) : [];
  const tally = new MoverTally();
  await sampleMovers(movers, tally);
  const recorded: AdminSlots & { readonly shard?: number } =
    what === "split" ? await client.splitShard(shard) : await client.mergeShard(shard, into);
  const to = what === "split" ? (recorded.shard ?? 0) : into;
  const asked = new Set(recorded.moving.filter((m) => m.from === shard && m.to === to).map((m) => m.slot));
  process.stdout.write(
    what === "split"
      ? `Splitting shard ${shard}: new shard ${to} takes ${plural(asked.size, "slot")}, map epoch ${recorded.epoch}
`
      : `Merging shard ${shard} into shard ${into}: ${plural(asked.size, "slot")} to move, map epoch ${recorded.epoch}
`,
  );
  if (!wait || asked.size === 0) return 0;
  return follow(client, { asked, total: asked.size, to, epoch: recorded.epoch }, movers, tally, waitMs);
}

/** Follows the move until none of `asked` is moving (0) or `waitMs` passes (1). */
async function follow(
  client: ShoalClient,
  move: { asked: ReadonlySet<number>; total: number; to: number; epoch: number },
  movers: readonly { id: number; client: ShoalClient }[],
  tally: MoverTally,
  waitMs: number,
): Promise<number> {
  const { asked, total, to, epoch } = move;
  const progress = progressLine(total);
  const deadline = Date.now() + waitMs;
  let left = total;
  for (;;) {
    const now = await client.slots().catch(() => undefined);
    // A node behind the map that recorded the move does not list it yet: not a sign that it is done.
    if (now !== undefined && now.epoch >= epoch) {
      left = Math.min(total, now.moving.filter((move) => asked.has(move.slot)).length);
    }
    await sampleMovers(movers, tally);
    if (now !== undefined && now.epoch >= epoch && left === 0) {
      progress.done();
      const holder = (await client.shards().catch(() => undefined))?.shards.find((shard) => shard.id === to);
      const holds = holder === undefined ? "" : `; shard ${to} holds ${plural(slotCount(holder.slots), "slot")}`;
      process.stdout.write(`Done: ${plural(total, "slot")} moved to shard ${to} (${copied(tally.total())})${holds}\n`);
      return 0;
    }
    progress.draw(total - left, `${total - left}/${total} slots, ${copied(tally.total())}`);
    if (Date.now() >= deadline) {
      progress.done();
      process.stderr.write(
        `shoal: ${formatCount(left)} of ${plural(total, "slot")} still moving to shard ${to} after ${waitMs} ms\n`,
      );
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** A client for each member's own HTTP address (the mover counters are the answering node's). */
function moverClients(view: AdminNodes | undefined): { id: number; client: ShoalClient }[] {
  return (view?.nodes ?? [])
    .filter((node) => node.http !== "")
    .map((node) => ({
      id: node.id,
      client: new ShoalClient({ endpoints: [node.http], requestTimeoutMs: 2_000, retryBudgetMs: 0 }),
    }));
}

async function sampleMovers(movers: readonly { id: number; client: ShoalClient }[], tally: MoverTally) {
  const answers = await Promise.all(movers.map(({ client }) => client.slots().catch(() => undefined)));
  movers.forEach(({ id }, i) => {
    tally.record(id, answers[i]?.mover);
  });
}

function copied(counters: MoverCounters): string {
  return `${plural(counters.keysMoved, "key")}, ${formatBytes(counters.bytesMoved)} copied`;
}

/**
 * What every member's slot mover did since the tally began: each member's counters less their first reading. A
 * member that does not answer keeps what it was last seen to have done; one whose counters went back (it restarted)
 * counts on from zero, on top of what it had done before. A member first heard from late counts from then on.
 */
export class MoverTally {
  readonly #base = new Map<number, MoverCounters>();
  readonly #done = new Map<number, MoverCounters>();
  /** What a member had done before it restarted. */
  readonly #carried = new Map<number, MoverCounters>();

  record(member: number, counters: MoverCounters | undefined): void {
    if (counters === undefined) return;
    const base = this.#base.get(member);
    if (base === undefined) {
      this.#base.set(member, counters);
      return;
    }
    if (
      counters.slotsMoved < base.slotsMoved ||
      counters.keysMoved < base.keysMoved ||
      counters.bytesMoved < base.bytesMoved
    ) {
      this.#carried.set(member, add(this.#carried.get(member), this.#done.get(member)));
      this.#base.set(member, ZERO);
    }
    const from = this.#base.get(member) ?? ZERO;
    this.#done.set(member, {
      slotsMoved: counters.slotsMoved - from.slotsMoved,
      keysMoved: counters.keysMoved - from.keysMoved,
      bytesMoved: counters.bytesMoved - from.bytesMoved,
    });
  }

  total(): MoverCounters {
    let sum: MoverCounters = ZERO;
    for (const counters of [...this.#done.values(), ...this.#carried.values()]) sum = add(sum, counters);
    return sum;
  }
}

const ZERO: MoverCounters = { slotsMoved: 0, keysMoved: 0, bytesMoved: 0 };

function add(a: MoverCounters | undefined, b: MoverCounters | undefined): MoverCounters {
  return {
    slotsMoved: (a?.slotsMoved ?? 0) + (b?.slotsMoved ?? 0),
    keysMoved: (a?.keysMoved ?? 0) + (b?.keysMoved ?? 0),
    bytesMoved: (a?.bytesMoved ?? 0) + (b?.bytesMoved ?? 0),
  };
}

/**
 * `5461-6000,7000,7005-7010` → the slots, ascending. Strict: each item a slot (0-16383) or a range FIRST-LAST with
 * FIRST <= LAST, digits only, no empty item, no slot listed twice (so at most 16384). Throws a CliError (exit 2).
 */
export function parseSlotList(text: string): number[] {
  const seen = new Uint8Array(SLOT_COUNT);
  let count = 0;
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") throw badSlots(text, "an empty item (expected slots and ranges such as 5461-6000,7000)");
    const match = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(item);
    if (match === null) throw badSlots(text, `"${item}" is not a slot or a range FIRST-LAST of slots 0-16383`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    const beyond = [first, last].find((slot) => slot >= SLOT_COUNT);
    if (beyond !== undefined) throw badSlots(text, `there is no slot ${beyond} (slots are 0-16383)`);
    if (first > last) throw badSlots(text, `the range ${item} runs backwards`);
    for (let slot = first; slot <= last; slot++) {
      if (seen[slot] === 1) throw badSlots(text, `slot ${slot} is listed twice`);
      seen[slot] = 1;
      count++;
    }
  }
  const slots: number[] = [];
  for (let slot = 0; slot < SLOT_COUNT && slots.length < count; slot++) if (seen[slot] === 1) slots.push(slot);
  return slots;
}

function badSlots(text: string, why: string): CliError {
  const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return new CliError(`Cannot parse SLOTS "${shown}": ${why}`);
}

/** Slots → compact ranges, ascending: [5461, 5462, 5463, 7000] → "5461-5463,7000". */
export function formatSlotRanges(slots: readonly number[]): string {
  const sorted = [...new Set(slots)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    const first = sorted[i] ?? 0;
    let last = first;
    while (sorted[i + 1] === last + 1) {
      last++;
      i++;
    }
    i++;
    parts.push(first === last ? String(first) : `${first}-${last}`);
  }
  return parts.join(",");
}

/** The moves grouped by source and destination, in the order of each pair's first slot in the list. */
export function groupMoves(moving: readonly SlotMove[]): { from: number; to: number; slots: number[] }[] {
  const groups = new Map<string, { from: number; to: number; slots: number[] }>();
  for (const { slot, from, to } of moving) {
    const key = `${from}>${to}`;
    const group = groups.get(key) ?? { from, to, slots: [] };
    group.slots.push(slot);
    groups.set(key, group);
  }
  return [...groups.values()];
}

export function renderSlots(view: AdminSlots, shards: AdminShards, style: Style): string {
  const moves = groupMoves(view.moving);
  const moving =
    moves.length === 0
      ? "No slot is moving.\n"
      : `${style.yellow(`Moving ${plural(view.moving.length, "slot")}`)}:\n${moves
          .map(
            (move) =>
              `  ${formatSlotRanges(move.slots)}: shard ${move.from} → shard ${move.to} (${plural(move.slots.length, "slot")})\n`,
          )
          .join("")}`;
  const rows = shards.shards.map((shard) => [
    String(shard.id),
    shard.slots.map(([first, last]) => (first === last ? String(first) : `${first}-${last}`)).join(",") || "none",
    formatCount(slotCount(shard.slots)),
  ]);
  const table = renderTable(["SHARD", "SLOTS", "COUNT"], rows, new Set([0, 2]), style);
  return `Cluster map epoch ${view.epoch}\n\n${moving}\n${table}`;
}

/** `shoal slots --json`: the slots moving, the answering node's mover counters, and each shard's slots. */
function slotsJson(view: AdminSlots, shards: AdminShards) {
  return {
    ...view,
    shards: shards.shards.map((shard) => ({ id: shard.id, slots: shard.slots, count: slotCount(shard.slots) })),
  };
}

function slotCount(ranges: readonly (readonly [number, number])[]): number {
  return ranges.reduce((sum, [first, last]) => sum + last - first + 1, 0);
}

/** How many of `slots` shard `id` holds in `view`. */
function slotsIn(view: AdminShards, id: number, slots: readonly number[]): number {
  const ranges = view.shards.find((shard) => shard.id === id)?.slots ?? [];
  return slots.filter((slot) => ranges.some(([first, last]) => slot >= first && slot <= last)).length;
}

function plural(count: number, noun: string): string {
  return `${formatCount(count)} ${noun}${count === 1 ? "" : "s"}`;
}
