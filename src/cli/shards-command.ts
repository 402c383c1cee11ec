/**
 * @module `shoal shards`: every shard's slots, leader and replicas as the cluster map says, with moves in progress;
 * `shoal shards move SHARD --from A --to B` moves one replica (POST /v1/admin/shards/{id}/move) and, unless
 * `--no-wait`, follows it until the shard lists no member leaving (exit 0) or `--wait-ms` passes (exit 1).
 */
import type { AdminShard, AdminShards } from "../client/types.js";
import { CliError } from "./cli-error.js";
import { clientFromFlags, ENDPOINT_FLAGS, ENDPOINT_HELP } from "./endpoint-flag.js";
import { integerFlag, parseCommand } from "./parse-flags.js";
import { colourEnabled, makeStyle, renderTable, type Style } from "./terminal.js";

const HELP = `Usage: shoal shards [options]
       shoal shards move SHARD --from NODE --to NODE [options]

Without a subcommand: every shard's slots, leader and replicas as the cluster map says, and the replicas
being moved. "move" moves shard SHARD's replica from node --from to node --to, online: the new node catches
up as a learner, is promoted, and the old one is removed and deletes its copy. It waits until the move is
done (exit 0), or until --wait-ms passes (exit 1).

${ENDPOINT_HELP}
  --from NODE          (move) the node giving up its replica
  --to NODE            (move) the node taking it
  --no-wait            (move) return once the move is recorded
  --wait-ms MS         (move) how long to wait for the move to finish (default 600000)
  --json               print JSON instead of a table
  -h, --help           show this help
`;

const FLAGS = {
  ...ENDPOINT_FLAGS,
  from: { type: "string" },
  to: { type: "string" },
  "no-wait": { type: "boolean" },
  "wait-ms": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** How often a waiting move looks at the shards. */
const POLL_MS = 500;

export async function runShards(argv: string[]): Promise<number> {
  const { flags, args } = parseCommand("shards", argv, FLAGS, { required: [], optional: ["subcommand", "shard"] });
  if (flags.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const client = clientFromFlags(flags);
  const style = makeStyle(colourEnabled(process.stdout));
  if (args.subcommand === undefined) {
    const shards = await client.shards();
    process.stdout.write(flags.json === true ? `${JSON.stringify(shards, null, 2)}\n` : renderShards(shards, style));
    return 0;
  }
  if (args.subcommand !== "move")
    throw new CliError(`Unknown subcommand "${args.subcommand}" (try: shoal shards --help)`);
  if (args.shard === undefined) throw new CliError("Missing SHARD (try: shoal shards --help)");
  if (!/^[1-9][0-9]{0,8}$/.test(args.shard)) {
    throw new CliError(`Cannot parse SHARD "${args.shard}": expected a shard number (1, 2, …)`);
  }
  const shard = Number(args.shard);
  const from = integerFlag(flags, "from", 0, 1, 1_000_000);
  const to = integerFlag(flags, "to", 0, 1, 1_000_000);
  if (from === 0 || to === 0) throw new CliError("shards move needs --from NODE and --to NODE");
  const waitMs = integerFlag(flags, "wait-ms", 600_000, 0, 86_400_000);
  const recorded = await client.moveReplica(shard, from, to);
  process.stdout.write(
    `Moving shard ${shard}'s replica from node ${from} to node ${to} (map epoch ${recorded.epoch})\n`,
  );
  if (flags["no-wait"] === true) return 0;
  const deadline = Date.now() + waitMs;
  for (;;) {
    const now = (await client.shards()).shards.find((each) => each.id === shard);
    if (now !== undefined && now.leaving.length === 0) {
      process.stdout.write(`Done: shard ${shard} is held by ${now.replicas.join(", ")}\n`);
      return 0;
    }
    if (Date.now() >= deadline) {
      process.stderr.write(`shoal: shard ${shard}'s move is still running after ${waitMs} ms (${progressOf(now)})\n`);
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Where a move stands, from a shard's view: which members its group counts. */
function progressOf(shard: AdminShard | undefined): string {
  if (shard?.voters === undefined) return "waiting for its group";
  const learners = shard.learners ?? [];
  return `voters ${shard.voters.join(", ")}${learners.length === 0 ? "" : `, learners ${learners.join(", ")}`}`;
}

export function renderShards(view: AdminShards, style: Style): string {
  const rows = view.shards.map((shard) => [
    String(shard.id),
    shard.slots.map(([first, last]) => (first === last ? String(first) : `${first}-${last}`)).join(","),
    shard.leader === 0 ? style.yellow("none") : String(shard.leader),
    shard.replicas.join(","),
    shard.leaving.length === 0 ? "" : style.yellow(`${shard.leaving.join(",")} leaving (${progressOf(shard)})`),
  ]);
  const table = renderTable(["SHARD", "SLOTS", "LEADER", "REPLICAS", "MOVING"], rows, new Set([0]), style);
  return `Cluster map epoch ${view.epoch}\n\n${table}`;
}
