/**
 * @module Strict Redis Cluster redirects (`--cluster-redirects`): instead of forwarding, a member that does not lead
 * a key's shard answers `-MOVED <slot> <leader's host:port>` (the Redis Cluster specification, "Redirection and
 * resharding"), and a multi-key command over several slots answers `-CROSSSLOT`, as Redis Cluster does; a READONLY
 * connection's reads are served by the replica (Redis's replica reads). Off by default: then every member serves
 * every key, which plain clients (redis-cli without -c, curl) need.
 *
 * The check is synchronous (it runs before a command joins a pipelined run); the leader's RESP address comes from
 * the backend's topology, refreshed in the background at most once a second, so a redirect may name a leader that
 * just stepped down — which then redirects again, as a Redis master that lost its slots does.
 */
import type { CommandSpec } from "../../commands/redis/command-spec.js";
import { errorReply, type Reply } from "../../commands/redis/reply.js";
import { commandKeys } from "../../commands/redis/table.js";
import { commonSlot } from "../../slots/hash-slot.js";
import type { ClusterTopology, RedisBackend } from "./backend.js";
import type { RedirectCheck } from "./server-context.js";

const REFRESH_MS = 1000;

export class ClusterRedirects implements RedirectCheck {
  readonly #backend: RedisBackend;
  #topology: ClusterTopology | undefined;
  #refreshedAtMs = Number.NEGATIVE_INFINITY;
  #refreshing = false;

  constructor(backend: RedisBackend) {
    this.#backend = backend;
    this.#refresh();
  }

  /** The reply that refuses data command `argv` here (MOVED, CROSSSLOT, CLUSTERDOWN), or undefined when this
   * member serves it. */
  refusal(
    spec: CommandSpec,
    argv: readonly Uint8Array[],
    readonlyConnection: boolean,
    asking = false,
  ): Reply | undefined {
    const keys = commandKeys(spec, argv);
    if (keys.length === 0) return undefined;
    const slot = commonSlot(keys);
    if (slot === undefined) return errorReply("CROSS_SLOT", "Keys in request don't hash to the same slot");
    // A client sent here by -ASK: served (the node asks the slot's old shard, which sends it on to the new one).
    if (asking) return undefined;
    if (this.#backend.leadsSlot?.(slot) ?? this.#backend.role() === "leader") return this.#askRefusal(slot);
    if (readonlyConnection && spec.flags.includes("readonly")) return undefined;
    if (Date.now() - this.#refreshedAtMs > REFRESH_MS) this.#refresh();
    const leader = this.#leaderAddressOf(slot);
    if (leader === undefined) return errorReply("CLUSTER_DOWN", "The cluster is down: no leader is known right now");
    return errorReply("MOVED", `${slot} ${leader}`);
  }

  /** -ASK while this node's shard has handed `slot` off to another in a slot move and the map does not say so yet
   * (the Redis Cluster specification's "ASK redirection"): the client asks the new shard's leader, after ASKING. */
  #askRefusal(slot: number): Reply | undefined {
    const shard = this.#backend.slotHandedOff?.(slot);
    if (shard === undefined) return undefined;
    if (Date.now() - this.#refreshedAtMs > REFRESH_MS) this.#refresh();
    const topology = this.#topology;
    const leaderId = topology?.shards.find((each) => each.id === shard)?.leaderId;
    const leader = topology?.members.find((member) => member.id === leaderId)?.resp;
    // Unknown yet: served anyway (the node follows the hand-off itself).
    return leader === undefined ? undefined : errorReply("ASK", `${slot} ${leader}`);
  }

  /** The RESP address of the leader of the shard that owns `slot`, as last seen (never this node's own). */
  #leaderAddressOf(slot: number): string | undefined {
    const topology = this.#topology;
    if (topology === undefined) return undefined;
    const shard = topology.shards.find((s) => s.slots.some(({ from, to }) => from <= slot && slot <= to));
    const leader = topology.members.find((m) => m.id === shard?.leaderId && m.id !== topology.selfId);
    return leader?.resp;
  }

  #refresh(): void {
    if (this.#refreshing) return;
    this.#refreshing = true;
    this.#backend.clusterTopology().then(
      (topology) => {
        this.#refreshing = false;
        this.#refreshedAtMs = Date.now();
        this.#topology = topology;
      },
      () => {
        this.#refreshing = false;
      },
    );
  }
}
