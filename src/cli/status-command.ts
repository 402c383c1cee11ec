/**
 * @module `shoal status`: a table of the members, their roles, terms, commit/applied indexes and replication lag,
 * and, when writes are not served, why (a majority down, naming the members; or an election under way).
 * Asks the first endpoint that answers; every node reports the same lag column (the leader's view).
 */
import type { ClusterStatus, MemberStatus } from "../client/types.js";
import { clientFromFlags, ENDPOINT_FLAGS, ENDPOINT_HELP } from "./endpoint-flag.js";
import { parseCommand } from "./parse-flags.js";
import { colourEnabled, makeStyle, renderTable, type Style } from "./terminal.js";

const HELP = `Usage: shoal status [options]

Shows every member of the cluster: role, term, commit and applied index, and how many entries each
follower lags behind the leader. Exits 0 when a node answered, 1 when none could be reached.

${ENDPOINT_HELP}
  --json               print the cluster status as JSON instead of a table
  -h, --help           show this help
`;

const FLAGS = { ...ENDPOINT_FLAGS, json: { type: "boolean" }, help: { type: "boolean", short: "h" } } as const;

export async function runStatus(argv: string[]): Promise<number> {
  const { flags } = parseCommand("status", argv, FLAGS, { required: [] });
  if (flags.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const client = clientFromFlags(flags);
  const status = await client.cluster();
  if (flags.json === true) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(renderStatus(status, makeStyle(colourEnabled(process.stdout))));
  return 0;
}

export function renderStatus(status: ClusterStatus & { endpoint: string }, style: Style): string {
  const shardsLed = (status.shards ?? []).filter((shard) => shard.leader !== 0).length;
  const leader =
    (status.shards?.length ?? 0) > 1
      ? `${shardsLed} of ${status.shards?.length} shards led`
      : status.leader === 0
        ? style.yellow("no leader")
        : `leader ${style.bold(String(status.leader))}`;
  const reachable = status.members.filter((member) => member.reachable).length;
  const header =
    `Cluster of ${status.members.length} members, ${reachable} reachable; ${leader}, term ${status.term}` +
    `${status.revision === undefined ? "" : `, revision ${status.revision}`} ` +
    `(answered by node ${status.id} at ${status.endpoint})\n\n`;
  const members = [...status.members].sort((a, b) => a.id - b.id);
  // On several shards a member has a role per shard: the table says which it leads and holds, and its worst lag.
  const table =
    (status.shards?.length ?? 0) > 1
      ? renderTable(
          ["ID", "STATE", "LEADS", "HOLDS", "LAG", "HTTP", "PEER"],
          members.map((member) => shardedMemberRow(member, status, style)),
          new Set([4]),
          style,
        )
      : renderTable(
          ["ID", "ROLE", "TERM", "COMMIT", "APPLIED", "LAG", "HTTP", "PEER"],
          members.map((member) => memberRow(member, status, style)),
          new Set([2, 3, 4, 5]),
          style,
        );
  const note = quorumNote(status);
  const shards = (status.shards ?? []).map(
    (shard) =>
      `shard ${shard.id}: slots ${shard.slots.map(([first, last]) => `${first}-${last}`).join(",")}, ` +
      `leader ${shard.leader === 0 ? "none" : shard.leader}, replicas ${shard.replicas.join(",") || "none"}`,
  );
  return (
    header +
    table +
    (shards.length === 0 ? "" : `\n${shards.join("\n")}\n`) +
    (note === undefined ? "" : `\n${note.lost ? style.red(note.text) : style.yellow(note.text)}\n`) +
    problemNotes(status, style)
  );
}

/**
 * Why writes are not being served, when they are not: a majority of the members is down (no leader can be
 * elected or keep its lease until enough of them return — Raft §5.2, thesis §6.2), or an election is under way.
 * Counted from the answering node's view; a member is down when it did not answer that node in time.
 */
export function quorumNote(status: ClusterStatus): { lost: boolean; text: string } | undefined {
  if ((status.shards?.length ?? 0) > 1) return shardQuorumNote(status);
  const total = status.members.length;
  const majority = Math.floor(total / 2) + 1;
  const down = [...status.members].filter((member) => !member.reachable).sort((a, b) => a.id - b.id);
  if (total - down.length < majority) {
    const who = `node${down.length === 1 ? "" : "s"} ${listOf(down.map((member) => String(member.id)))}`;
    const missing = majority - (total - down.length);
    return {
      lost: true,
      text:
        `Quorum lost: ${down.length} of ${total} members are down (${who}). A leader needs ${majority} of ` +
        `${total} members reachable: writes and linearizable reads fail until ${missing} more ` +
        `${missing === 1 ? "is" : "are"} back.`,
    };
  }
  if (status.leader === 0) {
    return {
      lost: false,
      text: "No leader yet: an election is under way; writes and linearizable reads wait until one is elected.",
    };
  }
  return undefined;
}

/** quorumNote on a cluster of several shards: each shard is its own Raft group over its own replicas, so a shard
 * fails (its slots answer CLUSTERDOWN) when a majority of *its* replicas is down, and the others keep serving. */
function shardQuorumNote(status: ClusterStatus): { lost: boolean; text: string } | undefined {
  const down = new Set(status.members.filter((member) => !member.reachable).map((member) => member.id));
  const lost: string[] = [];
  for (const shard of status.shards ?? []) {
    const replicas = [...new Set([...(shard.leader === 0 ? [] : [shard.leader]), ...shard.replicas])].sort(
      (a, b) => a - b,
    );
    const gone = replicas.filter((id) => down.has(id));
    if (gone.length * 2 >= replicas.length && replicas.length > 0) {
      lost.push(`shard ${shard.id} (nodes ${listOf(gone.map(String))} of ${replicas.join(", ")} down)`);
    }
  }
  if (lost.length > 0) {
    const serving = (status.shards?.length ?? 0) - lost.length;
    return {
      lost: true,
      text:
        `Quorum lost in ${lost.length === 1 ? "a shard" : `${lost.length} shards`}: ${listOf(lost)}. Their slots ` +
        `answer CLUSTERDOWN until a majority of their replicas is back; ` +
        `${serving === 0 ? "no shard serves" : `the other ${serving} shard${serving === 1 ? "" : "s"} serve${serving === 1 ? "s" : ""}`}.`,
    };
  }
  if ((status.shards ?? []).some((shard) => shard.leader === 0)) {
    return {
      lost: false,
      text: "A shard has no leader yet: an election is under way; its slots wait until one is elected.",
    };
  }
  return undefined;
}

function listOf(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** Members the leader cannot catch up, and what the members find wrong with their peers. */
function problemNotes(status: ClusterStatus, style: Style): string {
  const lines: string[] = [];
  for (const member of status.members) {
    if (member.replication === "stalled") {
      lines.push(`Node ${member.id} is ${member.lag ?? "?"} entries behind and not catching up (stalled).`);
    }
    if (member.replication === "diverged") {
      lines.push(
        `Node ${member.id} holds entries the leader lacks and can never be caught up (diverged): the cluster ` +
          "lost committed data; see its log.",
      );
    }
  }
  for (const problem of status.problems ?? []) lines.push(problem);
  return lines.map((line) => `\n${style.red(line)}`).join("") + (lines.length > 0 ? "\n" : "");
}

function memberRow(member: MemberStatus, status: ClusterStatus, style: Style): string[] {
  const self = member.id === status.id ? style.dim(" (this)") : "";
  return [
    String(member.id),
    paintRole(member.role, style) + self,
    optional(member.term),
    optional(member.commitIndex),
    optional(member.appliedIndex),
    // A member that does not answer has no lag to show: a leader elected since it died counts its whole log.
    member.id === status.leader ? "-" : paintLag(member.reachable ? member.lag : undefined, member.replication, style),
    member.http || "-",
    member.peer || "-",
  ];
}

/** A member of a sharded cluster: up or not, the shards it leads and holds, the most entries it is behind in a
 * shard it follows (its leader's view; "?" when that leader did not say). */
function shardedMemberRow(member: MemberStatus, status: ClusterStatus, style: Style): string[] {
  const shards = status.shards ?? [];
  const leads = shards.filter((shard) => shard.leader === member.id).map((shard) => shard.id);
  const follows = shards.filter((shard) => shard.replicas.includes(member.id));
  const holds = [...leads, ...follows.map((shard) => shard.id)].sort((a, b) => a - b);
  const lags = follows.map((shard) => (shard as { lag?: Readonly<Record<string, number>> }).lag?.[String(member.id)]);
  const known = lags.filter((lag): lag is number => lag !== undefined);
  const worst = known.length === 0 ? undefined : Math.max(...known);
  const lag =
    follows.length === 0
      ? "-"
      : member.reachable && known.length === lags.length
        ? paintLag(worst, undefined, style)
        : worst === undefined
          ? "?"
          : `${paintLag(worst, undefined, style)} · ?`;
  return [
    String(member.id),
    (member.reachable ? "up" : style.red("unreachable")) + (member.id === status.id ? style.dim(" (this)") : ""),
    leads.length === 0 ? "-" : style.green(leads.join(",")),
    holds.join(",") || "-",
    lag,
    member.http || "-",
    member.peer || "-",
  ];
}

function paintRole(role: string, style: Style): string {
  if (role === "leader") return style.green(style.bold(role));
  if (role === "unreachable") return style.red(role);
  if (role === "candidate" || role === "preCandidate") return style.yellow(role);
  return role;
}

function paintLag(lag: number | undefined, replication: string | undefined, style: Style): string {
  if (replication === "stalled" || replication === "diverged") return style.red(`${lag ?? "?"} ${replication}`);
  if (lag === undefined) return "?";
  if (lag === 0) return "0";
  return lag > 100 ? style.red(String(lag)) : style.yellow(String(lag));
}

function optional(value: number | undefined): string {
  return value === undefined ? "-" : String(value);
}
