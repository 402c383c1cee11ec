/**
 * @module Operating the cluster's layout over HTTP, under `/v1/admin/`: `GET /v1/admin/shards` (each shard's slots,
 * the members that should hold it, those being moved off it, its leader and, where this node holds a replica, the
 * members its Raft group counts) and `POST /v1/admin/shards/{id}/move` (move one replica from a member to
 * another: node/replica-mover.ts carries it out). A move answers 202 once recorded in the cluster map; it is done
 * when the shard lists no member as leaving.
 */
import type { FastifyInstance } from "fastify";
import type { ShoalNode } from "../node/shoal-node.js";
import { parseBodiesAsJson } from "./json-body.js";
import type { RouteDoc } from "./openapi.js";
import { errorSchema } from "./schemas.js";

/** One shard in `GET /v1/admin/shards` (the CLI reads the same type). */
export interface AdminShardView {
  readonly id: number;
  readonly slots: readonly (readonly [number, number])[];
  /** The members that should hold it (its voters once every move is done). */
  readonly replicas: readonly number[];
  /** Members being moved off it, still holding a replica. */
  readonly leaving: readonly number[];
  /** Its leader as this node knows it, 0 when unknown. */
  readonly leader: number;
  /** Its Raft group's voters and learners, when this node holds a replica. */
  readonly voters?: readonly number[];
  readonly learners?: readonly number[];
}

export interface AdminShardsView {
  /** The cluster map's epoch this node follows. */
  readonly epoch: number;
  /** Every member, as the map lists them. */
  readonly members: readonly number[];
  /** The meta group (on every member, holding the map) as this node's replica sees it. */
  readonly meta: { readonly leader: number; readonly voters: readonly number[]; readonly learners: readonly number[] };
  readonly shards: readonly AdminShardView[];
}

export function adminShardsView(node: ShoalNode): AdminShardsView {
  const meta = node.metaStatus();
  return {
    epoch: node.layout.epoch,
    members: node.layout.members,
    meta: { leader: meta.leaderId, voters: meta.confState.voters, learners: meta.confState.learners },
    shards: node.shardStatuses().map(({ id, slots, replicaIds, leavingIds, leaderId, raft }) => ({
      id,
      slots: slots.map(({ from, to }) => [from, to] as const),
      replicas: replicaIds,
      leaving: leavingIds,
      leader: leaderId,
      ...(raft === undefined ? {} : { voters: raft.confState.voters, learners: raft.confState.learners }),
    })),
  };
}

export function registerAdminRoutes(app: FastifyInstance, node: ShoalNode): void {
  parseBodiesAsJson(app, "move");
  app.get("/v1/admin/shards", { config: { command: "admin.shards", doc: shardsDoc } }, async () =>
    adminShardsView(node),
  );
  app.post(
    "/v1/admin/shards/:id/move",
    { schema: { params: shardParams, body: moveBody }, config: { command: "admin.move", doc: moveDoc } },
    async (request, reply) => {
      const id = Number((request.params as { id: string }).id);
      const { from, to } = request.body as { from: number; to: number };
      const map = await node.moveReplica(id, from, to);
      void reply.status(202);
      return { epoch: map.epoch, shard: adminShardsView(node).shards.find((shard) => shard.id === id) };
    },
  );
}

const json = (schema: unknown) => ({ "application/json": { schema } });
const memberIds = { type: "array", items: { type: "integer" } };
const shardSchema = {
  type: "object",
  properties: {
    id: { type: "integer" },
    slots: { type: "array", items: { type: "array", items: { type: "integer" } } },
    replicas: { ...memberIds, description: "The members that should hold it" },
    leaving: { ...memberIds, description: "Members being moved off it, still holding a replica" },
    leader: { type: "integer", description: "0 when unknown" },
    voters: { ...memberIds, description: "Its Raft group's voters (only where this node holds a replica)" },
    learners: { ...memberIds, description: "Its Raft group's learners (only where this node holds a replica)" },
  },
};
const shardParams = {
  type: "object",
  required: ["id"],
  // (Path parameters are strings: schemas here are not coerced.)
  properties: { id: { type: "string", pattern: "^[1-9][0-9]{0,8}$", description: "The shard (1, 2, …)" } },
};
const moveBody = {
  type: "object",
  required: ["from", "to"],
  additionalProperties: false,
  properties: {
    from: { type: "integer", minimum: 1, description: "The member giving up its replica" },
    to: { type: "integer", minimum: 1, description: "The member taking it" },
  },
};

const shardsDoc: RouteDoc = {
  summary: "Every shard's slots and replicas as the cluster map says, and moves in progress",
  responses: {
    "200": {
      description: "The shards",
      content: json({
        type: "object",
        properties: {
          epoch: { type: "integer" },
          members: memberIds,
          meta: {
            type: "object",
            description: "The meta group (every member; it holds the cluster map) as the answering node sees it",
            properties: { leader: { type: "integer" }, voters: memberIds, learners: memberIds },
          },
          shards: { type: "array", items: shardSchema },
        },
      }),
    },
  },
};

const moveDoc: RouteDoc = {
  summary: "Move one replica of a shard from a member to another",
  description:
    "Recorded in the cluster map at once (202); the shard's leader then adds the new member as a learner, waits " +
    "until it holds the log, promotes it, hands leadership away if it is leaving, and removes the old member, " +
    "whose replica is then deleted. The move is done when `GET /v1/admin/shards` lists no member leaving the " +
    "shard. One move per shard at a time; a member that once left a shard does not take it back under the same id.",
  requestBody: { content: json(moveBody) },
  responses: {
    "202": {
      description: "Recorded; the move runs",
      content: json({ type: "object", properties: { epoch: { type: "integer" }, shard: shardSchema } }),
    },
    "400": { description: "A move that makes no sense (the message says why)", content: json(errorSchema) },
    "412": { description: "The cluster map kept changing meanwhile; retry", content: json(errorSchema) },
    "503": {
      description: "The cluster map is not recorded yet, or the meta group has no leader",
      content: json(errorSchema),
    },
  },
};
