/**
 * @module The nemesis's way to the cluster's admin API: a request goes to a running node chosen at random and, when
 * that node cannot answer it now (down, paused or cut off by a partition: no answer in time, connection refused;
 * or it answers 503 — the meta group has no leader — or 412 — the cluster map changed meanwhile — or 504, the
 * outcome unknown), to the next one.
 * A request that got no answer may still have been recorded: `retryUncertain` says whether it may be sent again
 * (a GET always; a slot move is refused the second time, "already moving"; a split is not retried: it could split
 * twice). Never throws: a fault in the cluster must not fail the run.
 */
import type { Prng } from "../../src/lib/prng.js";
import type { ChaosCluster } from "./chaos-cluster.js";

/** How long one node gets to answer an admin request. */
const ADMIN_TIMEOUT_MS = 3_000;
/** Nodes asked at most for one request. */
const ADMIN_ATTEMPTS = 3;

export interface AdminAnswer<T> {
  /** The HTTP status; 0 when no node answered. */
  readonly status: number;
  readonly body: T | undefined;
  /** The node that answered (or was asked last). */
  readonly via: number;
  /** Some node that got the request did not say whether it recorded it (no answer, or 504). */
  readonly uncertain: boolean;
  /** Why it failed: the error's message, or the transport failure. */
  readonly error?: string;
}

export class AdminClient {
  readonly #cluster: ChaosCluster;
  readonly #random: Prng;

  constructor(cluster: ChaosCluster, random: Prng) {
    this.#cluster = cluster;
    this.#random = random;
  }

  get<T>(path: string): Promise<AdminAnswer<T>> {
    return this.request<T>("GET", path, undefined, true);
  }

  post<T>(path: string, body: unknown, retryUncertain: boolean): Promise<AdminAnswer<T>> {
    return this.request<T>("POST", path, body, retryUncertain);
  }

  async request<T>(method: string, path: string, body: unknown, retryUncertain: boolean): Promise<AdminAnswer<T>> {
    const running = this.#cluster.ids.filter((id) => this.#cluster.state(id) === "running");
    // A random order: a node cut off from the others is not asked first every time.
    const order = running.map((id) => ({ id, key: this.#random.next() })).sort((a, b) => a.key - b.key);
    let last: AdminAnswer<T> = { status: 0, body: undefined, via: 0, uncertain: false, error: "no node is running" };
    let uncertain = false;
    for (const { id } of order.slice(0, ADMIN_ATTEMPTS)) {
      last = await this.#once<T>(id, method, path, body);
      // 504: the node did not learn whether the change was recorded (the meta group's leader went away).
      uncertain ||= last.uncertain || last.status === 504;
      last = { ...last, uncertain };
      const unanswered = last.status === 0 || last.status === 504;
      if (!unanswered && last.status !== 503 && last.status !== 412) return last;
      if (unanswered && last.uncertain && !retryUncertain) return last;
    }
    return last;
  }

  async #once<T>(id: number, method: string, path: string, body: unknown): Promise<AdminAnswer<T>> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.#cluster.httpPort(id)}${path}`, {
        method,
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
        signal: AbortSignal.timeout(ADMIN_TIMEOUT_MS),
      });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const message = (parsed as { message?: unknown } | undefined)?.message;
      return {
        status: response.status,
        body: parsed as T,
        via: id,
        uncertain: false,
        ...(response.status >= 400 ? { error: typeof message === "string" ? message : text.slice(0, 200) } : {}),
      };
    } catch (error) {
      const code = ((error as { cause?: { code?: unknown } }).cause?.code ?? "") as string;
      // Refused: nothing reached the node. Anything else (a timeout, a reset) may have been received.
      const refused = code === "ECONNREFUSED";
      return {
        status: 0,
        body: undefined,
        via: id,
        uncertain: method !== "GET" && !refused,
        error: code === "" ? (error as Error).message : code,
      };
    }
  }
}
