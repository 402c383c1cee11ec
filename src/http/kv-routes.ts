/**
 * @module The data API: `/v1/kv/{key}` reads and writes with raw-byte values, `GET /v1/kv` ranges by prefix,
 * and `POST /v1/txn`. Keys are the URL path after `/v1/kv/` (slashes allowed), UTF-8 encoded.
 *
 * Revision headers: a write answers `x-shoal-revision` (the group's revision after it); a read answers the
 * key's `x-shoal-mod-revision`, `x-shoal-create-revision`, `x-shoal-version` and an `ETag` of its mod revision
 * (so `If-Match` can echo it), plus `x-shoal-revision`, the store's revision the read saw.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import type { CommandResult, PutCommand } from "../commands/command.js";
import { COMMAND_LIMITS } from "../commands/limits.js";
import { ShoalError } from "../lib/errors.js";
import type { ShoalNode } from "../node/shoal-node.js";
import { parseBodiesAsJson } from "./json-body.js";
import type { RouteDoc } from "./openapi.js";
import {
  errorSchema,
  keyParams,
  keyValueSchema,
  kvDeleteQuery,
  kvGetQuery,
  kvPutHeaders,
  kvPutQuery,
  RANGE_LIMIT_ACCEPTS,
  RANGE_LIMIT_DEFAULT,
  RANGE_LIMIT_MAX,
  rangeQuery,
  TTL_ACCEPTS,
  TTL_SECONDS_MAX,
  txnBody,
  txnQuery,
} from "./schemas.js";
import { parseTxnBody, renderKeyValue, renderTxnResult, ttlMsOfSeconds } from "./txn-body.js";
import { invalidParameter } from "./validation-message.js";

const encoder = new TextEncoder();
/** A range page stops early once its values add up to this, so one answer stays a bounded size. */
const RANGE_PAGE_BYTES_MAX = 4 * 1024 * 1024;

const json = (schema: unknown) => ({ "application/json": { schema } });
const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [String(status), { description: "Error", content: json(errorSchema) }]));
const revisionAnswer = json({ type: "object", properties: { revision: { type: "integer" } } });

export function registerKvRoutes(app: FastifyInstance, node: ShoalNode): void {
  // Values are raw bytes, whatever the content type says.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));

  app.get<{ Querystring: { prefix?: string; after?: string; limit?: string; consistency?: string } }>(
    "/v1/kv",
    { schema: { querystring: rangeQuery }, config: { command: "kv.range", doc: rangeDoc } },
    async (request, reply) => {
      const { prefix = "", after, limit: limitText, consistency } = request.query;
      const limit = limitText === undefined ? RANGE_LIMIT_DEFAULT : Number(limitText);
      if (limit < 1 || limit > RANGE_LIMIT_MAX)
        throw invalidParameter("querystring", "limit", RANGE_LIMIT_ACCEPTS, limitText);
      const kvs = await node.range(
        encoder.encode(prefix),
        after === undefined ? undefined : encoder.encode(after),
        limit + 1,
        consistency === "stale",
      );
      const page: Record<string, unknown>[] = [];
      let bytes = 0;
      for (const kv of kvs.slice(0, limit)) {
        if (page.length > 0 && bytes + kv.value.byteLength > RANGE_PAGE_BYTES_MAX) break;
        bytes += kv.value.byteLength;
        page.push(renderKeyValue(kv));
      }
      const more = page.length < kvs.length;
      void reply.header("x-shoal-revision", String(node.store.revision()));
      return {
        kvs: page,
        more,
        ...(more ? { next: page[page.length - 1]?.key } : {}),
        revision: node.store.revision(),
      };
    },
  );

  app.get<{ Params: { "*": string }; Querystring: { consistency?: string } }>(
    "/v1/kv/*",
    { schema: { params: keyParams, querystring: kvGetQuery }, config: { command: "kv.get", doc: getDoc } },
    async (request, reply) => {
      const key = parseKey(request.params["*"]);
      const { kv, revision } = await node.getWithRevision(key, request.query.consistency === "stale");
      // The revision of the key's shard the read saw (answered by a member holding it when this node does not).
      void reply.header("x-shoal-revision", String(revision));
      if (kv === undefined) throw new ShoalError("NOT_FOUND", "Key not found");
      // A hash written over RESP has no single value to return (the raw bytes are its storage encoding).
      if (kv.type !== "string") throw new ShoalError("WRONG_TYPE", `Key holds a ${kv.type}, not a string`);
      void reply
        .header("content-type", "application/octet-stream")
        .header("etag", `"${kv.modRevision}"`)
        .header("x-shoal-mod-revision", String(kv.modRevision))
        .header("x-shoal-create-revision", String(kv.createRevision))
        .header("x-shoal-version", String(kv.version));
      if (kv.expiresAtMs > 0) void reply.header("x-shoal-expires-at-ms", String(kv.expiresAtMs));
      return Buffer.from(kv.value.buffer, kv.value.byteOffset, kv.value.byteLength);
    },
  );

  app.put<{ Params: { "*": string }; Querystring: { ttl?: string } }>(
    "/v1/kv/*",
    {
      schema: { params: keyParams, querystring: kvPutQuery, headers: kvPutHeaders },
      // The body is the value: exactly the value limit is accepted, one byte more is refused unread.
      bodyLimit: COMMAND_LIMITS.valueSizeBytesMax,
      config: { command: "kv.put", doc: putDoc },
    },
    async (request, reply) => {
      const key = parseKey(request.params["*"]);
      const body = request.body;
      const value =
        body instanceof Buffer ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength) : new Uint8Array(0);
      const ttlMs = parseTtl(request.query.ttl);
      const condition = parseCondition(header(request.headers["if-match"]), header(request.headers["if-none-match"]));
      const command: PutCommand = {
        op: "put",
        key,
        value,
        nowMs: Date.now(),
        ...condition,
        ...(ttlMs === undefined ? {} : { ttlMs }),
      };
      return sendResult(reply, await node.submit(command));
    },
  );

  app.delete<{ Params: { "*": string } }>(
    "/v1/kv/*",
    { schema: { params: keyParams, querystring: kvDeleteQuery }, config: { command: "kv.delete", doc: deleteDoc } },
    async (request, reply) => {
      const key = parseKey(request.params["*"]);
      const result = await node.delete(key);
      if (result.kind === "delete" && result.prev === undefined) {
        void reply.header("x-shoal-revision", String(result.revision));
        throw new ShoalError("NOT_FOUND", "Key not found");
      }
      return sendResult(reply, result);
    },
  );
}

/** `POST /v1/txn`, in a scope whose body parser reads JSON whatever the content type (curl -d sends a form
 * type). The body must be UTF-8: bytes that are not are refused rather than replaced. */
export function registerTxnRoute(app: FastifyInstance, node: ShoalNode): void {
  parseBodiesAsJson(app, "txn");
  app.post(
    "/v1/txn",
    // The body becomes one entry (plus JSON's quoting): no bigger body could fit one.
    {
      schema: { querystring: txnQuery, body: txnBody },
      bodyLimit: COMMAND_LIMITS.entrySizeBytesMax,
      config: { command: "txn", doc: txnDoc },
    },
    async (request, reply) => {
      if (request.body === undefined) throw new ShoalError("BAD_REQUEST", "Cannot parse txn: the body is empty");
      const result = await node.submit(parseTxnBody(request.body, Date.now()));
      const rendered = renderTxnResult(result);
      void reply.header("x-shoal-revision", String(result.revision));
      return rendered;
    },
  );
}

function sendResult(reply: FastifyReply, result: CommandResult): unknown {
  if (result.kind === "error") {
    throw new ShoalError(result.code, result.message);
  }
  if (result.kind === "conflict") {
    const current = result.current === undefined ? 0 : result.current.modRevision;
    void reply.header("x-shoal-revision", String(result.revision));
    throw new ShoalError("CONFLICT", `Precondition failed: the key's mod revision is ${current}`, {
      modRevision: current,
    });
  }
  void reply.header("x-shoal-revision", String(result.revision));
  return { revision: result.revision };
}

function parseKey(raw: string | undefined): Uint8Array {
  if (raw === undefined || raw.length === 0) throw new ShoalError("BAD_REQUEST", "Cannot use an empty key");
  return encoder.encode(raw);
}

function header(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) throw new ShoalError("BAD_REQUEST", "Cannot use a conditional header twice");
  return value;
}

/** `If-Match: <mod_revision>` (compare-and-swap; 0 means "absent") and `If-None-Match: *` (create only). */
function parseCondition(
  ifMatch: string | undefined,
  ifNoneMatch: string | undefined,
): Pick<PutCommand, "ifModRevision" | "ifAbsent"> {
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw new ShoalError("BAD_REQUEST", "Cannot combine If-Match and If-None-Match");
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== "*")
      throw new ShoalError("BAD_REQUEST", 'Cannot parse If-None-Match: only "*" is supported');
    return { ifAbsent: true };
  }
  if (ifMatch === undefined) return {};
  const revision = Number(ifMatch.trim().replace(/^"(.*)"$/, "$1"));
  if (ifMatch.trim() === "" || !Number.isSafeInteger(revision) || revision < 0) {
    throw new ShoalError("BAD_REQUEST", `Cannot parse If-Match "${ifMatch}": expected a mod revision`);
  }
  return { ifModRevision: revision };
}

function parseTtl(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(seconds) || seconds <= 0 || seconds > TTL_SECONDS_MAX) {
    throw invalidParameter("querystring", "ttl", TTL_ACCEPTS, raw);
  }
  return ttlMsOfSeconds(seconds);
}

const rangeDoc: RouteDoc = {
  summary: "List keys by prefix, a page at a time (linearizable unless consistency=stale)",
  responses: {
    "200": {
      description: "One page; when `more` is true, ask again with `after` set to `next`",
      content: json({
        type: "object",
        required: ["kvs", "more", "revision"],
        properties: {
          kvs: { type: "array", items: keyValueSchema },
          more: { type: "boolean" },
          next: { type: "string" },
          revision: { type: "integer" },
        },
      }),
    },
    ...errors(400, 503, 504),
  },
};

const getDoc: RouteDoc = {
  summary: "Read a key: the value is the body, its revisions are headers",
  responses: {
    "200": {
      description: "The value (raw bytes)",
      content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
    },
    ...errors(400, 404, 503, 504),
  },
};

const putDoc: RouteDoc = {
  summary: "Write a key (the body is the value); conditional with If-Match or If-None-Match",
  requestBody: { content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } },
  responses: {
    "200": { description: "Written at this revision", content: revisionAnswer },
    "412": {
      description: "The condition failed; `modRevision` is the key's current one (0: absent)",
      content: json(errorSchema),
    },
    ...errors(400, 413, 503, 504),
  },
};

const deleteDoc: RouteDoc = {
  summary: "Delete a key",
  responses: {
    "200": { description: "Deleted at this revision", content: revisionAnswer },
    ...errors(400, 404, 503, 504),
  },
};

const txnDoc: RouteDoc = {
  summary:
    "An etcd-style transaction: if every compare holds run `success`, else `failure`, atomically at one revision",
  requestBody: { content: json(txnBody) },
  responses: {
    "200": {
      description: "Which branch ran, the revision after it, and one response per op",
      content: json({
        type: "object",
        properties: {
          succeeded: { type: "boolean" },
          revision: { type: "integer" },
          responses: {
            type: "array",
            items: {
              type: "object",
              properties: {
                op: { type: "string", enum: ["put", "delete", "get"] },
                kv: { oneOf: [keyValueSchema, { type: "null" }] },
                prev: { oneOf: [keyValueSchema, { type: "null" }] },
              },
            },
          },
        },
      }),
    },
    ...errors(400, 413, 503, 504),
  },
};
