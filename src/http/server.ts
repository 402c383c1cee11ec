/**
 * @module The HTTP API (fastify): `/v1/kv/{key}` reads and writes, `/v1/cluster` membership and Raft status,
 * `/healthz`. Keys are the URL path after `/v1/kv/` (slashes allowed), UTF-8 encoded; values are raw bodies.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import type { CommandResult, PutCommand } from "../commands/command.js";
import { ShoalError } from "../lib/errors.js";
import type { ShoalNode } from "../node/shoal-node.js";
import { httpError } from "./error-response.js";
import { clusterView } from "./cluster-view.js";
import { parseTxnBody, renderTxnResult } from "./txn-body.js";

const encoder = new TextEncoder();
const BODY_BYTES_MAX = 16 * 1024 * 1024;

export function createHttpServer(node: ShoalNode): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: BODY_BYTES_MAX });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error, _request, reply) => {
    const { status, body } = httpError(error);
    void reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ code: "NOT_FOUND", message: `No route for ${request.method} ${request.url}` });
  });

  app.get("/healthz", async () => ({ ok: true }));

  app.get("/v1/cluster", async () => clusterView(node));

  app.get<{ Params: { "*": string }; Querystring: { consistency?: string } }>("/v1/kv/*", async (request, reply) => {
    const key = parseKey(request.params["*"]);
    const consistency = request.query.consistency ?? "linearizable";
    if (consistency !== "linearizable" && consistency !== "stale") {
      throw new ShoalError("BAD_REQUEST", `Cannot parse consistency "${consistency}": expected linearizable or stale`);
    }
    const kv = await node.get(key, consistency === "stale");
    if (kv === undefined) throw new ShoalError("NOT_FOUND", "Key not found");
    void reply
      .header("content-type", "application/octet-stream")
      .header("x-shoal-mod-revision", String(kv.modRevision))
      .header("x-shoal-create-revision", String(kv.createRevision))
      .header("x-shoal-version", String(kv.version));
    if (kv.expiresAtMs > 0) void reply.header("x-shoal-expires-at-ms", String(kv.expiresAtMs));
    return Buffer.from(kv.value.buffer, kv.value.byteOffset, kv.value.byteLength);
  });

  app.put<{ Params: { "*": string }; Querystring: { ttl?: string } }>("/v1/kv/*", async (request, reply) => {
    const key = parseKey(request.params["*"]);
    const body = request.body;
    const value = body instanceof Buffer ? new Uint8Array(body) : new Uint8Array(0);
    const ttlMs = parseTtl(request.query.ttl);
    const condition = parseCondition(request.headers["if-match"], request.headers["if-none-match"]);
    const command: PutCommand = { op: "put", key, value, nowMs: Date.now(), ...condition, ...(ttlMs === undefined ? {} : { ttlMs }) };
    return sendResult(reply, await node.submit(command));
  });

  app.post("/v1/txn", async (request, reply) => {
    const body = request.body;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body instanceof Buffer ? body.toString("utf8") : "");
    } catch {
      throw new ShoalError("BAD_REQUEST", "Cannot parse txn: the body is not JSON");
    }
    const result = await node.submit(parseTxnBody(parsed, Date.now()));
    const rendered = renderTxnResult(result);
    void reply.header("x-shoal-revision", String(result.revision));
    return rendered;
  });

  app.delete<{ Params: { "*": string } }>("/v1/kv/*", async (request, reply) => {
    const key = parseKey(request.params["*"]);
    const result = await node.delete(key);
    if (result.kind === "delete" && result.prev === undefined) throw new ShoalError("NOT_FOUND", "Key not found");
    return sendResult(reply, result);
  });

  return app;
}

function sendResult(reply: FastifyReply, result: CommandResult): unknown {
  if (result.kind === "error") {
    throw new ShoalError(result.code, result.message);
  }
  if (result.kind === "conflict") {
    const current = result.current === undefined ? 0 : result.current.modRevision;
    throw new ShoalError("CONFLICT", `Precondition failed: the key's mod revision is ${current}`, { modRevision: current });
  }
  void reply.header("x-shoal-revision", String(result.revision));
  return { revision: result.revision };
}

function parseKey(raw: string | undefined): Uint8Array {
  if (raw === undefined || raw.length === 0) throw new ShoalError("BAD_REQUEST", "Cannot use an empty key");
  return encoder.encode(raw);
}

/** `If-Match: <mod_revision>` (compare-and-swap; 0 means "absent") and `If-None-Match: *` (create only). */
function parseCondition(ifMatch: string | undefined, ifNoneMatch: string | undefined): Pick<PutCommand, "ifModRevision" | "ifAbsent"> {
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw new ShoalError("BAD_REQUEST", "Cannot combine If-Match and If-None-Match");
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== "*") throw new ShoalError("BAD_REQUEST", 'Cannot parse If-None-Match: only "*" is supported');
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
  if (raw.trim() === "" || !Number.isFinite(seconds) || seconds <= 0 || seconds > 10 * 365 * 24 * 3600) {
    throw new ShoalError("BAD_REQUEST", `Cannot parse ttl "${raw}": expected a positive number of seconds`);
  }
  return Math.max(1, Math.round(seconds * 1000));
}
