/**
 * @module Moving hash slots between shards over HTTP: `GET /v1/admin/slots` (the slots moving now, in the order
 * they move, and what this node's slot mover did), `POST /v1/admin/slots/move` (`{"slots": [..], "to": shard}`:
 * recorded in the cluster map at once, 202; each source shard's leader then moves them in batches:
 * node/slot-mover.ts), `POST /v1/admin/shards/{id}/split` (a new shard takes about half of its keys' slots) and
 * `POST /v1/admin/shards/{id}/merge` (`{"into": shard}`: every slot moves there, then the shard is dropped). A
 * slot's move is done when it is no longer listed; `GET /v1/admin/shards` then shows it in its new shard's ranges.
 */
import type { FastifyInstance } from "fastify";
import type { ShoalNode } from "../node/shoal-node.js";
import type { SlotMigration } from "../slots/cluster-map.js";
import { parseBodiesAsJson } from "./json-body.js";
import type { RouteDoc } from "./openapi.js";
import { errorSchema } from "./schemas.js";

export interface AdminSlotsView {
  readonly epoch: number;
  /** The slots still moving, in the order they were asked for. */
  readonly moving: readonly SlotMigration[];
  /** What this node's slot mover did since it started (as the leader of source shards). */
  readonly mover: { readonly slotsMoved: number; readonly keysMoved: number; readonly bytesMoved: number };
}

export function adminSlotsView(node: ShoalNode): AdminSlotsView {
  const { slotsMoved, keysMoved, bytesMoved } = node.slotMover.counters;
  return {
    epoch: node.layout.epoch,
    moving: node.layout.map.migrations ?? [],
    mover: { slotsMoved, keysMoved, bytesMoved },
  };
}

export function registerAdminSlotRoutes(app: FastifyInstance, node: ShoalNode): void {
  parseBodiesAsJson(app, "slot move");
  app.addHook("preValidation", async (request) => {
    // A split takes no body: an empty one is fine (fastify's JSON parser would refuse "").
    if (request.routeOptions.url?.endsWith("/split") === true && request.body === undefined) request.body = {};
  });
  app.get("/v1/admin/slots", { config: { command: "admin.slots", doc: slotsDoc } }, async () => adminSlotsView(node));
  app.post(
    "/v1/admin/slots/move",
    { schema: { body: moveSlotsBody }, config: { command: "admin.moveSlots", doc: moveSlotsDoc } },
    async (request, reply) => {
      const { slots, to } = request.body as { slots: number[]; to: number };
      await node.moveSlots(slots, to);
      void reply.status(202);
      return adminSlotsView(node);
    },
  );
  app.post(
    "/v1/admin/shards/:id/split",
    { schema: { params: shardParams }, config: { command: "admin.splitShard", doc: splitDoc } },
    async (request, reply) => {
      const id = Number((request.params as { id: string }).id);
      const map = await node.splitShard(id);
      void reply.status(202);
      return { ...adminSlotsView(node), shard: map.lastShardId };
    },
  );
  app.post(
    "/v1/admin/shards/:id/merge",
    { schema: { params: shardParams, body: mergeBody }, config: { command: "admin.mergeShard", doc: mergeDoc } },
    async (request, reply) => {
      const id = Number((request.params as { id: string }).id);
      await node.mergeShard(id, (request.body as { into: number }).into);
      void reply.status(202);
      return adminSlotsView(node);
    },
  );
}

const shardParams = {
  type: "object",
  required: ["id"],
  // (Path parameters are strings: schemas here are not coerced.)
  properties: { id: { type: "string", pattern: "^[1-9][0-9]{0,4}$", description: "The shard (1, 2, …)" } },
};
const mergeBody = {
  type: "object",
  required: ["into"],
  additionalProperties: false,
  properties: { into: { type: "integer", minimum: 1, maximum: 65535, description: "The shard taking its slots" } },
};

const json = (schema: unknown) => ({ "application/json": { schema } });
const migrationSchema = {
  type: "object",
  properties: { slot: { type: "integer" }, from: { type: "integer" }, to: { type: "integer" } },
};
const slotsViewSchema = {
  type: "object",
  properties: {
    epoch: { type: "integer" },
    moving: { type: "array", items: migrationSchema },
    mover: {
      type: "object",
      properties: {
        slotsMoved: { type: "integer" },
        keysMoved: { type: "integer" },
        bytesMoved: { type: "integer" },
      },
    },
  },
};
const moveSlotsBody = {
  type: "object",
  required: ["slots", "to"],
  additionalProperties: false,
  properties: {
    slots: {
      type: "array",
      minItems: 1,
      maxItems: 16384,
      items: { type: "integer", minimum: 0, maximum: 16383 },
      description: "The hash slots to move (0-16383)",
    },
    to: { type: "integer", minimum: 1, maximum: 65535, description: "The shard taking them" },
  },
};

const splitDoc: RouteDoc = {
  summary: "Split a shard in two",
  description:
    "Creates a new shard (the next unused id) on the same members, led by another of them where it can, and " +
    "moves the upper part of the shard's slots to it — about half of its keys when the answering node holds a " +
    "replica of it, else half of its slots. Recorded at once (202, `shard` names the new one); the slots move " +
    "as `POST /v1/admin/slots/move` moves them, and the rebalancer may then move the new shard's replicas.",
  responses: {
    "202": { description: "Recorded; the slots move", content: json({ ...slotsViewSchema }) },
    "400": { description: "An unknown shard, one with one slot, or one with slots moving", content: json(errorSchema) },
    "412": { description: "The cluster map kept changing meanwhile; retry", content: json(errorSchema) },
  },
};

const mergeDoc: RouteDoc = {
  summary: "Merge a shard into another",
  description:
    "Every slot of the shard moves to `into`; once it holds none, the cluster map drops it and its members " +
    "delete their replicas (its id is never given again). Recorded at once (202).",
  requestBody: { content: json(mergeBody) },
  responses: {
    "202": { description: "Recorded; the slots move", content: json(slotsViewSchema) },
    "400": { description: "An unknown shard, itself, or one being merged already", content: json(errorSchema) },
    "412": { description: "The cluster map kept changing meanwhile; retry", content: json(errorSchema) },
  },
};

const slotsDoc: RouteDoc = {
  summary: "The hash slots moving between shards now",
  responses: { "200": { description: "The slots moving", content: json(slotsViewSchema) } },
};

const moveSlotsDoc: RouteDoc = {
  summary: "Move hash slots to another shard",
  description:
    "Recorded in the cluster map at once (202). Each source shard's leader then moves the slots one at a time: " +
    "the slot's keys become read-only for the moment of the copy (a write waits inside the node, or answers " +
    "TRYAGAIN to a Redis client after 2 s), are copied to the destination, and the slot is handed off — a Redis " +
    "Cluster client is sent -ASK, then -MOVED once the map records the end. A slot is done when `GET " +
    "/v1/admin/slots` no longer lists it. Slots already in the shard are left out; every shard must keep a slot.",
  requestBody: { content: json(moveSlotsBody) },
  responses: {
    "202": { description: "Recorded; the slots move", content: json(slotsViewSchema) },
    "400": { description: "A move that makes no sense (the message says why)", content: json(errorSchema) },
    "412": { description: "The cluster map kept changing meanwhile; retry", content: json(errorSchema) },
    "503": {
      description: "The cluster map is not recorded yet, or the meta group has no leader",
      content: json(errorSchema),
    },
  },
};
