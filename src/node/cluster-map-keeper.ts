/**
 * @module The cluster map in the meta group (Raft group 0, a replica on every member): the map is one key of the
 * meta group's keyspace, written through its log like any key, so every member holds the same map at the same
 * revision and a change is committed by a majority before any node acts on it.
 *
 * A new cluster records the map its nodes computed from their identity (slots/cluster-map.ts, epoch 1): the meta
 * group's leader proposes it with "only if absent" until it is there, so exactly one proposal applies however many
 * leaders try in turn. Each node then reads its own replica of the map (a local read, once a second and after each
 * change it makes: the map changes rarely) and follows every newer epoch (its ClusterLayout, and the node opens or
 * closes replicas: shoal-node.ts). A change (`update`) is a compare-and-set on the key's revision, so two changes
 * made at once from different members never both apply to the same map. A recorded epoch-1 map that places shards
 * otherwise than this node computed is reported among its problems (a member started with other flags).
 */
import type { Logger } from "pino";
import { ShoalError } from "../lib/errors.js";
import type { ClusterLayout } from "../slots/cluster-layout.js";
import { type ClusterMap, encodeClusterMap, parseClusterMap, sameLayout } from "../slots/cluster-map.js";
import type { StateMachineStore } from "../store/state-machine-store.js";
import type { ClientOperations } from "./client-operations.js";

/** What the keeper needs of this node's meta group replica (a ShardReplica). */
export interface MetaReplica {
  readonly store: Pick<StateMachineStore, "get">;
  readonly client: Pick<ClientOperations, "submit" | "linearize">;
  readonly host: { readonly raw: { status(): { readonly role: string } } };
}

/** The meta group's id: below every shard's (shards count from 1). */
export const META_GROUP_ID = 0;
/** Times `update` makes its change again when another change got in first. */
const UPDATE_ATTEMPTS = 3;
/** Where the meta group keeps the map. */
export const CLUSTER_MAP_KEY = new TextEncoder().encode("shoal/cluster-map");
/** How often a node reads its replica of the map (and, on the meta leader, records the first one if missing). */
const READ_INTERVAL_MS = 1_000;

export class ClusterMapKeeper {
  readonly #meta: MetaReplica;
  /** The layout this node runs: the map computed from its identity, then every newer one recorded. */
  readonly #layout: ClusterLayout;
  /** The map this node computed from its identity (epoch 1). */
  readonly #initial: ClusterMap;
  readonly #logger: Pick<Logger, "info" | "debug" | "error">;
  readonly #onChange: (map: ClusterMap) => void;
  #recorded: ClusterMap | undefined;
  #problem: string | undefined;
  #proposing = false;
  /** The modRevision of the map key last read. */
  #learnedRevision = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    meta: MetaReplica,
    layout: ClusterLayout,
    logger: Pick<Logger, "info" | "debug" | "error">,
    onChange: (map: ClusterMap) => void = () => {},
  ) {
    this.#meta = meta;
    this.#layout = layout;
    this.#initial = layout.map;
    this.#logger = logger;
    this.#onChange = onChange;
  }

  start(): void {
    this.check();
    this.#timer = setInterval(() => this.check(), READ_INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The recorded map's epoch; 0 until this node's replica holds one. */
  get epoch(): number {
    return this.#recorded?.epoch ?? 0;
  }

  /** The map as this node's meta replica holds it (undefined until recorded). */
  get recorded(): ClusterMap | undefined {
    return this.#recorded;
  }

  /** What is wrong with the recorded map, one sentence each (shown by /v1/cluster and shoal status). */
  problems(): string[] {
    return this.#problem === undefined ? [] : [this.#problem];
  }

  /** One look at the replica's map (start() repeats it every second). */
  check(): void {
    const record = this.#meta.store.get(CLUSTER_MAP_KEY, Date.now());
    if (record !== undefined && record.type === "string") {
      // Parsed and checked once per change of the key, not once a second; a replica still behind a map this node
      // recorded itself (update) is not read back.
      if (record.modRevision > this.#learnedRevision) {
        this.#learn(record.value);
        this.#learnedRevision = record.modRevision;
      }
      return;
    }
    if (record !== undefined || this.#proposing || this.#meta.host.raw.status().role !== "leader") return;
    // Not recorded yet and this node leads the meta group: record the first map (only if absent: a leader before
    // this one may have recorded it in an entry not applied here yet).
    this.#proposing = true;
    this.#meta.client
      .submit({
        op: "put",
        key: CLUSTER_MAP_KEY,
        value: encodeClusterMap(this.#initial),
        nowMs: Date.now(),
        ifAbsent: true,
      })
      .then(
        (result) => {
          if (result.kind === "put") this.#logger.info({ epoch: this.#initial.epoch }, "Recorded the cluster map");
        },
        (error: unknown) => this.#logger.debug({ err: error }, "Recording the cluster map failed; retrying"),
      )
      .finally(() => {
        this.#proposing = false;
      });
  }

  #learn(bytes: Uint8Array): void {
    let map: ClusterMap;
    try {
      map = parseClusterMap(bytes);
    } catch (error) {
      this.#report(`The cluster map in the meta group cannot be read: ${(error as Error).message}`);
      return;
    }
    if (map.epoch !== this.#recorded?.epoch) this.#logger.info({ epoch: map.epoch }, "Cluster map");
    this.#recorded = map;
    const problem = this.#mismatch(map);
    this.#report(problem);
    if (problem === undefined && this.#layout.adopt(map)) this.#onChange(map);
  }

  /** Why this node cannot follow `map`: one that was not made from the cluster this node computed. */
  #mismatch(map: ClusterMap): string | undefined {
    const initial = this.#initial;
    // Later epochs may move anything and add and remove shards (splits, merges): the meta group holding them is
    // this cluster's (its identity is checked on every peer connection).
    if (map.epoch > 1 || sameLayout(map, initial)) return undefined;
    return (
      `The cluster map (epoch ${map.epoch}) places slots or replicas otherwise than this node runs them: ` +
      "its members, --shards and --replicas must be every member's"
    );
  }

  /**
   * Records the map `change` makes of the newest one this node's replica holds, if that is still the newest when
   * the change applies (a compare-and-set on the key's revision, behind a ReadIndex barrier so the map changed is
   * the latest committed one). Resolves with the map recorded, which this node follows at once. Throws
   * BAD_REQUEST with `change`'s reason when it refuses (a RangeError), UNAVAILABLE before the first map is
   * recorded, CONFLICT when another change got in first (the caller may retry).
   */
  async update(change: (map: ClusterMap) => ClusterMap): Promise<ClusterMap> {
    // Another change got in first (the rebalancer, a slot mover, an operator): made again of the newer map.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#updateOnce(change);
      } catch (error) {
        if (!(error instanceof ShoalError && error.code === "CONFLICT") || attempt >= UPDATE_ATTEMPTS) throw error;
      }
    }
  }

  async #updateOnce(change: (map: ClusterMap) => ClusterMap): Promise<ClusterMap> {
    await this.#meta.client.linearize(false);
    this.check();
    const current = this.#recorded;
    if (current === undefined)
      throw new ShoalError("UNAVAILABLE", "The cluster map is not recorded yet; retry shortly");
    let next: ClusterMap;
    try {
      next = change(current);
    } catch (error) {
      if (error instanceof RangeError) throw new ShoalError("BAD_REQUEST", error.message);
      throw error;
    }
    if (next === current) return current; // nothing to change (e.g. a member already draining)
    const result = await this.#meta.client.submit({
      op: "put",
      key: CLUSTER_MAP_KEY,
      value: encodeClusterMap(next),
      nowMs: Date.now(),
      ifModRevision: this.#learnedRevision,
    });
    if (result.kind === "conflict") {
      throw new ShoalError("CONFLICT", "The cluster map changed meanwhile; retry against the new one");
    }
    if (result.kind !== "put") throw new ShoalError("INTERNAL", `Recording the cluster map answered ${result.kind}`);
    this.#logger.info({ epoch: next.epoch }, "Recorded a new cluster map");
    // Committed: followed now, though this node's replica of the meta group may apply it a little later.
    if (this.#learnedRevision < result.revision) {
      this.#recorded = next;
      this.#learnedRevision = result.revision;
    }
    if (this.#layout.adopt(next)) this.#onChange(next);
    return next;
  }

  #report(problem: string | undefined): void {
    if (problem !== undefined && problem !== this.#problem) this.#logger.error(problem);
    this.#problem = problem;
  }
}
