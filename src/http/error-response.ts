/**
 * @module The one mapping from Shoal's error codes to HTTP: a status and a JSON body `{code, message}`.
 */
import type { ErrorCode } from "../lib/errors.js";
import { ShoalError } from "../lib/errors.js";

const statusByCode: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  CONFLICT: 412,
  WRONG_TYPE: 409,
  TOO_LARGE: 413,
  COMPACTED: 410,
  NOT_LEADER: 503,
  UNAVAILABLE: 503,
  PROPOSAL_DROPPED: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
};

export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
}

export function httpError(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof ShoalError) {
    return { status: statusByCode[error.code], body: { code: error.code, message: error.message } };
  }
  // Fastify's own errors (body too large, bad content) carry a 4xx statusCode.
  const statusCode = (error as { statusCode?: unknown })?.statusCode;
  if (typeof statusCode === "number" && statusCode >= 400 && statusCode < 500) {
    const code: ErrorCode = statusCode === 413 ? "TOO_LARGE" : "BAD_REQUEST";
    return { status: statusCode, body: { code, message: (error as Error).message } };
  }
  return { status: 500, body: { code: "INTERNAL", message: "Internal error" } };
}
