/**
 * @module The HTTP API (fastify): wiring only. The routes live in kv-routes.ts (keys, ranges, txn),
 * watch-route.ts (SSE watches) and status-routes.ts (health, readiness, cluster, metrics, OpenAPI).
 *
 * Every answer that is not a success is JSON `{code, message, ...}` (error-response.ts): schema validation
 * failures, bodies over the limit, bad JSON or UTF-8, unknown routes (404), known routes with the wrong method
 * (405 with Allow), URLs that do not decode, and even bytes that are not HTTP at all. Validation never coerces
 * types (see schemas.ts).
 */
import type { Server } from "node:http";
import Fastify, { type FastifyInstance, type FastifyServerFactory } from "fastify";
import type { ShoalNode } from "../node/shoal-node.js";
import { registerDashboard } from "./dashboard/register.js";
import { httpError, methodNotAllowed, rawClientError } from "./error-response.js";
import { HttpMetrics } from "./http-metrics.js";
import { registerKvRoutes, registerTxnRoute } from "./kv-routes.js";
import { OpenApiBuilder } from "./openapi.js";
import { registerStatusRoutes } from "./status-routes.js";
import { registerWatchRoute } from "./watch-route.js";

export interface HttpServerOptions {
  /** Largest request body accepted (a value travels in one Raft entry). */
  readonly bodyLimitBytes?: number;
  /** A server already listening (starting-server.ts): the API takes it over once ready (`await app.ready()`)
   * instead of listening itself, and closes it on `app.close()`. */
  readonly server?: Server;
}

const BODY_BYTES_MAX = 16 * 1024 * 1024;
const CLOSE_GRACE_MS = 2000;

export function createHttpServer(node: ShoalNode, options: HttpServerOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimitBytes ?? BODY_BYTES_MAX,
    ...(options.server === undefined ? {} : { serverFactory: adopt(options.server) }),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    // The request could not be routed (a URL that does not decode, for one): still a JSON 400.
    frameworkErrors: (error, _request, reply) => {
      // The generic reply type of this option does not accept a status or body; it is an ordinary reply.
      const plain = reply as unknown as { status(code: number): { send(body: unknown): void } };
      plain.status(400).send({ code: "BAD_REQUEST", message: `Cannot parse request: ${error.message}` });
    },
    // Bytes that are not an HTTP request: answer on the raw socket, in the same JSON shape.
    clientErrorHandler: (error, socket) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ECONNRESET" || !socket.writable) {
        socket.destroy();
        return;
      }
      const status = code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
      socket.end(rawClientError(`Cannot parse HTTP request: ${code ?? error.message}`, status));
    },
  });
  const metrics = new HttpMetrics(node.metrics.registry);
  metrics.attach(app);
  const openapi = new OpenApiBuilder();
  const routes: { method: string; pattern: RegExp }[] = [];
  app.addHook("onRoute", (route) => {
    openapi.onRoute(route);
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      routes.push({ method, pattern: routePattern(route.url) });
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = httpError(error);
    metrics.markOutcome(request, body.code);
    // A body refused unread leaves the connection mid-request: it cannot carry another one.
    if (status === 413) void reply.header("connection", "close");
    void reply.status(status).send(body);
  });
  // Closing waits for open connections; one a client left mid-request would hold it until the keep-alive
  // timeout. In-flight requests get a grace period, then every connection is cut.
  app.addHook("preClose", (done) => {
    setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS).unref();
    done();
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? request.url;
    const allowed = [...new Set(routes.filter((route) => route.pattern.test(path)).map((route) => route.method))];
    if (allowed.length > 0) {
      const { status, body } = methodNotAllowed(request.method, path, allowed);
      metrics.markOutcome(request, "METHOD_NOT_ALLOWED");
      void reply.status(status).header("allow", allowed.join(", ")).send(body);
      return;
    }
    metrics.markOutcome(request, "NOT_FOUND");
    void reply.status(404).send({ code: "NOT_FOUND", message: `No route for ${request.method} ${path}` });
  });

  const adopted = options.server;
  if (adopted !== undefined) {
    // fastify closes only servers it listened on itself.
    app.addHook("onClose", async () => {
      const closed = new Promise<void>((resolve) => adopted.close(() => resolve()));
      adopted.closeIdleConnections();
      await closed;
    });
  }

  registerStatusRoutes(app, node, openapi);
  registerWatchRoute(app, node, metrics);
  // Each body format in its own scope: content-type parsers are per scope.
  void app.register(async (scope) => registerKvRoutes(scope, node));
  void app.register(async (scope) => registerTxnRoute(scope, node));
  void app.register(async (scope) => {
    // The dashboard's routes declare no command; name them for the request metrics.
    scope.addHook("onRoute", (route) => {
      route.config = { ...(route.config as object | undefined), command: "dashboard" };
    });
    registerDashboard(scope);
  });
  return app;
}

/** A serverFactory that hands fastify a server already listening, with the settings fastify gives its own. */
function adopt(server: Server): FastifyServerFactory {
  return (handler, settings) => {
    server.removeAllListeners("request");
    server.on("request", handler);
    const { keepAliveTimeout, requestTimeout, connectionTimeout } = settings;
    if (typeof keepAliveTimeout === "number") server.keepAliveTimeout = keepAliveTimeout;
    if (typeof requestTimeout === "number") server.requestTimeout = requestTimeout;
    if (typeof connectionTimeout === "number") server.setTimeout(connectionTimeout);
    return server;
  };
}

/** A fastify route URL as a regular expression over request paths (`*` matches the rest, `:name` a segment). */
function routePattern(url: string): RegExp {
  const escaped = url
    .split(/(\*|:[A-Za-z0-9_]+)/)
    .map((part) => (part === "*" ? ".*" : part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${escaped}$`);
}
