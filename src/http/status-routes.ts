/**
 * @module Operating a node: `/healthz` (the process is up), `/readyz` (it can serve: a leader is known and it
 * has applied what it knows to be committed), `/v1/cluster` (members, roles, indexes, replication lag),
 * `/metrics` (Prometheus text) and `/v1/openapi.json`.
 */
import type { FastifyInstance } from "fastify";
import type { ShoalNode } from "../node/shoal-node.js";
import { clusterView } from "./cluster-view.js";
import type { OpenApiBuilder, RouteDoc } from "./openapi.js";
import { errorSchema } from "./schemas.js";

export function registerStatusRoutes(app: FastifyInstance, node: ShoalNode, openapi: OpenApiBuilder): void {
  app.get("/healthz", { config: { command: "healthz", doc: healthDoc } }, async () => ({ ok: true }));

  app.get("/readyz", { config: { command: "readyz", doc: readyDoc } }, async (_request, reply) => {
    const readiness = await node.readiness();
    if (readiness.ready) return readiness;
    void reply.status(503);
    return { code: "UNAVAILABLE", message: `Not ready: ${readiness.reason}`, ...readiness };
  });

  app.get("/v1/cluster", { config: { command: "cluster", doc: clusterDoc } }, async () => clusterView(node));

  app.get("/metrics", { config: { command: "metrics", doc: metricsDoc } }, async (_request, reply) => {
    const registry = node.metrics.registry;
    void reply.header("content-type", registry.contentType);
    return registry.metrics();
  });

  app.get("/v1/openapi.json", { config: { command: "openapi" } }, async () => openapi.document());
}

const json = (schema: unknown) => ({ "application/json": { schema } });

const healthDoc: RouteDoc = {
  summary: "Liveness: the process is up and serving HTTP",
  responses: {
    "200": { description: "Up", content: json({ type: "object", properties: { ok: { type: "boolean" } } }) },
  },
};

const readiness = {
  type: "object",
  properties: {
    ready: { type: "boolean" },
    reason: { type: "string" },
    replication: { type: "string", description: "The leader's judgement of this member (on a follower)" },
    leader: { type: "integer" },
    term: { type: "integer" },
    commitIndex: { type: "integer" },
    appliedIndex: { type: "integer" },
  },
};

const readyDoc: RouteDoc = {
  summary:
    "Readiness: a leader is known, this node has applied what it knows to be committed, and (on a follower) the " +
    "leader finds it caught up",
  responses: {
    "200": { description: "Ready", content: json(readiness) },
    "503": {
      description: "Not ready (code UNAVAILABLE, with the same fields)",
      content: json({ allOf: [errorSchema, readiness] }),
    },
  },
};

const member = {
  type: "object",
  required: ["id", "role", "peer", "http", "reachable"],
  properties: {
    id: { type: "integer" },
    role: { type: "string", description: "leader, follower, candidate, preCandidate or unreachable" },
    peer: { type: "string" },
    http: { type: "string" },
    reachable: { type: "boolean" },
    term: { type: "integer" },
    commitIndex: { type: "integer" },
    appliedIndex: { type: "integer" },
    lag: { type: "integer", description: "Entries behind the leader's last index (the leader's view)" },
    replication: {
      type: "string",
      description:
        "The leader's judgement: caught-up, catching-up (behind, moving), stalled (behind, not moving for 10 s) " +
        "or diverged (holds entries the leader lacks: it can never be caught up)",
    },
  },
};

const clusterDoc: RouteDoc = {
  summary: "This node's Raft status and every member as it reports itself",
  responses: {
    "200": {
      description: "The cluster",
      content: json({
        type: "object",
        properties: {
          id: { type: "integer" },
          leader: { type: "integer", description: "0 when no leader is known" },
          term: { type: "integer" },
          role: { type: "string" },
          commitIndex: { type: "integer" },
          appliedIndex: { type: "integer" },
          lastIndex: { type: "integer" },
          revision: { type: "integer" },
          clusterId: { type: "string", description: "The cluster this node's data directory belongs to" },
          problems: {
            type: "array",
            items: { type: "string" },
            description:
              "What the members find wrong with their peers (another cluster, other members, a wrong address)",
          },
          members: { type: "array", items: member },
          mapEpoch: {
            type: "integer",
            description:
              "The cluster map's epoch in the meta group (the version of slots and replicas); 0 until recorded",
          },
          shards: {
            type: "array",
            description: "The shards (--shards), each its slot ranges, leader and other replicas",
            items: {
              type: "object",
              properties: {
                id: { type: "integer" },
                slots: {
                  type: "array",
                  items: { type: "array", items: { type: "integer" } },
                  description: "Slot ranges [first, last]",
                },
                leader: { type: "integer", description: "0 when no leader is known" },
                replicas: { type: "array", items: { type: "integer" }, description: "Its other replicas" },
                epoch: { type: "integer", description: "The cluster map's epoch these slots and replicas are of" },
                term: { type: "integer", description: "Its Raft term here; 0 on a node holding no replica of it" },
                lag: {
                  type: "object",
                  additionalProperties: { type: "integer" },
                  description: "Each other replica's lag in entries, as the shard's leader sees it",
                },
              },
            },
          },
        },
      }),
    },
  },
};

const metricsDoc: RouteDoc = {
  summary: "Prometheus metrics (text exposition format)",
  responses: { "200": { description: "Metrics", content: { "text/plain": { schema: { type: "string" } } } } },
};
