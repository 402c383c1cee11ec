/**
 * @module The HTTP API (fastify): wiring only. The routes live in kv-routes.ts (keys, ranges, txn),
 * watch-route.ts (SSE watches) and status-routes.ts (health, readiness, cluster, metrics, OpenAPI).
 *
 * Every answer that is not a success is JSON `{code, message, ...}` (error-response.ts): schema validation
 * failures, bodies over the limit, bad JSON or UTF-8, unknown routes (404), known routes with the wrong method
 * (405 with Allow), URLs that do not decode, and even bytes that are not HTTP at all. Validation never coerces
 * types (see schemas.ts).
 */
import type { IncomingMessage, Server } from "node:http";
import Fastify, { type FastifyInstance, type FastifyServerFactory } from "fastify";
import { COMMAND_LIMITS } from "../commands/limits.js";
import type { ShoalNode } from "../node/shoal-node.js";
import { registerAdminMemberRoutes } from "./admin-member-routes.js";
import { registerAdminRoutes } from "./admin-routes.js";
import { registerAdminSlotRoutes } from "./admin-slot-routes.js";
import { registerDashboard } from "./dashboard/register.js";
import { bodyTooLarge, httpError, methodNotAllowed, rawClientError } from "./error-response.js";
import { HttpMetrics } from "./http-metrics.js";
import { registerKvRoutes, registerTxnRoute } from "./kv-routes.js";
import { OpenApiBuilder } from "./openapi.js";
import { registerStatusRoutes } from "./status-routes.js";
import { ACCEPTS } from "./validation-message.js";
import { registerWatchRoute } from "./watch-route.js";

export interface HttpServerOptions {
  /** Largest request body accepted by routes that set none of their own (a PUT's body is a value: its route
   * takes COMMAND_LIMITS.valueSizeBytesMax; a txn's becomes one entry: entrySizeBytesMax). */
  readonly bodyLimitBytes?: number;
  /** A server already listening (starting-server.ts): the API takes it over once ready (`await app.ready()`)
   * instead of listening itself, and closes it on `app.close()`. */
  readonly server?: Server;
}

const CLOSE_GRACE_MS = 2000;
/** A body refused before it was read whole is still read (and dropped) up to this many bytes, so the client can
 * finish sending and read the answer; a longer one gets the answer on a connection that is then cut. */
const REFUSED_BODY_DRAIN_BYTES_MAX = 256 * 1024 * 1024;

export function createHttpServer(node: ShoalNode, options: HttpServerOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimitBytes ?? COMMAND_LIMITS.valueSizeBytesMax,
    ...(options.server === undefined ? {} : { serverFactory: adopt(options.server) }),
    ajv: {
      customOptions: {
        coerceTypes: false,
        removeAdditional: false,
        useDefaults: false,
        allErrors: false,
        // A failure carries its schema and data, so its answer can say what the parameter accepts.
        verbose: true,
        keywords: [ACCEPTS],
      },
    },
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
    const command = (request.routeOptions.config as { command?: string } | undefined)?.command;
    const { status, body } = httpError(isBodyTooLarge(error) ? bodyTooLarge(command) : error);
    metrics.markOutcome(request, body.code);
    // (fastify marks the connection "close" after a body parser's error; drained, it can stay open.)
    if (!request.raw.complete && drainRefusedBody(request.raw)) reply.removeHeader("connection");
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
  void app.register(async (scope) => registerAdminRoutes(scope, node));
  void app.register(async (scope) => registerAdminMemberRoutes(scope, node));
  void app.register(async (scope) => registerAdminSlotRoutes(scope, node));
  void app.register(async (scope) => {
    // The dashboard's routes declare no command; name them for the request metrics.
    scope.addHook("onRoute", (route) => {
      route.config = { ...(route.config as object | undefined), command: "dashboard" };
    });
    registerDashboard(scope, node);
  });
  return app;
}

/**
 * A request answered before its body arrived whole (a 413 from its Content-Length): the rest of the body is read
 * and dropped, and false is returned when it is too long for that. Closing at once would leave the client's bytes
 * unread, and the kernel answers those with a reset that often destroys the answer before the client reads it
 * (the client is still sending). Drained, the connection even serves the client's next request. A body declared
 * (or found, when chunked) longer than REFUSED_BODY_DRAIN_BYTES_MAX is cut off.
 */
function drainRefusedBody(raw: IncomingMessage): boolean {
  const declaredBytes = Number(raw.headers["content-length"] ?? 0);
  if (!(declaredBytes <= REFUSED_BODY_DRAIN_BYTES_MAX)) return false;
  let drainedBytes = 0;
  raw.on("data", (chunk: Buffer) => {
    drainedBytes += chunk.byteLength;
    if (drainedBytes > REFUSED_BODY_DRAIN_BYTES_MAX) raw.socket.destroy();
  });
  raw.resume();
  return true;
}

function isBodyTooLarge(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === "FST_ERR_CTP_BODY_TOO_LARGE";
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
