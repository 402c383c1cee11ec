/**
 * @module The JSON schemas fastify validates requests against (and the OpenAPI document is built from).
 * Validation runs WITHOUT type coercion (server.ts), so query strings and headers are declared as strings with a
 * pattern and converted by the handler: what is not exactly right is refused, never silently reinterpreted.
 */
import { COMMAND_LIMITS } from "../commands/limits.js";

export const RANGE_LIMIT_DEFAULT = 100;
export const RANGE_LIMIT_MAX = 1000;

const unsignedInteger = { type: "string", pattern: "^[0-9]{1,15}$" } as const;
const consistency = {
  type: "string",
  enum: ["linearizable", "stale"],
  description: "linearizable (default) reads through ReadIndex; stale answers from this node's state as it is",
} as const;

/** A query string that accepts only the named parameters. */
function query(properties: Record<string, unknown>): Record<string, unknown> {
  return { type: "object", properties, additionalProperties: false };
}

export const keyParams = {
  type: "object",
  properties: { "*": { type: "string", description: "The key (UTF-8; slashes allowed)" } },
} as const;

export const kvGetQuery = query({ consistency });

export const kvPutQuery = query({
  ttl: { type: "string", pattern: "^[0-9]{1,10}(\\.[0-9]{1,3})?$", description: "Expire after this many seconds" },
});

export const kvDeleteQuery = query({});

export const kvPutHeaders = {
  type: "object",
  properties: {
    "if-match": {
      type: "string",
      pattern: '^\\s*"?[0-9]{1,15}"?\\s*$',
      description: "Write only if the key's mod revision is this (0: only if absent)",
    },
    "if-none-match": { type: "string", enum: ["*"], description: "Write only if the key does not exist" },
  },
} as const;

export const rangeQuery = query({
  prefix: { type: "string", description: "Only keys starting with this (default: every key)" },
  after: { type: "string", description: "Only keys sorting after this one: the `next` of the previous page" },
  limit: { ...unsignedInteger, description: `Keys per page, 1..${RANGE_LIMIT_MAX} (default ${RANGE_LIMIT_DEFAULT})` },
  consistency,
});

export const watchQuery = query({
  prefix: { type: "string", description: "Only keys starting with this (default: every key)" },
  from_revision: { ...unsignedInteger, description: "Replay from this revision (inclusive); default: from now" },
});

export const watchHeaders = {
  type: "object",
  properties: {
    "last-event-id": {
      ...unsignedInteger,
      description: "Resume after this revision (sent by EventSource on reconnect)",
    },
  },
} as const;

const txnKey = { type: "string", minLength: 1 } as const;

const txnCompare = {
  type: "object",
  required: ["key", "target", "op", "value"],
  additionalProperties: false,
  properties: {
    key: txnKey,
    target: { type: "string", enum: ["value", "version", "createRevision", "modRevision"] },
    op: { type: "string", enum: ["==", "!=", "<", ">"] },
    value: { description: "A string for target value, else a non-negative integer" },
  },
  if: { properties: { target: { const: "value" } } },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a thenable
  then: { properties: { value: { type: "string" } } },
  else: { properties: { value: { type: "integer", minimum: 0 } } },
} as const;

const txnOp = {
  type: "object",
  required: ["op", "key"],
  additionalProperties: false,
  properties: {
    op: { type: "string", enum: ["put", "delete", "get"] },
    key: txnKey,
    value: { type: "string" },
    ttl: { type: "number", exclusiveMinimum: 0, description: "put only: expire after this many seconds" },
  },
  if: { properties: { op: { const: "put" } } },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a thenable
  then: { required: ["op", "key", "value"] },
} as const;

const txnOps = {
  type: "array",
  items: txnOp,
  description: `At most ${COMMAND_LIMITS.txnOpsCountMax} ops; a branch writes each key at most once`,
} as const;

export const txnBody = {
  type: "object",
  additionalProperties: false,
  properties: {
    compare: { type: "array", items: txnCompare, description: `At most ${COMMAND_LIMITS.txnOpsCountMax} compares` },
    success: txnOps,
    failure: txnOps,
  },
} as const;

/** For the OpenAPI document: the shapes answered. */
export const errorSchema = {
  type: "object",
  required: ["code", "message"],
  properties: {
    code: {
      type: "string",
      enum: [
        "BAD_REQUEST",
        "NOT_FOUND",
        "CONFLICT",
        "TOO_LARGE",
        "COMPACTED",
        "NOT_LEADER",
        "UNAVAILABLE",
        "PROPOSAL_DROPPED",
        "TIMEOUT",
        "UNKNOWN_OUTCOME",
        "INTERNAL",
      ],
    },
    message: { type: "string" },
  },
  additionalProperties: true,
} as const;

export const keyValueSchema = {
  type: "object",
  required: ["key", "value", "createRevision", "modRevision", "version"],
  properties: {
    key: { type: "string" },
    value: { type: "string" },
    createRevision: { type: "integer" },
    modRevision: { type: "integer" },
    version: { type: "integer" },
    expiresAtMs: { type: "integer" },
  },
} as const;
