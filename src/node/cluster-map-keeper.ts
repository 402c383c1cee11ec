/**
 * @module The cluster map in the meta group (Raft group 0, a replica on every member): the map is one key of the
 * meta group's keyspace, written through its log like any key, so every member holds the same map at the same
 * revision and a change is committed by a majority before any node acts on it.
 *
 * A new cluster records the map its nodes computed from their identity (slots/cluster-map.ts, epoch 1): the meta
 * group's leader proposes it with "only if absent" until it is there, so exactly one proposal applies however many
 * leaders try in turn. Each node then reads its own replica of the map (a local read, once a second: the map
 * changes rarely) and reports, among its problems, a recorded map that places shards otherwise than the layout it
 * runs — nothing changes the map yet; the slot and replica moves of issue 13 will, and nodes will follow it.
 */
import type { Logger } from "pino";
import { type ClusterMap, encodeClusterMap, parseClusterMap, sameLayout } from "../slots/cluster-map.js";
import type { StateMachineStore } from "../store/state-machine-store.js";
import type { ClientOperations } from "./client-operations.js";

/** What the keeper needs of this node's meta group replica (a ShardReplica). */
export interface MetaReplica {
  readonly store: Pick<StateMachineStore, "get">;
  readonly host: { readonly raw: { status(): { readonly role: string } } };
  readonly client: Pick<ClientOperations, "submit">;
}

/** The meta group's id: below every shard's (shards count from 1). */
export const META_GROUP_ID = 0;
/** Where the meta group keeps the map. */
export const CLUSTER_MAP_KEY = new TextEncoder().encode("shoal/cluster-map");
/** How often a node reads its replica of the map (and, on the meta leader, records the first one if missing). */
const READ_INTERVAL_MS = 1_000;

export class ClusterMapKeeper {
  readonly #meta: MetaReplica;
  /** The layout this node runs: the map computed from its identity. */
  readonly #running: ClusterMap;
  readonly #logger: Pick<Logger, "info" | "debug" | "error">;
  #recorded: ClusterMap | undefined;
  #problem: string | undefined;
  #proposing = false;
  /** The modRevision of the map key last read. */
  #learnedRevision = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(meta: MetaReplica, running: ClusterMap, logger: Pick<Logger, "info" | "debug" | "error">) {
    this.#meta = meta;
    this.#running = running;
    this.#logger = logger;
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
      // Parsed and checked once per change of the key, not once a second.
      if (record.modRevision !== this.#learnedRevision) this.#learn(record.value);
      this.#learnedRevision = record.modRevision;
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
        value: encodeClusterMap(this.#running),
        nowMs: Date.now(),
        ifAbsent: true,
      })
      .then(
        (result) => {
          if (result.kind === "put") this.#logger.info({ epoch: this.#running.epoch }, "Recorded the cluster map");
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
    this.#report(
      sameLayout(map, this.#running)
        ? undefined
        : `The cluster map (epoch ${map.epoch}) places slots or replicas otherwise than this node runs them: ` +
            "its members, --shards and --replicas must be every member's",
    );
  }

  #report(problem: string | undefined): void {
    if (problem !== undefined && problem !== this.#problem) this.#logger.error(problem);
    this.#problem = problem;
  }
}
