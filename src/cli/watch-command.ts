/**
 * @module `shoal watch`: prints changes line by line as they happen, until Ctrl-C (or `--count` events).
 * Survives a node's death: the client reconnects to another member and resumes from the last revision printed,
 * saying so on stderr.
 */
import type { WatchEvent } from "../client/types.js";
import { clientFromFlags, ENDPOINT_FLAGS, ENDPOINT_HELP } from "./endpoint-flag.js";
import { integerFlag, parseCommand } from "./parse-flags.js";
import { colourEnabled, makeStyle, type Style } from "./terminal.js";

const HELP = `Usage: shoal watch [options]

Prints every put and delete as it happens, one per line, until Ctrl-C:
  <revision> PUT <key> <value>
  <revision> DELETE <key>
Over several shards each shard numbers its own revisions, and a line starts <shard>:<revision>.

${ENDPOINT_HELP}
  --prefix P           only keys starting with P (default: every key)
  --from REV           first replay the changes since revision REV (inclusive; over several shards,
                       each shard's own revision REV: --from 1 replays everything held)
  --count N            stop after N events
  --json               print each event as a JSON object
  -h, --help           show this help
`;

const FLAGS = {
  ...ENDPOINT_FLAGS,
  prefix: { type: "string" },
  from: { type: "string" },
  count: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function runWatch(argv: string[]): Promise<number> {
  const { flags } = parseCommand("watch", argv, FLAGS, { required: [] });
  if (flags.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const fromRevision = flags.from === undefined ? undefined : integerFlag(flags, "from", 1, 1);
  const count = flags.count === undefined ? Number.POSITIVE_INFINITY : integerFlag(flags, "count", 1, 1);
  const client = clientFromFlags(flags);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.stdout.on("error", onSignal); // EPIPE: the reader went away (shoal watch | head)
  const style = makeStyle(colourEnabled(process.stdout));
  const errStyle = makeStyle(colourEnabled(process.stderr));
  let seen = 0;
  try {
    const events = client.watch({
      ...(typeof flags.prefix === "string" ? { prefix: flags.prefix } : {}),
      ...(fromRevision === undefined ? {} : { fromRevision }),
      signal: stop.signal,
      onReconnect: (revision, reason, cursor) => {
        const from = cursor === undefined ? `revision ${revision}` : `cursor ${cursor}`;
        process.stderr.write(errStyle.yellow(`shoal: watch interrupted (${reason}); resuming from ${from}\n`));
      },
    });
    for await (const event of events) {
      process.stdout.write(flags.json === true ? `${JSON.stringify(event)}\n` : formatEvent(event, style));
      if (++seen >= count) break;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return 0;
}

export function formatEvent(event: WatchEvent, style: Style): string {
  const at = style.dim(event.shard === undefined ? String(event.revision) : `${event.shard}:${event.revision}`);
  const key = JSON.stringify(event.key).slice(1, -1); // escapes newlines and control characters: one event, one line
  if (event.type === "delete") return `${at} ${style.red("DELETE")} ${key}\n`;
  if (event.type === "flush") return `${at} ${style.red("FLUSH")} (every key deleted)\n`;
  // A hash (written over RESP) prints as its fields in JSON; a string as its text, escaped onto one line.
  const value =
    event.hash !== undefined
      ? JSON.stringify(event.hash)
      : event.hashFieldCount !== undefined
        ? `(hash of ${event.hashFieldCount} fields)`
        : JSON.stringify(event.value ?? "").slice(1, -1);
  return `${at} ${style.green("PUT")} ${key} ${value}\n`;
}
