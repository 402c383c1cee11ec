/**
 * @module The HTTP endpoints a client may talk to: the ones it was given plus the members it has learnt from
 * `/v1/cluster`. The one that answered last is tried first; one that failed goes to the back.
 */

/** Endpoints the pool will hold at most (given plus discovered). */
const ENDPOINT_COUNT_MAX = 64;

export class EndpointPool {
  /** Invariant: non-empty, no duplicates, each a base URL without a trailing slash. */
  #endpoints: string[];

  constructor(endpoints: readonly string[]) {
    const normalized = [...new Set(endpoints.map(normalizeEndpoint))];
    if (normalized.length === 0) throw new RangeError("Cannot create a client without an endpoint");
    this.#endpoints = normalized.slice(0, ENDPOINT_COUNT_MAX);
  }

  /** The endpoints in the order to try them. The caller must not keep the array. */
  ordered(): readonly string[] {
    return this.#endpoints;
  }

  current(): string {
    return this.#endpoints[0] as string;
  }

  /** `endpoint` answered: try it first from now on. */
  succeeded(endpoint: string): void {
    const i = this.#endpoints.indexOf(endpoint);
    if (i > 0) this.#endpoints = [endpoint, ...this.#endpoints.filter((e) => e !== endpoint)];
  }

  /** `endpoint` could not be reached: try it last. */
  failed(endpoint: string): void {
    if (this.#endpoints.length > 1 && this.#endpoints.includes(endpoint)) {
      this.#endpoints = [...this.#endpoints.filter((e) => e !== endpoint), endpoint];
    }
  }

  /** Adds members' HTTP addresses ("host:port" or URLs) learnt from the cluster, after the known ones. */
  learn(addresses: readonly string[]): void {
    for (const address of addresses) {
      if (address === "" || this.#endpoints.length >= ENDPOINT_COUNT_MAX) continue;
      const endpoint = normalizeEndpoint(address);
      if (!this.#endpoints.includes(endpoint)) this.#endpoints.push(endpoint);
    }
  }
}

/** "127.0.0.1:8001" → "http://127.0.0.1:8001"; strips a trailing slash. Throws RangeError when not a URL. */
export function normalizeEndpoint(raw: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new RangeError(`Cannot parse endpoint "${raw}": expected http://HOST:PORT`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RangeError(`Cannot parse endpoint "${raw}": expected an http or https URL`);
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
}
