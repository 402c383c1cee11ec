/**
 * @module A chaos client's connection to one node's HTTP API: node:http with one kept-alive socket, a deadline
 * per request, and errors sorted by what they say about the request's fate. Only a refused connection proves
 * the request never reached the node; any other transport error (reset, timeout) leaves it indeterminate.
 */
import { Agent, type IncomingHttpHeaders, request } from "node:http";
import type { Completion } from "./history.js";

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A request that got no HTTP answer. `definite` when it certainly was not delivered (connection refused). */
export class TransportFailure extends Error {
  readonly definite: boolean;

  constructor(message: string, definite: boolean) {
    super(message);
    this.definite = definite;
  }
}

export class NodeClient {
  readonly node: number;
  readonly port: number;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 });
  readonly #timeoutMs: number;

  constructor(node: number, port: number, timeoutMs: number) {
    this.node = node;
    this.port = port;
    this.#timeoutMs = timeoutMs;
  }

  /** Sends one request; rejects with TransportFailure when no answer came within the deadline. */
  send(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
    timeoutMs = this.#timeoutMs,
  ): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(body);
      const req = request({
        host: "127.0.0.1",
        port: this.port,
        method,
        path,
        agent: this.#agent,
        headers: { ...headers, ...(payload === undefined ? {} : { "content-length": String(payload.length) }) },
      });
      const timer = setTimeout(() => req.destroy(new TransportFailure("timeout", false)), timeoutMs);
      req.once("error", (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (error instanceof TransportFailure) reject(error);
        else reject(new TransportFailure(error.code ?? error.message, error.code === "ECONNREFUSED"));
      });
      req.once("response", (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.once("end", () => {
          clearTimeout(timer);
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) });
        });
        response.once("error", (error) => {
          clearTimeout(timer);
          reject(new TransportFailure(error.message, false));
        });
      });
      req.end(payload);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** The outcome an HTTP status gives a write (the API's contract): 2xx ok; 503 (UNAVAILABLE, NOT_LEADER,
 * PROPOSAL_DROPPED, CLUSTER_DOWN, SLOT_MIGRATING: the key's slot is being moved between shards) and 421 (ASK,
 * MOVED: another shard holds the slot) certainly not applied; 504 (TIMEOUT, UNKNOWN_OUTCOME), other 5xx and
 * anything unexpected indeterminate. 412 is left to the caller (a CAS that ran and found another value). */
export function writeCompletion(answer: HttpAnswer): Completion {
  if (answer.status >= 200 && answer.status < 300) return { outcome: "ok" };
  return { outcome: answer.status === 503 || answer.status === 421 ? "fail" : "info", error: errorCode(answer) };
}

/** The completion of a request that got no answer. */
export function transportCompletion(error: unknown): Completion {
  if (error instanceof TransportFailure) return { outcome: error.definite ? "fail" : "info", error: error.message };
  return { outcome: "info", error: (error as Error).message };
}

/** `{code}` of an error body, or the status. */
export function errorCode(answer: HttpAnswer): string {
  try {
    const code = (JSON.parse(answer.body.toString("utf8")) as { code?: unknown }).code;
    if (typeof code === "string") return `${answer.status} ${code}`;
  } catch {
    // not JSON
  }
  return String(answer.status);
}

export function kvPath(key: string): string {
  return `/v1/kv/${encodeURIComponent(key)}`;
}
