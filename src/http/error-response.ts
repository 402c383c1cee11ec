/**
 * @module The one mapping from Shoal's error codes to HTTP: a status and a JSON body `{code, message, ...detail}`
 * (detail: machine-readable extras such as the current `modRevision` of a CAS conflict or the
 * `oldestRevision` a watch may start from). Fastify's own errors (schema validation, body too large, bad JSON)
 * are 4xx and map to BAD_REQUEST or TOO_LARGE here too, so a client only ever sees this one shape.
 */
import { entryTooLarge, valueTooLong } from "../commands/limits.js";
import type { ErrorCode } from "../lib/errors.js";
import { ShoalError } from "../lib/errors.js";
import { type SchemaFailure, schemaFailureError } from "./validation-message.js";

const statusByCode: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  CONFLICT: 412,
  WRONG_TYPE: 409,
  UNAUTHENTICATED: 401,
  WRONG_PASSWORD: 401,
  EXEC_ABORTED: 409,
  UNSUPPORTED_PROTOCOL: 400,
  TOO_LARGE: 413,
  COMPACTED: 410,
  NOT_LEADER: 503,
  UNAVAILABLE: 503,
  PROPOSAL_DROPPED: 503,
  CLUSTER_DOWN: 503,
  MOVED: 421,
  ASK: 421,
  SLOT_MIGRATING: 503,
  CROSS_SLOT: 400,
  CROSS_SHARD: 409,
  // WebDAV's "Insufficient Storage": the server cannot store what the request would add, until keys go.
  OUT_OF_MEMORY: 507,
  NOT_IMPLEMENTED: 501,
  TIMEOUT: 504,
  UNKNOWN_OUTCOME: 504,
  INTERNAL: 500,
};

export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly [detail: string]: unknown;
}

export function httpError(error: unknown): { status: number; body: ErrorBody } {
  const failed = error as { validation?: unknown; validationContext?: unknown } | undefined;
  if (Array.isArray(failed?.validation)) {
    // A schema refused the request: one sentence naming the parameter, never the validator's text.
    return httpError(schemaFailureError(failed.validation as SchemaFailure[], String(failed.validationContext)));
  }
  if (error instanceof ShoalError) {
    return { status: statusByCode[error.code], body: { ...error.detail, code: error.code, message: error.message } };
  }
  const fastifyError = error as { statusCode?: unknown; message?: unknown };
  if (typeof fastifyError?.statusCode === "number" && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    const status = fastifyError.statusCode;
    const code: ErrorCode = status === 413 ? "TOO_LARGE" : status === 404 ? "NOT_FOUND" : "BAD_REQUEST";
    return { status, body: { code, message: String(fastifyError.message ?? "Bad request") } };
  }
  return { status: 500, body: { code: "INTERNAL", message: "Internal error" } };
}

/** Fastify's "body too large" in the words of the bound behind it: a PUT's body is the value, a txn's body
 * becomes one replicated entry. */
export function bodyTooLarge(command: string | undefined): ShoalError {
  return command === "kv.put" ? valueTooLong() : entryTooLarge();
}

/** A route exists for the path but not for the method. */
export function methodNotAllowed(
  method: string,
  path: string,
  allowed: readonly string[],
): { status: number; body: ErrorBody } {
  return {
    status: 405,
    body: { code: "BAD_REQUEST", message: `Cannot ${method} ${path}: the allowed methods are ${allowed.join(", ")}` },
  };
}

/** The raw HTTP/1.1 answer to bytes that are not a parsable request (no fastify request exists yet). */
export function rawClientError(reason: string, status = 400): string {
  const body = JSON.stringify({
    code: status === 413 || status === 431 ? "TOO_LARGE" : "BAD_REQUEST",
    message: reason,
  });
  const statusText =
    status === 431 ? "Request Header Fields Too Large" : status === 413 ? "Payload Too Large" : "Bad Request";
  return (
    `HTTP/1.1 ${status} ${statusText}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}
