/**
 * @module The dashboard every node serves at `/`: static HTML, CSS and one JavaScript module from
 * `src/http/dashboard/static/` (no build step; they are read once, at registration), plus uPlot from
 * node_modules. The page itself polls `/v1/cluster` and `/v1/dashboard/samples`; see `static/dashboard.js`.
 *
 * Why uPlot: the charts are time series updated every second, which is what uPlot is built for; it is one
 * ~50 KB file with no dependencies, MIT-licensed and maintained, and ships a ready IIFE bundle we can serve
 * straight from node_modules. Hand-drawn SVG would mean writing axes, ticks, time labels and legends ourselves.
 *
 * Routes (all GET): `/` (also `/dashboard`), `/dashboard/dashboard.js`, `/dashboard/dashboard.css`,
 * `/dashboard/vendor/uPlot.iife.min.js`, `/dashboard/vendor/uPlot.min.css`, and `/v1/dashboard/samples`, the
 * node's recent history (samples.ts). That one answers any origin (CORS `*`): a page shows every member's
 * keys, memory and disk by asking each of them, and the figures are no more private than /metrics.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import { assert } from "../../lib/assert.js";
import type { ShoalNode } from "../../node/shoal-node.js";
import type { RouteDoc } from "../openapi.js";
import { samplesQuery } from "../schemas.js";
import { DashboardSampler, SAMPLE_INTERVAL_MS } from "./samples.js";

interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
}

/**
 * The page may fetch its own node, and (to find a live member when its node dies) other members' /healthz in
 * no-cors mode, hence `connect-src http: https:`. uPlot sets element styles from script, hence 'unsafe-inline'
 * for styles only; scripts come from this origin alone.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self' http: https:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

export function registerDashboard(app: FastifyInstance, node: ShoalNode): void {
  registerSamples(app, node);
  const assets = loadAssets();
  const page = assets.get("/")!;
  const servePage = async (_request: unknown, reply: FastifyReply) =>
    reply
      .header("content-type", page.contentType)
      .header("cache-control", "no-cache")
      .header("content-security-policy", CONTENT_SECURITY_POLICY)
      .header("x-content-type-options", "nosniff")
      .send(page.body);
  app.get("/", servePage);
  app.get("/dashboard", servePage);
  for (const [path, asset] of assets) {
    if (path === "/") continue;
    app.get(path, async (_request, reply) =>
      reply
        .header("content-type", asset.contentType)
        .header("cache-control", "no-cache")
        .header("x-content-type-options", "nosniff")
        .send(asset.body),
    );
  }
}

/** `GET /v1/dashboard/samples?after=<ms>`: the samples taken after `after` (all of the ring without it). */
function registerSamples(app: FastifyInstance, node: ShoalNode): void {
  const sampler = new DashboardSampler(node);
  sampler.start();
  app.addHook("onClose", async () => sampler.stop());
  app.get<{ Querystring: { after?: string } }>(
    "/v1/dashboard/samples",
    { schema: { querystring: samplesQuery }, config: { doc: samplesDoc } },
    async (request, reply) => {
      const after = request.query.after;
      void reply.header("access-control-allow-origin", "*").header("cache-control", "no-store");
      return {
        id: node.options.id,
        intervalMs: SAMPLE_INTERVAL_MS,
        samples: sampler.since(after === undefined ? undefined : Number(after)),
      };
    },
  );
}

const sampleSchema = {
  type: "object",
  properties: {
    t: { type: "integer", description: "Milliseconds since the epoch" },
    committedPerSecond: { type: "number", nullable: true },
    httpRequestsPerSecond: { type: "number", nullable: true },
    httpP50Ms: { type: "number", nullable: true },
    httpP99Ms: { type: "number", nullable: true },
    respCommandsPerSecond: { type: "number", nullable: true },
    respP50Ms: { type: "number", nullable: true },
    respP99Ms: { type: "number", nullable: true },
    keys: { type: "integer", nullable: true },
    rssBytes: { type: "integer" },
    storeFileBytes: { type: "integer", nullable: true },
    walBytes: { type: "integer", nullable: true },
    memoryUsedBytes: { type: "integer", nullable: true, description: "The data counted against maxmemory" },
    maxmemoryBytes: { type: "integer", nullable: true, description: "maxmemory (0: no limit)" },
    evictedKeys: { type: "integer", nullable: true, description: "Keys this node evicted as a shard leader" },
    lag: {
      type: "object",
      additionalProperties: { type: "integer", nullable: true },
      description: "Leader only: member id → entries behind (null: nothing acknowledged to this leader yet)",
    },
  },
} as const;

const samplesDoc: RouteDoc = {
  summary: "This node's last minutes, one sample a second: rates, latency, keys, memory and disk (the dashboard's)",
  responses: {
    "200": {
      description: "The samples taken after `after`, oldest first",
      content: {
        "application/json": {
          schema: {
            type: "object",
            properties: {
              id: { type: "integer" },
              intervalMs: { type: "integer" },
              samples: { type: "array", items: sampleSchema },
            },
          },
        },
      },
    },
  },
};

function loadAssets(): Map<string, Asset> {
  const dir = staticDir();
  const require = createRequire(import.meta.url);
  const read = (path: string, contentType: string): Asset => ({ body: readFileSync(path), contentType });
  return new Map([
    ["/", read(`${dir}/index.html`, "text/html; charset=utf-8")],
    ["/dashboard/dashboard.js", read(`${dir}/dashboard.js`, "text/javascript; charset=utf-8")],
    ["/dashboard/dashboard.css", read(`${dir}/dashboard.css`, "text/css; charset=utf-8")],
    [
      "/dashboard/vendor/uPlot.iife.min.js",
      read(require.resolve("uplot/dist/uPlot.iife.min.js"), "text/javascript; charset=utf-8"),
    ],
    ["/dashboard/vendor/uPlot.min.css", read(require.resolve("uplot/dist/uPlot.min.css"), "text/css; charset=utf-8")],
  ]);
}

/**
 * The static files live beside this module's source. Compiled, this module runs from
 * dist/src/http/dashboard/, which tsc does not copy them to, so look in the source tree too.
 */
function staticDir(): string {
  const candidates = [
    new URL("./static", import.meta.url),
    new URL("../../../../src/http/dashboard/static", import.meta.url),
  ];
  const found = candidates.map((url) => fileURLToPath(url)).find((dir) => existsSync(`${dir}/index.html`));
  assert(found !== undefined, `Cannot find the dashboard's static files (looked in ${candidates.join(", ")})`);
  return found;
}
