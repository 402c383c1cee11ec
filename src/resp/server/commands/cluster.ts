/**
 * @module The cluster group: READONLY/READWRITE and CLUSTER (KEYSLOT, SLOTS, SHARDS, NODES, INFO, MYID,
 * COUNTKEYSINSLOT, GETKEYSINSLOT, HELP), so Redis Cluster clients (ioredis `Cluster`, node-redis `createCluster`,
 * `redis-cli -c`) can use Shoal. Each shard (one Raft group, `--shards`) owns slot ranges: its master is the group's
 * leader, its replicas the group's other members (placement: every member, or R of them with --replicas). Every member serves every key (it forwards to the shard's leader) unless
 * started with `--cluster-redirects` (cluster-redirects.ts: -MOVED). Replies follow Redis 7.0's shapes (the Redis
 * Cluster specification; `CLUSTER SLOTS`/`SHARDS`/`NODES`).
 */
import { createHash } from "node:crypto";
import { safeIntArg } from "../../../commands/redis/args.js";
import { commandFamily, NO_KEYS, subcommands, withDifferences } from "../../../commands/redis/command-spec.js";
import { array, bulk, integer, OK, type Reply } from "../../../commands/redis/reply.js";
import { ShoalError } from "../../../lib/errors.js";
import { hashSlot, SLOT_COUNT } from "../../../slots/hash-slot.js";
import type { ClusterMember, ClusterShard, ClusterTopology } from "../backend.js";
import type { Session } from "../session.js";
import { helpReply, type SessionCommand, type SessionHandler } from "../session-commands.js";

const cluster = commandFamily<SessionHandler>("cluster");

/** Keys one CLUSTER GETKEYSINSLOT lists at most (Redis has no bound): the listing runs on the event loop, ~1 µs per
 * key, so a bigger answer is refused rather than stall Raft's heartbeats. redis-cli --cluster asks for 10 at a time. */
const SLOT_KEYS_LISTED_MAX = 10_000;

// Shoal's own wording of the CLUSTER subcommands it answers.
const CLUSTER_HELP = [
  "CLUSTER <subcommand> [<arg> ...]. Subcommands are:",
  "KEYSLOT <key>",
  "    The hash slot of <key> (CRC16 of the key or of its {hash tag}, mod 16384).",
  "SLOTS",
  "    Slot ranges with the nodes serving them, the leader first.",
  "SHARDS",
  "    The shards, their slots and their nodes.",
  "NODES",
  "    Every node, in CLUSTER NODES's text format.",
  "INFO",
  "    The cluster's state.",
  "MYID",
  "    This node's 40-character name.",
  "COUNTKEYSINSLOT <slot>",
  "    The number of keys this node stores in <slot>.",
  "GETKEYSINSLOT <slot> <count>",
  "    Up to <count> of the keys this node stores in <slot>.",
  "HELP",
  "    This text.",
];

/** A node's Redis Cluster name: 40 hex characters, stable for the cluster and the node id. */
export function clusterNodeName(clusterId: string, id: number): string {
  return createHash("sha1").update(`shoal:${clusterId}:${id}`).digest("hex");
}

function topologyOf(session: Session): Promise<ClusterTopology> {
  return session.context.backend.clusterTopology();
}

/** host and port of a "host:port" address (the port 0 when there is none). */
function split(address: string | undefined): { host: string; port: number } {
  if (address === undefined) return { host: "", port: 0 };
  const at = address.lastIndexOf(":");
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) || 0 };
}

/** Whether a majority of `shard`'s replicas answers: a shard's leader cut off from the others is no leader (an
 * idle one still calls itself leader until it next needs them). */
function majorityReachable(topology: ClusterTopology, shard: ClusterShard): boolean {
  const up = shard.replicaIds.filter((id) => topology.members.some((m) => m.id === id && m.reachable));
  return up.length * 2 > shard.replicaIds.length;
}

/** The members that serve `shard`: its leader first, then the replicas that answered with a RESP address; none
 * while no reachable leader is known. */
function servingMembers(topology: ClusterTopology, shard: ClusterShard): ClusterMember[] {
  const leader = topology.members.find((m) => m.id === shard.leaderId && m.reachable && m.resp !== undefined);
  if (leader === undefined || !majorityReachable(topology, shard)) return [];
  const replicas = topology.members.filter(
    (m) => m !== leader && shard.replicaIds.includes(m.id) && m.reachable && m.resp !== undefined,
  );
  return [leader, ...replicas];
}

/**
 * CLUSTER SLOTS: one entry per slot range, its shard's leader first (where a cluster client sends the range). A
 * shard with no reachable leader (it lost its majority, or is electing one) is left out, as Redis leaves out slots
 * nobody serves, so cluster clients keep the ranges the other shards serve; CLUSTERDOWN only when no shard serves.
 */
function slotsReply(topology: ClusterTopology): Reply {
  const ranges: Reply[] = [];
  for (const shard of topology.shards) {
    const serving = servingMembers(topology, shard);
    if (serving.length === 0) continue;
    const nodes = serving.map((member) => {
      const { host, port } = split(member.resp);
      // Redis 7 adds a map of extra networking metadata (hostname): none here.
      return array([bulk(host), integer(port), bulk(clusterNodeName(topology.clusterId, member.id)), array([])]);
    });
    for (const { from, to } of shard.slots) ranges.push(array([integer(from), integer(to), ...nodes]));
  }
  if (ranges.length === 0) throw new ShoalError("CLUSTER_DOWN", "The cluster is down: no leader is known right now");
  return array(ranges);
}

function shardsReply(topology: ClusterTopology): Reply {
  return array(
    topology.shards.map((shard): Reply => {
      const nodes = topology.members
        .filter((m) => shard.replicaIds.includes(m.id) && (m.resp !== undefined || !m.reachable))
        .map((member) => {
          const { host, port } = split(member.resp ?? member.peer);
          const field = (name: string, value: Reply): [Reply, Reply] => [bulk(name), value];
          return {
            kind: "map",
            entries: [
              field("id", bulk(clusterNodeName(topology.clusterId, member.id))),
              field("port", integer(member.resp === undefined ? 0 : port)),
              field("ip", bulk(host)),
              field("endpoint", bulk(host)),
              field("role", bulk(member.id === shard.leaderId ? "master" : "replica")),
              field("replication-offset", integer(member.appliedIndex)),
              field("health", bulk(member.reachable ? "online" : "fail")),
            ],
          } satisfies Reply;
        });
      return {
        kind: "map",
        entries: [
          [bulk("slots"), array(shard.slots.flatMap(({ from, to }) => [integer(from), integer(to)]))],
          [bulk("nodes"), array(nodes)],
        ],
      };
    }),
  );
}

/**
 * CLUSTER NODES: `<name> <ip:port@bus-port> <flags> <master> <ping-sent> <pong-recv> <epoch> <link> <slots>`. A
 * member leading shards is a master of their slots; one leading none is shown as a replica of the leader of the
 * first shard it holds (Redis has no form for a node that replicates several masters, as a Shoal member does).
 */
function nodesText(topology: ClusterTopology): string {
  const masterOf = (id: number): string => {
    const leader = topology.shards.find((shard) => shard.replicaIds.includes(id))?.leaderId ?? 0;
    return leader === 0 ? "-" : clusterNodeName(topology.clusterId, leader);
  };
  return topology.members
    .map((member) => {
      const name = clusterNodeName(topology.clusterId, member.id);
      const { host, port } = split(member.resp ?? member.peer);
      const bus = split(member.peer).port;
      const led = topology.shards.filter((shard) => shard.leaderId === member.id);
      const isLeader = led.length > 0;
      const flags = [
        ...(member.id === topology.selfId ? ["myself"] : []),
        isLeader ? "master" : "slave",
        ...(member.reachable ? [] : ["fail"]),
      ].join(",");
      const link = member.reachable ? "connected" : "disconnected";
      const slots = led.flatMap((shard) => shard.slots.map(({ from, to }) => ` ${from}-${to}`)).join("");
      const epoch = Math.max(0, ...led.map((shard) => shard.term), isLeader ? 0 : topology.term);
      return `${name} ${host}:${member.resp === undefined ? 0 : port}@${bus} ${flags} ${isLeader ? "-" : masterOf(member.id)} 0 0 ${epoch} ${link}${slots}\n`;
    })
    .join("");
}

function infoText(topology: ClusterTopology): string {
  const reachable = (id: number): boolean => topology.members.some((m) => m.id === id && m.reachable);
  const slotsOf = (shard: ClusterShard): number => shard.slots.reduce((sum, { from, to }) => sum + to - from + 1, 0);
  const served = topology.shards.filter((shard) => reachable(shard.leaderId) && majorityReachable(topology, shard));
  const slotsOk = served.reduce((sum, shard) => sum + slotsOf(shard), 0);
  const fields: [string, string | number][] = [
    // Shoal serves the slots of every shard that has a majority while others are down, as Redis does with
    // cluster-require-full-coverage no: ok while any shard serves (cluster clients such as ioredis drop a cluster
    // that reports fail, which would take the serving shards from them too); cluster_slots_fail says what is down.
    ["cluster_state", slotsOk > 0 ? "ok" : "fail"],
    ["cluster_slots_assigned", SLOT_COUNT],
    ["cluster_slots_ok", slotsOk],
    ["cluster_slots_pfail", 0],
    ["cluster_slots_fail", SLOT_COUNT - slotsOk],
    ["cluster_known_nodes", topology.members.length],
    ["cluster_size", new Set(served.map((shard) => shard.leaderId)).size],
    ["cluster_current_epoch", Math.max(topology.term, ...topology.shards.map((shard) => shard.term))],
    ["cluster_my_epoch", topology.term],
    ["cluster_stats_messages_sent", 0],
    ["cluster_stats_messages_received", 0],
    ["total_cluster_links_buffer_limit_exceeded", 0],
  ];
  return fields.map(([name, value]) => `${name}:${value}\r\n`).join("");
}

const STALE_FAST = ["loading", "stale"] as const;

function subcommand(
  name: string,
  arity: number,
  summary: string,
  since: string,
  answer: (topology: ClusterTopology) => Reply,
): SessionCommand {
  return cluster(
    `cluster|${name}`,
    arity,
    [...STALE_FAST],
    NO_KEYS,
    { summary, since, complexity: "O(N) where N is the total number of Cluster nodes", syntax: "" },
    async (session) => answer(await topologyOf(session)),
  );
}

/** READONLY or READWRITE: sets whether this connection's reads are served stale from local state. */
function readMode(name: "readonly" | "readwrite", summary: string, stale: boolean): SessionCommand {
  return cluster(
    name,
    1,
    ["loading", "stale", "fast"],
    NO_KEYS,
    { summary, since: "3.0.0", complexity: "O(1)", syntax: "" },
    (session) => {
      session.readonlyStale = stale;
      return OK;
    },
  );
}

/** READONLY/READWRITE: Redis Cluster's replica reads, here this connection's choice of stale local reads. */
export const clusterCommands: readonly SessionCommand[] = withDifferences(
  [
    cluster(
      "cluster",
      -2,
      [],
      NO_KEYS,
      {
        summary: "A container for Redis Cluster commands",
        since: "3.0.0",
        complexity: "Depends on subcommand.",
        syntax: "",
      },
      subcommands(
        cluster(
          "cluster|keyslot",
          3,
          ["stale"],
          NO_KEYS,
          {
            summary: "Returns the hash slot for a key",
            since: "3.0.0",
            complexity: "O(N) where N is the number of bytes in the key",
            syntax: "key",
          },
          (_session, argv) => integer(hashSlot(argv[2] as Uint8Array)),
        ),
        cluster(
          "cluster|countkeysinslot",
          3,
          ["stale"],
          NO_KEYS,
          {
            summary: "Returns the number of keys in a hash slot",
            since: "3.0.0",
            complexity: "O(N) where N is the number of keys in the slot",
            syntax: "slot",
          },
          (session, argv) => {
            const slot = safeIntArg(argv[2] as Uint8Array);
            if (slot < 0 || slot >= SLOT_COUNT) throw new ShoalError("BAD_REQUEST", "Invalid slot");
            return integer(session.context.backend.countKeysInSlot(slot));
          },
        ),
        cluster(
          "cluster|getkeysinslot",
          4,
          ["stale"],
          NO_KEYS,
          {
            summary: "Returns the key names in a hash slot",
            since: "3.0.0",
            complexity: "O(N) where N is the number of requested keys",
            syntax: "slot count",
          },
          (session, argv) => {
            const slot = safeIntArg(argv[2] as Uint8Array);
            const count = safeIntArg(argv[3] as Uint8Array);
            if (slot < 0 || slot >= SLOT_COUNT || count < 0) {
              throw new ShoalError("BAD_REQUEST", "Invalid slot or number of keys");
            }
            const { backend } = session.context;
            // Listed on the event loop: a slot of a million hash-tagged keys must not be listed in one call.
            const listed = Math.min(count, backend.countKeysInSlot(slot));
            if (listed > SLOT_KEYS_LISTED_MAX) {
              throw new ShoalError(
                "BAD_REQUEST",
                `GETKEYSINSLOT would list ${listed} keys; at most ${SLOT_KEYS_LISTED_MAX} per call (ask for fewer)`,
              );
            }
            return array(backend.keysInSlot(slot, listed).map((key) => bulk(key)));
          },
        ),
        subcommand("slots", 2, "Returns the mapping of cluster slots to nodes", "3.0.0", slotsReply),
        subcommand("shards", 2, "Returns the mapping of cluster slots to shards", "7.0.0", shardsReply),
        subcommand("nodes", 2, "Returns the cluster configuration for a node", "3.0.0", (t) => ({
          kind: "verbatim",
          value: nodesText(t),
        })),
        subcommand("info", 2, "Returns information about the state of a node", "3.0.0", (t) => ({
          kind: "verbatim",
          value: infoText(t),
        })),
        subcommand("myid", 2, "Returns the ID of a node", "3.0.0", (t) => bulk(clusterNodeName(t.clusterId, t.selfId))),
        cluster(
          "cluster|help",
          2,
          [...STALE_FAST],
          NO_KEYS,
          {
            summary: "Returns helpful text about the different subcommands",
            since: "5.0.0",
            complexity: "O(1)",
            syntax: "",
          },
          () => helpReply(CLUSTER_HELP),
        ),
      ),
    ),
    readMode("readonly", "Enables read queries for a connection to a cluster replica node", true),
    readMode("readwrite", "Disables read queries for a connection to a cluster replica node", false),
    cluster(
      "asking",
      1,
      ["fast"],
      NO_KEYS,
      {
        summary: "Sent by cluster clients after an -ASK redirect",
        since: "3.0.0",
        complexity: "O(1)",
        syntax: "",
      },
      (session) => {
        session.asking = true;
        return OK;
      },
    ),
  ],
  {
    cluster:
      "The 16384 slots are split over --shards shards (one by default), each a Raft group on --replicas members (3 by default, capped by the members): SLOTS/SHARDS/NODES name each shard's leader as its master and its other replicas as replicas (NODES shows a member that leads no shard as a replica of the leader of the first shard it holds); a shard whose replicas are mostly down answers -CLUSTERDOWN for its slots only and is left out of SLOTS, while INFO stays cluster_state:ok as long as some shard serves (Redis's cluster-require-full-coverage no; cluster_slots_fail counts the rest), and COUNTKEYSINSLOT/GETKEYSINSLOT answer for the slots this node stores (0 keys elsewhere, as Redis); every member serves every key (it forwards to the shard's leader, and follows a slot being moved to its new shard itself) unless started with --cluster-redirects, which makes a member answer -MOVED for a shard it does not lead (and -CROSSSLOT for keys of several slots) as Redis Cluster does, and -ASK for a slot its shard has handed off while the move is being recorded (a client then sends ASKING and the command to the address named); a write to a slot whose keys are being copied waits up to 2 s inside the node, then answers -TRYAGAIN; slots move with POST /v1/admin/slots/move or shoal slots move; without it, keys of several shards in one command or transaction answer -CROSSSLOT. KEYSLOT, SLOTS, SHARDS, NODES, INFO, MYID, COUNTKEYSINSLOT, GETKEYSINSLOT (from a (slot, key) index; GETKEYSINSLOT refuses to list more than 10,000 keys in one call), HELP; not the slot-management subcommands (ADDSLOTS, SETSLOT, MEET, FAILOVER…).",
    readonly:
      "Opts this connection's reads into the node's local state without a ReadIndex check (faster, possibly stale); writes still go through the leader.",
    readwrite: "Turns READONLY off: reads are linearizable again.",
    asking:
      "Lets the next command be served for a slot being moved here; it is served on any member (which finds the slot's new shard itself), not only on the one the -ASK named.",
  },
);
