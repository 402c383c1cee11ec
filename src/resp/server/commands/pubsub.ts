/**
 * @module SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and PUBSUB CHANNELS/NUMSUB/NUMPAT/HELP: each
 * one entry with its handler. Subscriptions are the session's; PUBLISH and PUBSUB ask every node (the backend's
 * pubsub).
 */
import { commandFamily, NO_KEYS, subcommands, withDifferences } from "../../../commands/redis/command-spec.js";
import { array, bulk, integer } from "../../../commands/redis/reply.js";
import { ShoalError } from "../../../lib/errors.js";
import { keyString, type Session } from "../session.js";
import { helpReply, type SessionCommand, type SessionHandler } from "../session-commands.js";

type SubscribeKind = "subscribe" | "psubscribe";
type UnsubscribeKind = "unsubscribe" | "punsubscribe";

function subscribe(session: Session, argv: Uint8Array[], kind: SubscribeKind): undefined {
  const pubsub = session.context.backend.pubsub;
  const table = kind === "subscribe" ? session.channels : session.patterns;
  for (const target of argv.slice(1)) {
    const id = keyString(target);
    if (!table.has(id)) {
      const copy = Uint8Array.from(target);
      table.set(id, copy);
      if (kind === "subscribe") pubsub.subscribe(session, copy);
      else pubsub.psubscribe(session, copy);
    }
    session.writer.pushHeader(3).bulk(kind).bulk(target).integer(session.subscriptionCount);
  }
  return undefined;
}

function unsubscribe(session: Session, argv: Uint8Array[], kind: UnsubscribeKind): undefined {
  const pubsub = session.context.backend.pubsub;
  const table = kind === "unsubscribe" ? session.channels : session.patterns;
  const targets = argv.length > 1 ? argv.slice(1) : [...table.values()];
  if (targets.length === 0) {
    // Redis: unsubscribing from nothing still answers once, with a null channel.
    session.writer.pushHeader(3).bulk(kind).null().integer(session.subscriptionCount);
    return undefined;
  }
  for (const target of targets) {
    const id = keyString(target);
    const held = table.get(id);
    if (held !== undefined) {
      table.delete(id);
      if (kind === "unsubscribe") pubsub.unsubscribe(session, held);
      else pubsub.punsubscribe(session, held);
    }
    session.writer.pushHeader(3).bulk(kind).bulk(target).integer(session.subscriptionCount);
  }
  return undefined;
}

const PUBSUB_HELP = [
  "PUBSUB <subcommand> [<arg> ...]. Subcommands are:",
  "CHANNELS [<pattern>]",
  "    Channels with at least one subscriber on any node, matching the pattern when given.",
  "NUMSUB [<channel> ...]",
  "    Each channel and its subscriber count over every node.",
  "NUMPAT",
  "    Pattern subscriptions over every node.",
  "HELP",
  "    This text.",
];

// ---- the table --------------------------------------------------------------------------------------------

const command = commandFamily<SessionHandler>("pubsub");

const SUBSCRIBE_FLAGS = ["pubsub", "noscript", "loading", "stale"] as const;
const PUBSUB_FLAGS = ["pubsub", "loading", "stale"] as const;

const commands: readonly SessionCommand[] = [
  command(
    "subscribe",
    -2,
    SUBSCRIBE_FLAGS,
    NO_KEYS,
    {
      summary: "Listen for messages published to the given channels",
      since: "2.0.0",
      complexity: "O(N) where N is the number of channels to subscribe to.",
      syntax: "channel [channel ...]",
    },
    (session, argv) => subscribe(session, argv, "subscribe"),
  ),
  command(
    "unsubscribe",
    -1,
    SUBSCRIBE_FLAGS,
    NO_KEYS,
    {
      summary: "Stop listening for messages posted to the given channels",
      since: "2.0.0",
      complexity: "O(N) where N is the number of clients already subscribed to a channel.",
      syntax: "[channel [channel ...]]",
    },
    (session, argv) => unsubscribe(session, argv, "unsubscribe"),
  ),
  command(
    "psubscribe",
    -2,
    SUBSCRIBE_FLAGS,
    NO_KEYS,
    {
      summary: "Listen for messages published to channels matching the given patterns",
      since: "2.0.0",
      complexity: "O(N) where N is the number of patterns the client is already subscribed to.",
      syntax: "pattern [pattern ...]",
    },
    (session, argv) => subscribe(session, argv, "psubscribe"),
  ),
  command(
    "punsubscribe",
    -1,
    SUBSCRIBE_FLAGS,
    NO_KEYS,
    {
      summary: "Stop listening for messages posted to channels matching the given patterns",
      since: "2.0.0",
      complexity:
        "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).",
      syntax: "[pattern [pattern ...]]",
    },
    (session, argv) => unsubscribe(session, argv, "punsubscribe"),
  ),
  command(
    "publish",
    3,
    ["pubsub", "loading", "stale", "fast"],
    NO_KEYS,
    {
      summary: "Post a message to a channel",
      since: "2.0.0",
      complexity:
        "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
      syntax: "channel message",
    },
    async (session, argv) =>
      integer(await session.context.backend.pubsub.publish(argv[1] as Uint8Array, argv[2] as Uint8Array)),
  ),
  command(
    "pubsub",
    -2,
    [],
    NO_KEYS,
    { summary: "A container for Pub/Sub commands", since: "2.8.0", complexity: "Depends on subcommand.", syntax: "" },
    subcommands(
      command(
        "pubsub|channels",
        -2,
        PUBSUB_FLAGS,
        NO_KEYS,
        {
          summary: "List active channels",
          since: "2.8.0",
          complexity:
            "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
          syntax: "[pattern]",
        },
        async (session, argv) => {
          if (argv.length > 3) {
            throw new ShoalError("BAD_REQUEST", "wrong number of arguments for 'pubsub|channels' command");
          }
          const channels = await session.context.backend.pubsub.channels(argv[2]);
          return array(channels.map((channel) => bulk(channel)));
        },
      ),
      command(
        "pubsub|help",
        2,
        ["loading", "stale"],
        NO_KEYS,
        {
          summary: "Show helpful text about the different subcommands",
          since: "6.2.0",
          complexity: "O(1)",
          syntax: "",
        },
        () => helpReply(PUBSUB_HELP),
      ),
      command(
        "pubsub|numpat",
        2,
        PUBSUB_FLAGS,
        NO_KEYS,
        {
          summary: "Get the count of unique patterns pattern subscriptions",
          since: "2.8.0",
          complexity: "O(1)",
          syntax: "",
        },
        async (session) => integer(await session.context.backend.pubsub.numpat()),
      ),
      command(
        "pubsub|numsub",
        -2,
        PUBSUB_FLAGS,
        NO_KEYS,
        {
          summary: "Get the count of subscribers for channels",
          since: "2.8.0",
          complexity: "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
          syntax: "[channel [channel ...]]",
        },
        async (session, argv) => {
          const channels = argv.slice(2);
          const counts = await session.context.backend.pubsub.numsub(channels);
          // Redis 7: a flat array of channel, count — also in RESP3.
          return array(channels.flatMap((channel, i) => [bulk(channel), integer(counts[i] ?? 0)]));
        },
      ),
    ),
  ),
];

export const pubsubCommands: readonly SessionCommand[] = withDifferences(commands, {
  publish:
    "Counts subscribers on every node that answered within 1 s; at most once, a down node's subscribers miss the message.",
  pubsub: "CHANNELS, NUMSUB and NUMPAT cover every node that answered within 1 s; no SHARDCHANNELS.",
});
