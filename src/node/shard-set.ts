/**
 * @module The shards as one node holds them, following the cluster layout: a replica for each shard the layout
 * gives this node (slots/cluster-layout.ts), the way to a member holding it for every other (shard-access.ts).
 * When a newer map gives this node a shard, its replica is opened (empty: the group's leader brings it the log or
 * a snapshot, replica-mover.ts) and requests for that shard are served here from then on; when a map takes one
 * away — once its group no longer counts this node — the replica is stopped, its files are deleted, and requests
 * go to a member holding it. Changes apply one at a time, in map order.
 */
import type { Logger } from "pino";
import type { GroupId, NodeId } from "../raft/types.js";
import type { ClusterLayout } from "../slots/cluster-layout.js";
import { removeReplicaFiles } from "./replica-files.js";
import type { ShardAccess } from "./shard-access.js";
import type { ShardReplica } from "./shard-replica.js";

export interface ShardSetOptions {
  readonly selfId: NodeId;
  readonly dataDir: string;
  readonly layout: ClusterLayout;
  /** Opens (or recovers) this node's replica of a shard, not started. */
  readonly open: (groupId: GroupId) => Promise<ShardReplica>;
  readonly local: (replica: ShardReplica) => ShardAccess;
  readonly remote: (groupId: GroupId) => ShardAccess;
  readonly logger: Pick<Logger, "info" | "error">;
}

/** How soon a replica that failed to open is tried again. */
const RETRY_MS = 1_000;

export class ShardSet {
  readonly #options: ShardSetOptions;
  readonly #replicas: Map<GroupId, ShardReplica>;
  readonly #shards = new Map<GroupId, ShardAccess>();
  /** The layout changes applied so far, one after the other. */
  #following: Promise<void> = Promise.resolve();
  #stopped = false;

  /** `replicas`: the ones opened at start (the layout's shards for this node). */
  constructor(options: ShardSetOptions, replicas: Map<GroupId, ShardReplica>) {
    this.#options = options;
    this.#replicas = replicas;
    for (const shard of options.layout.map.shards) {
      const replica = replicas.get(shard.id);
      this.#shards.set(shard.id, replica === undefined ? options.remote(shard.id) : options.local(replica));
    }
  }

  /** This node's replica of each shard it holds (live: changes as the layout does). */
  get replicas(): ReadonlyMap<GroupId, ShardReplica> {
    return this.#replicas;
  }

  /** Every shard: this node's replica of it, or the members holding it. */
  get shards(): ReadonlyMap<GroupId, ShardAccess> {
    return this.#shards;
  }

  /** Brings the replicas in line with the layout now (after the ones queued before). */
  follow(): Promise<void> {
    this.#following = this.#following.then(
      () => this.#apply(),
      () => this.#apply(),
    );
    return this.#following;
  }

  /** Waits for a layout change in progress, and applies no more. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#following.catch(() => {});
  }

  /** Stops and deletes this node's replica of `groupId`; the shard is then reached through its holders (when the
   * map still has it: a shard merged away is gone). */
  async #drop(groupId: GroupId, replica: ShardReplica): Promise<void> {
    if (this.#options.layout.map.shards.some((shard) => shard.id === groupId)) {
      this.#shards.set(groupId, this.#options.remote(groupId));
    } else {
      this.#shards.delete(groupId);
    }
    this.#replicas.delete(groupId);
    await replica.stop();
    await replica.close();
    await removeReplicaFiles(this.#options.dataDir, groupId);
  }

  async #apply(): Promise<void> {
    const { layout, selfId, logger } = this.#options;
    const wanted = new Set(layout.shardsOf(selfId));
    // Shards split off (reached through their holders until a replica opens here) and shards merged away.
    for (const shard of layout.map.shards) {
      if (!this.#shards.has(shard.id)) this.#shards.set(shard.id, this.#options.remote(shard.id));
    }
    for (const groupId of [...this.#shards.keys()]) {
      if (!this.#replicas.has(groupId) && !layout.map.shards.some((shard) => shard.id === groupId)) {
        this.#shards.delete(groupId);
      }
    }
    // A replica of an earlier incarnation (this member left the shard and took it back while this node looked
    // elsewhere: lib/replica-id.ts) is closed and deleted, then opened anew below under its new id.
    for (const [groupId, replica] of [...this.#replicas]) {
      if (this.#stopped || !wanted.has(groupId) || replica.replicaId === layout.replicaIdOf(groupId, selfId)) continue;
      await this.#drop(groupId, replica);
      logger.info({ shard: groupId, epoch: layout.epoch }, "Deleted an earlier replica of a shard taken back");
    }
    for (const groupId of wanted) {
      if (this.#stopped || this.#replicas.has(groupId)) continue;
      try {
        const replica = await this.#options.open(groupId);
        this.#replicas.set(groupId, replica);
        this.#shards.set(groupId, this.#options.local(replica));
        replica.start();
        logger.info({ shard: groupId, epoch: layout.epoch }, "Opened a replica of a shard moved here");
      } catch (error) {
        logger.error({ err: error, shard: groupId }, "Cannot open a replica of a shard moved here; retrying");
        setTimeout(() => void this.follow(), RETRY_MS).unref();
      }
    }
    for (const [groupId, replica] of [...this.#replicas]) {
      if (this.#stopped || wanted.has(groupId)) continue;
      await this.#drop(groupId, replica);
      logger.info({ shard: groupId, epoch: layout.epoch }, "Deleted this node's replica of a shard moved away");
    }
  }
}
