/**
 * @module Moving hash slots between shards over HTTP: `GET /v1/admin/slots` (the slots moving now, in the order
 * they move, and what this node's slot mover did) and `POST /v1/admin/slots/move` (`{"slots": [..], "to": shard}`:
 * recorded in the cluster map at once, 202; each source shard's leader then moves them one at a time:
 * node/slot-mover.ts). A slot's move is done when it is no longer listed; `GET /v1/admin/shards` then shows it in
 * its new shard's ranges.
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
}

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
    "409": { description: "The cluster map changed meanwhile; retry", content: json(errorSchema) },
    "503": {
      description: "The cluster map is not recorded yet, or the meta group has no leader",
      content: json(errorSchema),
    },
  },
};
