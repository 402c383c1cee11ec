/**
 * @module Growing and shrinking the cluster over HTTP, under `/v1/admin/`: `GET /v1/admin/nodes` (every member:
 * addresses, whether it is being drained, reachable, how many replicas it holds and shards it leads, its place in
 * the meta group), `DELETE /v1/admin/nodes/{id}` (drain member `id` and remove it: 202 once recorded; done when
 * the member is gone from the list), `GET /v1/admin/rebalance` (whether the rebalancer is paused, what it does
 * next, the whole plan to balanced) and `POST /v1/admin/rebalance` (`{"paused": true|false}`).
 */
import type { FastifyInstance } from "fastify";
import type { ShoalNode } from "../node/shoal-node.js";
import type { RebalanceStep } from "../slots/rebalance-plan.js";
import { parseBodiesAsJson } from "./json-body.js";
import type { RouteDoc } from "./openapi.js";
import { errorSchema } from "./schemas.js";

/** One member in `GET /v1/admin/nodes` (the CLI reads the same type). */
export interface AdminNodeView {
  readonly id: number;
  readonly peer: string;
  readonly http: string;
  /** "active", or "draining" while its replicas move away before it is removed. */
  readonly state: "active" | "draining";
  /** Whether it answered the answering node just now. */
  readonly live: boolean;
  /** Replicas the cluster map gives it (moves in progress included). */
  readonly replicas: number;
  /** Shards it leads, as the answering node knows their leaders. */
  readonly leads: number;
  /** Its place in the meta group as the answering node's replica sees it. */
  readonly meta: "voter" | "learner" | "none";
}

export interface AdminNodesView {
  readonly epoch: number;
  readonly nodes: readonly AdminNodeView[];
  /** Members removed from the cluster (their ids are never given again). */
  readonly removed: readonly number[];
}

export interface AdminRebalanceView {
  readonly epoch: number;
  readonly paused: boolean;
  /** "balanced", "moving" (a replica or slot move runs), "step" (one is about to be recorded) or "blocked". */
  readonly state: "balanced" | "moving" | "step" | "blocked";
  /** Why a drain cannot go on, when blocked. */
  readonly reason?: string;
  /** The shard whose replica is moving, while one is (or, while slots move, the first one giving slots up). */
  readonly movingShard?: number;
  /** Slots moving between shards, while some are. */
  readonly movingSlots?: number;
  /** Every step from the map the answering node follows to balanced (a running move counted as done; while
   * paused, what it would do running). */
  readonly plan: readonly RebalanceStep[];
}

/** How long the view waits for each member's own report (its HTTP address, the shards it leads). */
const MEMBER_INFO_TIMEOUT_MS = 1_000;

export async function adminNodesView(node: ShoalNode): Promise<AdminNodesView> {
  const map = node.layout.map;
  const meta = node.metaStatus().confState;
  // Each member says which shards it leads (and where its HTTP API is): shards held elsewhere included.
  const infos = await node.memberInfos(MEMBER_INFO_TIMEOUT_MS);
  const leaders = node.shardStatuses().map((shard) => shard.leaderId);
  return {
    epoch: map.epoch,
    removed: map.removed ?? [],
    nodes: map.members.map((id) => {
      const address = node.options.members.get(id);
      const info = infos.get(id);
      return {
        id,
        peer: address?.peer ?? "",
        http: info?.http ?? address?.http ?? "",
        state: map.draining?.includes(id) === true ? "draining" : "active",
        live: info !== undefined,
        replicas: map.shards.filter((shard) => shard.replicas.includes(id) || shard.leaving?.includes(id) === true)
          .length,
        leads: leaders.filter((leader) => leader === id).length,
        meta: meta.voters.includes(id) ? "voter" : meta.learners.includes(id) ? "learner" : "none",
      };
    }),
  };
}

export function adminRebalanceView(node: ShoalNode): AdminRebalanceView {
  const { decision, plan } = node.rebalanceStatus();
  const map = node.layout.map;
  return {
    epoch: map.epoch,
    paused: map.rebalancePaused === true,
    state: decision.kind,
    ...(decision.kind === "blocked" ? { reason: decision.reason } : {}),
    ...(decision.kind === "moving" ? { movingShard: decision.shard } : {}),
    ...((map.migrations?.length ?? 0) > 0 ? { movingSlots: map.migrations?.length } : {}),
    plan: plan.steps,
  };
}

export function registerAdminMemberRoutes(app: FastifyInstance, node: ShoalNode): void {
  parseBodiesAsJson(app, "rebalance");
  app.get("/v1/admin/nodes", { config: { command: "admin.nodes", doc: nodesDoc } }, () => adminNodesView(node));
  app.delete(
    "/v1/admin/nodes/:id",
    { schema: { params: nodeParams }, config: { command: "admin.removeNode", doc: removeDoc } },
    async (request, reply) => {
      const id = Number((request.params as { id: string }).id);
      await node.removeMember(id);
      void reply.status(202);
      return await adminNodesView(node);
    },
  );
  app.get("/v1/admin/rebalance", { config: { command: "admin.rebalance", doc: rebalanceDoc } }, async () =>
    adminRebalanceView(node),
  );
  app.post(
    "/v1/admin/rebalance",
    { schema: { body: rebalanceBody }, config: { command: "admin.rebalanceSet", doc: pauseDoc } },
    async (request) => {
      await node.setRebalancePaused((request.body as { paused: boolean }).paused);
      return adminRebalanceView(node);
    },
  );
}

const json = (schema: unknown) => ({ "application/json": { schema } });
const memberIds = { type: "array", items: { type: "integer" } };
const nodeSchema = {
  type: "object",
  properties: {
    id: { type: "integer" },
    peer: { type: "string" },
    http: { type: "string" },
    state: { type: "string", enum: ["active", "draining"] },
    live: { type: "boolean" },
    replicas: { type: "integer", description: "Replicas the cluster map gives it" },
    leads: { type: "integer", description: "Shards it leads" },
    meta: { type: "string", enum: ["voter", "learner", "none"] },
  },
};
const nodesSchema = {
  type: "object",
  properties: { epoch: { type: "integer" }, nodes: { type: "array", items: nodeSchema }, removed: memberIds },
};
const stepSchema = {
  type: "object",
  properties: {
    kind: { type: "string", enum: ["moveReplica", "setLeader", "removeMember"] },
    shard: { type: "integer" },
    from: { type: "integer" },
    to: { type: "integer" },
    member: { type: "integer" },
  },
};
const rebalanceSchema = {
  type: "object",
  properties: {
    epoch: { type: "integer" },
    paused: { type: "boolean" },
    state: { type: "string", enum: ["balanced", "moving", "step", "blocked"] },
    reason: { type: "string" },
    movingShard: { type: "integer" },
    movingSlots: { type: "integer", description: "Slots moving between shards" },
    plan: { type: "array", items: stepSchema },
  },
};
const nodeParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", pattern: "^[1-9][0-9]{0,6}$", description: "The member's id" } },
};
const rebalanceBody = {
  type: "object",
  required: ["paused"],
  additionalProperties: false,
  properties: { paused: { type: "boolean", description: "true pauses the rebalancer, false resumes it" } },
};

const nodesDoc: RouteDoc = {
  summary: "Every member: addresses, draining or not, reachable, replicas held, shards led, meta group role",
  responses: { "200": { description: "The members", content: json(nodesSchema) } },
};

const removeDoc: RouteDoc = {
  summary: "Drain a member and remove it from the cluster",
  description:
    "Recorded in the cluster map at once (202): the rebalancer moves each of the member's replicas to the member " +
    "holding the fewest, one at a time, then removes it; the meta group stops counting it and the node stops " +
    "itself. Done when `GET /v1/admin/nodes` no longer lists it. Its id is never given again. Refused (400) when " +
    "the other members could not hold every shard's replicas.",
  responses: {
    "202": { description: "Recorded; the drain runs", content: json(nodesSchema) },
    "400": { description: "Not a member, or too few members would be left", content: json(errorSchema) },
    "412": { description: "The cluster map kept changing meanwhile; retry", content: json(errorSchema) },
    "503": { description: "The meta group has no leader", content: json(errorSchema) },
  },
};

const rebalanceDoc: RouteDoc = {
  summary: "The rebalancer: paused or not, what it does next, and the plan to balanced",
  description:
    "The rebalancer runs on the meta group's leader: it drains members being removed, then evens out replicas " +
    "and preferred leaders over the members, one replica move at a time. Slots are not rebalanced yet.",
  responses: { "200": { description: "The rebalancer's state", content: json(rebalanceSchema) } },
};

const pauseDoc: RouteDoc = {
  summary: "Pause or resume the rebalancer (drains of members being removed go on while paused)",
  requestBody: { content: json(rebalanceBody) },
  responses: {
    "200": { description: "Recorded", content: json(rebalanceSchema) },
    "412": { description: "The cluster map kept changing meanwhile; retry", content: json(errorSchema) },
    "503": { description: "The meta group has no leader", content: json(errorSchema) },
  },
};
