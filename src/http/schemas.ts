/**
 * @module The JSON schemas fastify validates requests against (and the OpenAPI document is built from).
 * Validation runs WITHOUT type coercion (server.ts), so query strings and headers are declared as strings with a
 * pattern and converted by the handler: what is not exactly right is refused, never silently reinterpreted.
 *
 * A schema that a failure could not describe by itself (every pattern) says in `x-accepts` what it accepts, in
 * words: a refused request answers "Query parameter 'ttl' must be <x-accepts>, not \"-1\"" (validation-message.ts).
 * The annotation also appears in the OpenAPI document (an `x-` extension is valid there).
 */
import { COMMAND_LIMITS } from "../commands/limits.js";
import { SHARD_COUNT_MAX } from "../slots/slot-map.js";
import { ACCEPTS } from "./validation-message.js";

export const RANGE_LIMIT_DEFAULT = 100;
export const RANGE_LIMIT_MAX = 1000;
export const TTL_SECONDS_MAX = 10 * 365 * 24 * 3600;

/** What the parameters checked beyond their schema accept (the handler's refusal says the same). */
export const TTL_ACCEPTS = `a positive number of seconds (up to 3 decimals, at most ${TTL_SECONDS_MAX})`;
export const RANGE_LIMIT_ACCEPTS = `an integer from 1 to ${RANGE_LIMIT_MAX}`;
export const FROM_REVISION_ACCEPTS = "a revision, 1 or more (omit it to watch from now)";
export const WATCH_CURSOR_ACCEPTS = "the id of the last event received (revisions joined by dots)";
/** A watch cursor: one revision per shard watched, joined by dots (node/merged-watcher.ts); a node may host up to
 * SHARD_COUNT_MAX shards, and the handler checks the count against the shards actually watched. */
const WATCH_CURSOR_PATTERN = `^[0-9]{1,15}(\\.[0-9]{1,15}){0,${SHARD_COUNT_MAX - 1}}$`;

const unsignedInteger = (accepts: string) =>
  ({ type: "string", pattern: "^[0-9]{1,15}$", [ACCEPTS]: accepts }) as const;
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
  ttl: {
    type: "string",
    pattern: "^[0-9]{1,10}(\\.[0-9]{1,3})?$",
    [ACCEPTS]: TTL_ACCEPTS,
    description: "Expire after this many seconds",
  },
});

export const kvDeleteQuery = query({});

export const txnQuery = query({});

export const kvPutHeaders = {
  type: "object",
  properties: {
    "if-match": {
      type: "string",
      pattern: '^\\s*"?[0-9]{1,15}"?\\s*$',
      [ACCEPTS]: 'a mod revision, quoted or not (the ETag of a read), or 0 for "only if absent"',
      description: "Write only if the key's mod revision is this (0: only if absent)",
    },
    "if-none-match": { type: "string", enum: ["*"], description: "Write only if the key does not exist" },
  },
} as const;

export const rangeQuery = query({
  prefix: { type: "string", description: "Only keys starting with this (default: every key)" },
  after: { type: "string", description: "Only keys sorting after this one: the `next` of the previous page" },
  limit: {
    ...unsignedInteger(RANGE_LIMIT_ACCEPTS),
    description: `Keys per page, 1..${RANGE_LIMIT_MAX} (default ${RANGE_LIMIT_DEFAULT})`,
  },
  consistency,
});

export const watchQuery = query({
  prefix: { type: "string", description: "Only keys starting with this (default: every key)" },
  from_revision: {
    ...unsignedInteger(FROM_REVISION_ACCEPTS),
    description:
      "Replay from this revision (inclusive); over several shards, each shard from its own revision N; default: from now",
  },
  cursor: {
    type: "string",
    pattern: WATCH_CURSOR_PATTERN,
    [ACCEPTS]: WATCH_CURSOR_ACCEPTS,
    description:
      "Resume after this cursor: the `id:` of the last event received (revisions of every shard watched, joined by dots)",
  },
});

export const samplesQuery = query({
  after: {
    ...unsignedInteger("a time in milliseconds since the epoch"),
    description: "Only samples taken after this time (ms since the epoch); default: every sample held",
  },
});

export const watchHeaders = {
  type: "object",
  properties: {
    "last-event-id": {
      type: "string",
      pattern: WATCH_CURSOR_PATTERN,
      [ACCEPTS]: WATCH_CURSOR_ACCEPTS,
      description: "Resume after this event id (sent by EventSource on reconnect); as `cursor`",
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
  // The value's type follows the target. Each branch applies only to a valid target (`required` in the `if`
  // too), so a bad or missing target is reported as such rather than as a value of the wrong type.
  allOf: [
    {
      if: { required: ["target"], properties: { target: { const: "value" } } },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a thenable
      then: { properties: { value: { type: "string", [ACCEPTS]: 'a string (the target is "value")' } } },
    },
    {
      if: { required: ["target"], properties: { target: { enum: ["version", "createRevision", "modRevision"] } } },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a thenable
      then: {
        properties: {
          value: {
            type: "integer",
            minimum: 0,
            [ACCEPTS]: "a non-negative integer (the target is a revision or version)",
          },
        },
      },
    },
  ],
} as const;

const txnOp = {
  type: "object",
  required: ["op", "key"],
  additionalProperties: false,
  properties: {
    op: { type: "string", enum: ["put", "delete", "get"] },
    key: txnKey,
    value: { type: "string" },
    ttl: {
      type: "number",
      exclusiveMinimum: 0,
      [ACCEPTS]: "a positive number of seconds",
      description: "put only: expire after this many seconds",
    },
  },
  if: { required: ["op"], properties: { op: { const: "put" } } },
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

/** A record as JSON (record-json.ts): `value` for a string, `hash` for a hash; exactly one of them. */
export const keyValueSchema = {
  type: "object",
  required: ["key", "createRevision", "modRevision", "version"],
  properties: {
    key: { type: "string" },
    value: { type: "string", description: "A string's value (UTF-8)" },
    hash: {
      type: "object",
      additionalProperties: { type: "string" },
      description: "A hash's fields and their values (a hash written over RESP); present instead of value",
    },
    createRevision: { type: "integer" },
    modRevision: { type: "integer" },
    version: { type: "integer" },
    expiresAtMs: { type: "integer" },
  },
} as const;
