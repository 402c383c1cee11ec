/**
 * @module The HTTP layer's Prometheus series, in the node's registry: requests by command (the route's name,
 * e.g. `kv.put`) and outcome (`ok` or the error code answered), their latency, and connections.
 */
import type { Server } from "node:http";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** From a cache hit (~0.1 ms) to a write that waits out an election (seconds). */
const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What a route declares in its `config`: its command name for metrics and docs. */
export interface RouteConfig {
  readonly command?: string;
}

export class HttpMetrics {
  readonly #requests: Counter<"command" | "outcome">;
  readonly #latency: Histogram<"command" | "outcome">;
  readonly #connectionsOpen: Gauge;
  readonly #connections: Counter;
  /** The error code a request was answered with (set by the error handler), read when it completes. */
  readonly #outcomes = new WeakMap<FastifyRequest, string>();

  constructor(registry: Registry) {
    const registers = [registry];
    // A node may serve HTTP more than once in a process (tests): reuse series already registered.
    const existing = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined;
    this.#requests =
      existing("shoal_http_requests_total") ??
      new Counter({
        name: "shoal_http_requests_total",
        help: "HTTP requests answered, by command and outcome (ok or the error code)",
        labelNames: ["command", "outcome"],
        registers,
      });
    this.#latency =
      existing("shoal_http_request_duration_seconds") ??
      new Histogram({
        name: "shoal_http_request_duration_seconds",
        help: "Time from receiving an HTTP request to answering it (a watch: until its stream starts)",
        labelNames: ["command", "outcome"],
        buckets: LATENCY_BUCKETS_SECONDS,
        registers,
      });
    this.#connectionsOpen =
      existing("shoal_http_connections") ??
      new Gauge({ name: "shoal_http_connections", help: "Open HTTP connections", registers });
    this.#connections =
      existing("shoal_http_connections_total") ??
      new Counter({ name: "shoal_http_connections_total", help: "HTTP connections accepted", registers });
  }

  /** Counts every request and connection of `app`. */
  attach(app: FastifyInstance): void {
    const server: Server = app.server;
    server.on("connection", (socket) => {
      this.#connections.inc();
      this.#connectionsOpen.inc();
      socket.once("close", () => this.#connectionsOpen.dec());
    });
    app.addHook("onResponse", async (request, reply) => {
      this.record(request, reply.statusCode, reply.elapsedTime / 1000);
    });
  }

  markOutcome(request: FastifyRequest, code: string): void {
    this.#outcomes.set(request, code);
  }

  /** Records one answered request. A hijacked reply (a watch stream) calls this itself when its stream starts. */
  record(request: FastifyRequest, statusCode: number, seconds: number): void {
    const command = (request.routeOptions.config as RouteConfig | undefined)?.command ?? "unknown";
    const outcome = statusCode < 400 ? "ok" : (this.#outcomes.get(request) ?? String(statusCode));
    this.#requests.inc({ command, outcome });
    this.#latency.observe({ command, outcome }, seconds);
  }
}
