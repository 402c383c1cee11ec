/**
 * @module The TypeScript client for Shoal's HTTP API: get/put/delete, transactions, cluster status, and
 * watches as async iterators that survive a node's death.
 *
 *   const client = new ShoalClient({ endpoints: ["http://127.0.0.1:8001"] });
 *   await client.put("greeting", "hello");
 *   for await (const event of client.watch({ prefix: "greet" })) console.log(event);
 *
 * Failover: any node serves any request (followers forward writes to the leader), so the client simply tries
 * its endpoints in turn. A request that certainly never reached a node (connection refused) goes to the next
 * endpoint; a read also moves on after a timeout or reset; a write whose outcome is unknown fails with TIMEOUT
 * rather than being sent twice. A 503 (no leader yet) is retried with backoff within `retryBudgetMs`. Members
 * learnt from `/v1/cluster` join the endpoint list.
 *
 * Shards: a request for one key goes first to the leader of the key's shard (slot-router.ts, learnt from
 * `/v1/cluster` and refreshed in the background every ROUTES_REFRESH_MS), saving the hop a node makes to forward
 * it; the other endpoints follow as before. The HTTP API forwards rather than redirects, so there is no redirect
 * to follow: a stale route costs one forward.
 */
import { ShoalError } from "../lib/errors.js";
import { EndpointPool } from "./endpoint-pool.js";
import { describeFetchFailure, errorFromResponse } from "./http-errors.js";
import { SlotRouter } from "./slot-router.js";
import type {
  AdminNodes,
  AdminRebalance,
  AdminShard,
  AdminShards,
  AdminSlots,
  ClusterStatus,
  KeyValue,
  PutOptions,
  TxnRequest,
  TxnResponse,
  WatchEvent,
  WatchOptions,
} from "./types.js";
import { watchStream } from "./watch-stream.js";

export interface ShoalClientOptions {
  /** Base URLs ("http://127.0.0.1:8001" or "127.0.0.1:8001"), tried in order. */
  readonly endpoints: readonly string[];
  /** How long one request may take before it is given up on (default 5000). */
  readonly requestTimeoutMs?: number;
  /** How long a request keeps retrying while the cluster has no leader (503), in total (default 5000). */
  readonly retryBudgetMs?: number;
}

interface RequestSpec {
  readonly method: "GET" | "PUT" | "DELETE" | "POST";
  readonly path: string;
  readonly body?: Uint8Array | string;
  readonly headers?: Record<string, string>;
  /** May be sent again after an answer was lost (reads). */
  readonly idempotent: boolean;
  /** The one key the request is about: it goes first to the leader of the key's shard. */
  readonly key?: string;
}

const encoder = new TextEncoder();
const RETRY_DELAY_MS_MIN = 25;
const RETRY_DELAY_MS_MAX = 500;
/** How old the shard routes may grow before a key request refreshes them (in the background). */
const ROUTES_REFRESH_MS = 10_000;

export class ShoalClient {
  readonly #pool: EndpointPool;
  readonly #requestTimeoutMs: number;
  readonly #retryBudgetMs: number;
  readonly #router = new SlotRouter();
  /** When the routes were last asked for (0: never); a refresh is under way while #refreshing. */
  #routesAskedAtMs = 0;
  #refreshing = false;

  constructor(options: ShoalClientOptions) {
    this.#pool = new EndpointPool(options.endpoints);
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.#retryBudgetMs = options.retryBudgetMs ?? 5000;
  }

  /** The endpoints in the order the next request will try them. */
  endpoints(): readonly string[] {
    return [...this.#pool.ordered()];
  }

  /** The key's value and revisions, or undefined when it does not exist. */
  async get(key: string, options: { stale?: boolean } = {}): Promise<KeyValue | undefined> {
    const query = options.stale === true ? "?consistency=stale" : "";
    const { response } = await this.#send(
      { method: "GET", path: `${kvPath(key)}${query}`, idempotent: true, key },
      [404],
    );
    if (response.status === 404) {
      await response.arrayBuffer();
      return undefined;
    }
    const value = new Uint8Array(await response.arrayBuffer());
    const expiresAtMs = headerNumber(response, "x-shoal-expires-at-ms");
    return {
      key,
      value,
      modRevision: headerNumber(response, "x-shoal-mod-revision") ?? 0,
      createRevision: headerNumber(response, "x-shoal-create-revision") ?? 0,
      version: headerNumber(response, "x-shoal-version") ?? 0,
      ...(expiresAtMs === undefined ? {} : { expiresAtMs }),
    };
  }

  /** Writes the key; throws a CONFLICT ShoalError when a condition fails. Resolves to the write's revision. */
  async put(key: string, value: string | Uint8Array, options: PutOptions = {}): Promise<{ revision: number }> {
    const headers: Record<string, string> = {};
    if (options.ifModRevision !== undefined) headers["if-match"] = String(options.ifModRevision);
    if (options.ifAbsent === true) headers["if-none-match"] = "*";
    const query = options.ttlSeconds === undefined ? "" : `?ttl=${encodeURIComponent(String(options.ttlSeconds))}`;
    const body = typeof value === "string" ? encoder.encode(value) : value;
    const { response } = await this.#send({
      method: "PUT",
      path: `${kvPath(key)}${query}`,
      body,
      headers,
      idempotent: false,
      key,
    });
    return { revision: ((await response.json()) as { revision: number }).revision };
  }

  /** Deletes the key; resolves to undefined when there was no such key. */
  async delete(key: string): Promise<{ revision: number } | undefined> {
    const { response } = await this.#send({ method: "DELETE", path: kvPath(key), idempotent: false, key }, [404]);
    const body = (await response.json()) as { revision?: number };
    return response.status === 404 ? undefined : { revision: body.revision ?? 0 };
  }

  async txn(request: TxnRequest): Promise<TxnResponse> {
    const body = JSON.stringify(request);
    const headers = { "content-type": "application/json" };
    const { response } = await this.#send({ method: "POST", path: "/v1/txn", body, headers, idempotent: false });
    return (await response.json()) as TxnResponse;
  }

  /** The answering node's view of the cluster; its members' HTTP addresses join the endpoint list. */
  async cluster(): Promise<ClusterStatus & { endpoint: string }> {
    const { response, endpoint } = await this.#send({ method: "GET", path: "/v1/cluster", idempotent: true });
    const status = (await response.json()) as ClusterStatus;
    this.#pool.learn(status.members.map((member) => member.http));
    this.#router.learn(status);
    return { ...status, endpoint };
  }

  /** Every shard's slots and replicas, and moves in progress (`GET /v1/admin/shards`). */
  async shards(): Promise<AdminShards> {
    const { response } = await this.#send({ method: "GET", path: "/v1/admin/shards", idempotent: true });
    return (await response.json()) as AdminShards;
  }

  /** Moves shard `shard`'s replica from member `from` to member `to`; resolves once the move is recorded (it runs
   * on: `shards()` lists no member leaving the shard when it is done). Not retried once sent. */
  async moveReplica(shard: number, from: number, to: number): Promise<{ epoch: number; shard: AdminShard }> {
    const { response } = await this.#send({
      method: "POST",
      path: `/v1/admin/shards/${shard}/move`,
      body: JSON.stringify({ from, to }),
      headers: { "content-type": "application/json" },
      idempotent: false,
    });
    return (await response.json()) as { epoch: number; shard: AdminShard };
  }

  /** Every member and its share (`GET /v1/admin/nodes`). */
  async nodes(): Promise<AdminNodes> {
    const { response } = await this.#send({ method: "GET", path: "/v1/admin/nodes", idempotent: true });
    return (await response.json()) as AdminNodes;
  }

  /** Drains member `id` and removes it from the cluster; resolves once that is recorded (`nodes()` no longer lists
   * it when done). Asking again for a member already draining is harmless. */
  async removeNode(id: number): Promise<AdminNodes> {
    const { response } = await this.#send({ method: "DELETE", path: `/v1/admin/nodes/${id}`, idempotent: true });
    return (await response.json()) as AdminNodes;
  }

  /** The rebalancer's state and plan (`GET /v1/admin/rebalance`). */
  async rebalance(): Promise<AdminRebalance> {
    const { response } = await this.#send({ method: "GET", path: "/v1/admin/rebalance", idempotent: true });
    return (await response.json()) as AdminRebalance;
  }

  /** Pauses or resumes the rebalancer. */
  async pauseRebalance(paused: boolean): Promise<AdminRebalance> {
    const { response } = await this.#send({
      method: "POST",
      path: "/v1/admin/rebalance",
      body: JSON.stringify({ paused }),
      headers: { "content-type": "application/json" },
      idempotent: true,
    });
    return (await response.json()) as AdminRebalance;
  }

  /** The hash slots moving between shards now, and what the answering node's slot mover did (`GET
   * /v1/admin/slots`). */
  async slots(): Promise<AdminSlots> {
    const { response } = await this.#send({ method: "GET", path: "/v1/admin/slots", idempotent: true });
    return (await response.json()) as AdminSlots;
  }

  /** Moves hash slots `slots` (0-16383) to shard `to`; resolves once the move is recorded, with the slots moving
   * then (it runs on: a slot is done when `slots()` no longer lists it). Not retried once sent. */
  async moveSlots(slots: readonly number[], to: number): Promise<AdminSlots> {
    const { response } = await this.#send({
      method: "POST",
      path: "/v1/admin/slots/move",
      body: JSON.stringify({ slots, to }),
      headers: { "content-type": "application/json" },
      idempotent: false,
    });
    return (await response.json()) as AdminSlots;
  }

  /** Splits shard `id` in two (`POST /v1/admin/shards/{id}/split`): resolves once recorded, with the slots moving
   * and the new shard's id. Not retried once sent. */
  async splitShard(id: number): Promise<AdminSlots & { readonly shard?: number }> {
    const { response } = await this.#send({ method: "POST", path: `/v1/admin/shards/${id}/split`, idempotent: false });
    return (await response.json()) as AdminSlots & { readonly shard?: number };
  }

  /** Merges shard `id` into shard `into` (`POST /v1/admin/shards/{id}/merge`): resolves once recorded. */
  async mergeShard(id: number, into: number): Promise<AdminSlots> {
    const { response } = await this.#send({
      method: "POST",
      path: `/v1/admin/shards/${id}/merge`,
      body: JSON.stringify({ into }),
      headers: { "content-type": "application/json" },
      idempotent: false,
    });
    return (await response.json()) as AdminSlots;
  }

  /** The endpoints to try for `spec`, in order: the leader of its key's shard first when known. */
  #endpointsFor(spec: RequestSpec): readonly string[] {
    const ordered = this.#pool.ordered();
    if (spec.key === undefined) return [...ordered];
    if (!this.#refreshing && Date.now() - this.#routesAskedAtMs >= ROUTES_REFRESH_MS) {
      this.#refreshing = true;
      this.#routesAskedAtMs = Date.now();
      void this.cluster()
        .catch(() => undefined) // a hint only: the requests go on without it
        .finally(() => {
          this.#refreshing = false;
        });
    }
    const routed = this.#router.endpointFor(spec.key);
    return routed === undefined || !ordered.includes(routed)
      ? [...ordered]
      : [routed, ...ordered.filter((endpoint) => endpoint !== routed)];
  }

  /**
   * Changes in revision order, as an async iterator; reconnects (to another member if need be) and resumes from
   * the last revision it delivered, so no event is lost or repeated. Ends when `options.signal` aborts.
   */
  watch(options: WatchOptions = {}): AsyncIterable<WatchEvent> {
    return watchStream(this.#pool, options, () => this.cluster().then(() => undefined));
  }

  /**
   * Sends `spec`, moving between endpoints and retrying 503s as the module comment says. Answers with a status
   * in `accept` (or 2xx) resolve; other answers reject with the ShoalError their body carries.
   */
  async #send(spec: RequestSpec, accept: readonly number[] = []): Promise<{ response: Response; endpoint: string }> {
    const deadline = Date.now() + this.#retryBudgetMs;
    for (let attempt = 0; ; attempt++) {
      const unreachable: string[] = [];
      let retryable: ShoalError | undefined;
      for (const endpoint of this.#endpointsFor(spec)) {
        const outcome = await this.#tryOnce(endpoint, spec);
        if (typeof outcome === "string") {
          unreachable.push(`${endpoint} (${outcome})`);
          continue;
        }
        if (outcome.ok || accept.includes(outcome.status)) {
          this.#pool.succeeded(endpoint);
          return { response: outcome, endpoint };
        }
        const error = await errorFromResponse(outcome, endpoint);
        // A read that timed out (no quorum confirmed it yet) changed nothing: it may be retried like a 503.
        if (!error.retryable && !(spec.idempotent && error.code === "TIMEOUT")) throw error;
        retryable = error;
        break; // the node answered: the cluster is busy electing, not this node's fault
      }
      if (retryable === undefined) throw unreachableError(unreachable);
      if (Date.now() + retryDelayMs(attempt) > deadline) throw retryable;
      await sleep(retryDelayMs(attempt));
    }
  }

  /** One attempt at one endpoint: the response, or why the next endpoint should be tried instead. */
  async #tryOnce(endpoint: string, spec: RequestSpec): Promise<Response | string> {
    try {
      return await fetch(`${endpoint}${spec.path}`, {
        method: spec.method,
        headers: spec.headers ?? {},
        ...(spec.body === undefined ? {} : { body: spec.body }),
        signal: AbortSignal.timeout(this.#requestTimeoutMs),
      });
    } catch (error) {
      const failure = describeFetchFailure(error);
      if (!failure.notSent && !spec.idempotent) {
        throw new ShoalError(
          "TIMEOUT",
          `No answer from ${endpoint} (${failure.reason}); the write may or may not have been applied`,
        );
      }
      this.#pool.failed(endpoint);
      this.#router.forget(endpoint);
      this.#routesAskedAtMs = 0; // learn where the shards' leaders are now
      return failure.reason;
    }
  }
}

/**
 * `/v1/kv/<key>` with the key percent-encoded as one path segment ("/" too). URLs treat a segment "." or ".."
 * (even percent-encoded) as a relative path, so those two keys cannot be addressed by URL at all.
 */
export function kvPath(key: string): string {
  if (key.length === 0) throw new ShoalError("BAD_REQUEST", "Cannot use an empty key");
  if (key === "." || key === "..") {
    throw new ShoalError(
      "BAD_REQUEST",
      `Cannot address the key "${key}" over HTTP: a URL cannot hold it (use a transaction)`,
    );
  }
  return `/v1/kv/${encodeURIComponent(key)}`;
}

function headerNumber(response: Response, name: string): number | undefined {
  const raw = response.headers.get(name);
  if (raw === null) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) ? value : undefined;
}

function unreachableError(unreachable: readonly string[]): ShoalError {
  const list = unreachable.length === 1 ? unreachable[0] : `any endpoint: ${unreachable.join(", ")}`;
  return new ShoalError("UNAVAILABLE", `Cannot reach ${list}`, { unreachable: true });
}

function retryDelayMs(attempt: number): number {
  return Math.min(RETRY_DELAY_MS_MAX, RETRY_DELAY_MS_MIN * 2 ** attempt);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
