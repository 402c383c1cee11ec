/**
 * @module `shoal nodes` (every member and its share), `shoal node remove ID` (drain and remove a member: waits
 * until it is gone, exit 0) and `shoal rebalance [--dry-run | --pause | --resume]` (prints the plan, and unless
 * `--dry-run` follows it with a progress bar until the cluster is balanced, exit 0). Each waits at most
 * `--wait-ms` (exit 1 then, saying where it stands).
 */
import type { AdminNodes, AdminRebalance } from "../client/types.js";
import type { RebalanceStep } from "../slots/rebalance-plan.js";
import { CliError } from "./cli-error.js";
import { clientFromFlags, ENDPOINT_FLAGS, ENDPOINT_HELP } from "./endpoint-flag.js";
import { integerFlag, parseCommand } from "./parse-flags.js";
import { clearLine, redraw, renderProgressBar } from "./progress-bar.js";
import { colourEnabled, makeStyle, renderTable, type Style } from "./terminal.js";

const NODES_HELP = `Usage: shoal nodes [options]
       shoal node remove ID [options]

"nodes": every member, whether it is being drained, reachable, the replicas it holds, the shards it leads and
its place in the meta group. "node remove": drains member ID (its replicas move to the others, one at a time)
and removes it from the cluster; the node then stops. Waits until it is gone (exit 0) or --wait-ms passes
(exit 1). Its id is never given again.

${ENDPOINT_HELP}
  --no-wait            (remove) return once the removal is recorded
  --wait-ms MS         (remove) how long to wait (default 3600000)
  --json               (nodes) print JSON instead of a table
  -h, --help           show this help
`;

const REBALANCE_HELP = `Usage: shoal rebalance [options]

Evens out replicas and shard leaders over the members, and slots over the shards by their key counts (the
rebalancer on the meta group's leader does it, one replica move and one run of slots at a time; it also runs
by itself when a node joins, unless paused). Prints the plan (slot steps show when asked of the meta group's
leader, which reads the key counts), resumes the rebalancer if paused, and follows it until the cluster is
balanced (exit 0) or --wait-ms passes (exit 1).

${ENDPOINT_HELP}
  --dry-run            print the plan and exit (0 when balanced, 1 when there is work to do)
  --pause              pause the rebalancer (drains of members being removed go on) and exit
  --resume             resume it and exit
  --wait-ms MS         how long to follow it (default 3600000)
  -h, --help           show this help
`;

const FLAGS = {
  ...ENDPOINT_FLAGS,
  "no-wait": { type: "boolean" },
  "wait-ms": { type: "string" },
  "dry-run": { type: "boolean" },
  pause: { type: "boolean" },
  resume: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** How often a waiting command looks again. */
const POLL_MS = 500;

export async function runNodes(argv: string[]): Promise<number> {
  const { flags } = parseCommand("nodes", argv, FLAGS, { required: [], optional: [] });
  if (flags.help === true) {
    process.stdout.write(NODES_HELP);
    return 0;
  }
  const view = await clientFromFlags(flags).nodes();
  const style = makeStyle(colourEnabled(process.stdout));
  process.stdout.write(flags.json === true ? `${JSON.stringify(view, null, 2)}\n` : renderNodes(view, style));
  return 0;
}

export async function runNode(argv: string[]): Promise<number> {
  const { flags, args } = parseCommand("node", argv, FLAGS, { required: [], optional: ["subcommand", "id"] });
  if (flags.help === true || args.subcommand === undefined) {
    process.stdout.write(NODES_HELP);
    return flags.help === true ? 0 : 1;
  }
  if (args.subcommand !== "remove")
    throw new CliError(`Unknown subcommand "${args.subcommand}" (try: shoal node --help)`);
  if (args.id === undefined || !/^[1-9][0-9]{0,6}$/.test(args.id)) {
    throw new CliError(`node remove needs a member id (1, 2, …)${args.id === undefined ? "" : `, not "${args.id}"`}`);
  }
  const id = Number(args.id);
  const waitMs = integerFlag(flags, "wait-ms", 3_600_000, 0, 86_400_000);
  const client = clientFromFlags(flags);
  const recorded = await client.removeNode(id);
  const total = recorded.nodes.find((node) => node.id === id)?.replicas ?? 0;
  process.stdout.write(`Removing node ${id}: moving its ${total} replica${total === 1 ? "" : "s"} away first\n`);
  if (flags["no-wait"] === true) return 0;
  const progress = progressLine(total);
  const streamed = await bytesStreamed(recorded);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const now = await client.nodes().catch(() => undefined);
    const node = now?.nodes.find((each) => each.id === id);
    if (now !== undefined && node === undefined) {
      progress.done();
      process.stdout.write(`Done: node ${id} is removed (members: ${now.nodes.map((each) => each.id).join(", ")})\n`);
      return 0;
    }
    const left = node?.replicas ?? total;
    const bytes = now === undefined ? "" : `, ${formatBytes((await bytesStreamed(now)) - streamed)} streamed`;
    progress.draw(total - left, `${total - left}/${total} replicas moved off node ${id}${bytes}`);
    if (Date.now() >= deadline) {
      progress.done();
      process.stderr.write(`shoal: node ${id} still holds ${left} replicas after ${waitMs} ms\n`);
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export async function runRebalance(argv: string[]): Promise<number> {
  const { flags } = parseCommand("rebalance", argv, FLAGS, { required: [], optional: [] });
  if (flags.help === true) {
    process.stdout.write(REBALANCE_HELP);
    return 0;
  }
  const chosen = ["dry-run", "pause", "resume"].filter((name) => flags[name as keyof typeof flags] === true);
  if (chosen.length > 1) throw new CliError(`--${chosen.join(" and --")} exclude each other`);
  const client = clientFromFlags(flags);
  if (flags.pause === true || flags.resume === true) {
    const view = await client.pauseRebalance(flags.pause === true);
    process.stdout.write(`The rebalancer is ${view.paused ? "paused (drains go on)" : "running"}\n`);
    return 0;
  }
  const before = await client.rebalance();
  process.stdout.write(renderPlan(before));
  if (flags["dry-run"] === true) return before.plan.length === 0 && before.state !== "moving" ? 0 : 1;
  if (before.paused) await client.pauseRebalance(false);
  const waitMs = integerFlag(flags, "wait-ms", 3_600_000, 0, 86_400_000);
  const total = Math.max(1, before.plan.length);
  const progress = progressLine(total);
  const members = await client.nodes().catch(() => undefined);
  const streamed = members === undefined ? 0 : await bytesStreamed(members);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const now = await client.rebalance().catch(() => undefined);
    if (now !== undefined && now.state === "balanced") {
      progress.done();
      process.stdout.write("Balanced\n");
      return 0;
    }
    if (now?.state === "blocked") {
      progress.done();
      process.stderr.write(`shoal: the rebalancer cannot go on: ${now.reason}\n`);
      return 1;
    }
    const left = now === undefined ? total : now.plan.length;
    const doneSteps = Math.max(0, total - left);
    const bytes = members === undefined ? "" : `, ${formatBytes((await bytesStreamed(members)) - streamed)} streamed`;
    const moving = now?.movingShard === undefined ? "" : `, moving shard ${now.movingShard}`;
    progress.draw(doneSteps, `${doneSteps}/${total} steps${moving}${bytes}`);
    if (Date.now() >= deadline) {
      progress.done();
      process.stderr.write(`shoal: ${left} rebalance steps left after ${waitMs} ms\n`);
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Snapshot bytes the members have sent to replicas catching up (each one's /metrics,
 * shoal_snapshot_bytes_sent_total), summed; a member that does not answer counts 0. */
async function bytesStreamed(view: AdminNodes): Promise<number> {
  const sent = await Promise.all(
    view.nodes.map(async (node) => {
      if (node.http === "") return 0;
      try {
        const response = await fetch(`http://${node.http}/metrics`, { signal: AbortSignal.timeout(2_000) });
        const text = await response.text();
        return Number(/^shoal_snapshot_bytes_sent_total(?:\{[^}]*\})? ([0-9.e+]+)$/m.exec(text)?.[1] ?? 0);
      } catch {
        return 0;
      }
    }),
  );
  return sent.reduce((sum, bytes) => sum + bytes, 0);
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** A progress bar with an ETA on a terminal; one line per change of the count otherwise (slots-command.ts too). */
export function progressLine(total: number): { draw(done: number, label: string): void; done(): void } {
  const started = Date.now();
  let lastDone = -1;
  const tty = process.stdout.isTTY === true;
  return {
    draw(done, label) {
      const elapsed = (Date.now() - started) / 1000;
      const eta = done > 0 && done < total ? `, ETA ${Math.ceil((elapsed / done) * (total - done))} s` : "";
      if (tty) {
        // A pseudo-terminal with no size set reports 0 columns: draw for 80 then.
        redraw(process.stdout, renderProgressBar(done / total, `${label}${eta}`, process.stdout.columns || 80));
      } else if (done !== lastDone) {
        process.stdout.write(`${label}${eta}\n`); // a log or a pipe: a line per step, not per poll
      }
      lastDone = done;
    },
    done() {
      if (tty) clearLine(process.stdout);
    },
  };
}

export function describeStep(step: RebalanceStep): string {
  switch (step.kind) {
    case "moveReplica":
      return `move shard ${step.shard}'s replica from node ${step.from} to node ${step.to}`;
    case "setLeader":
      return `let node ${step.to} lead shard ${step.shard}`;
    case "removeMember":
      return `remove node ${step.member}`;
    case "moveSlots":
      return `move ${step.slots.length} slot${step.slots.length === 1 ? "" : "s"} (about ${step.keys} keys${step.load === undefined ? "" : `, ${step.load} keys/s of load`}) from shard ${step.from} to shard ${step.to}`;
  }
}

export function renderPlan(view: AdminRebalance): string {
  const head = `Rebalancer ${view.paused ? "paused" : "running"} (map epoch ${view.epoch})`;
  const moving =
    view.movingSlots !== undefined
      ? `; moving ${view.movingSlots} slot${view.movingSlots === 1 ? "" : "s"}`
      : view.movingShard === undefined
        ? ""
        : `; moving a replica of shard ${view.movingShard}`;
  if (view.plan.length === 0) return `${head}${moving}: balanced\n`;
  const lines = view.plan.map((step, i) => `  ${i + 1}. ${describeStep(step)}`);
  return `${head}${moving}; ${view.plan.length} step${view.plan.length === 1 ? "" : "s"} to balanced:\n${lines.join("\n")}\n${
    view.reason === undefined ? "" : `blocked: ${view.reason}\n`
  }`;
}

export function renderNodes(view: AdminNodes, style: Style): string {
  const rows = view.nodes.map((node) => [
    String(node.id),
    node.state === "draining" ? style.yellow("draining") : "active",
    node.live ? "yes" : style.red("no"),
    String(node.replicas),
    String(node.leads),
    node.meta,
    node.peer,
    node.http,
  ]);
  const table = renderTable(
    ["NODE", "STATE", "LIVE", "REPLICAS", "LEADS", "META", "PEER", "HTTP"],
    rows,
    new Set([0, 3, 4]),
    style,
  );
  const removed = view.removed.length === 0 ? "" : `Removed: ${view.removed.join(", ")}\n`;
  return `Cluster map epoch ${view.epoch}\n\n${table}${removed}`;
}
