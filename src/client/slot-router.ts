/**
 * @module Which endpoint leads a key's shard, as the client last learnt it from `/v1/cluster`: the key's hash slot
 * (CRC16 with `{hash tags}`, as Redis Cluster and every Shoal node compute it) → the shard owning it → that shard's
 * leader → the leader's HTTP address. A key request sent there is served without the hop a node makes to forward
 * it to the shard's leader. It is a hint, never needed for correctness: any node serves any key, so a stale table
 * (a leader moved) costs one forward, and the client refreshes it now and then.
 */
import { hashSlot, SLOT_COUNT } from "../slots/hash-slot.js";
import { normalizeEndpoint } from "./endpoint-pool.js";
import type { ClusterStatus } from "./types.js";

const encoder = new TextEncoder();

export class SlotRouter {
  /** Slot → leader endpoint of its shard; empty until learnt, or when the cluster has one shard. */
  #leaderOfSlot: (string | undefined)[] = [];

  /** Learns the shards' leaders from a `/v1/cluster` answer. A cluster of one shard needs no routing. */
  learn(status: ClusterStatus): void {
    const shards = status.shards ?? [];
    if (shards.length <= 1) {
      this.#leaderOfSlot = [];
      return;
    }
    const httpOf = new Map(status.members.map((member) => [member.id, member.http] as const));
    const table: (string | undefined)[] = new Array(SLOT_COUNT).fill(undefined);
    for (const shard of shards) {
      const http = httpOf.get(shard.leader);
      if (http === undefined || http === "") continue;
      const endpoint = normalizeEndpoint(http);
      for (const [first, last] of shard.slots) table.fill(endpoint, first, last + 1);
    }
    this.#leaderOfSlot = table;
  }

  /** `endpoint` could not be reached: route nothing to it until the routes are learnt again. */
  forget(endpoint: string): void {
    for (let slot = 0; slot < this.#leaderOfSlot.length; slot++) {
      if (this.#leaderOfSlot[slot] === endpoint) this.#leaderOfSlot[slot] = undefined;
    }
  }

  /** The endpoint of the leader of `key`'s shard, when known. */
  endpointFor(key: string): string | undefined {
    if (this.#leaderOfSlot.length === 0) return undefined;
    return this.#leaderOfSlot[hashSlot(encoder.encode(key))];
  }
}
