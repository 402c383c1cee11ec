/**
 * @module Turning what went wrong on the wire into ShoalErrors: an error answer's `{code, message}` body, and a
 * fetch that never got an answer.
 */
import { type ErrorCode, isErrorCode, ShoalError } from "../lib/errors.js";

/** Connection errors that mean the request never reached a server, so any request may go elsewhere. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "EADDRNOTAVAIL",
]);

/** Reads an error answer into a ShoalError (the body is `{code, message}` for every error Shoal sends). */
export async function errorFromResponse(response: Response, endpoint: string): Promise<ShoalError> {
  const text = await response.text().catch(() => "");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined; // not JSON: a proxy or something that is not Shoal answered
  }
  return (
    errorFromBody(body) ??
    new ShoalError(codeForStatus(response.status), `${endpoint} answered HTTP ${response.status}`)
  );
}

/** A ShoalError from a parsed `{code, message, ...detail}` body; undefined if the body is not one. */
export function errorFromBody(body: unknown): ShoalError | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const { code, message, ...detail } = body as Record<string, unknown>;
  if (typeof code !== "string" || !isErrorCode(code) || typeof message !== "string") return undefined;
  return new ShoalError(code as ErrorCode, message, detail);
}

function codeForStatus(status: number): ErrorCode {
  if (status === 404) return "NOT_FOUND";
  if (status === 412) return "CONFLICT";
  if (status === 503) return "UNAVAILABLE";
  if (status === 504) return "TIMEOUT";
  return status >= 400 && status < 500 ? "BAD_REQUEST" : "INTERNAL";
}

export interface FetchFailure {
  /** True when the request certainly never reached a server (safe to send elsewhere even if not idempotent). */
  readonly notSent: boolean;
  /** Short and lower case, for "Cannot reach X (reason)". */
  readonly reason: string;
}

/** Classifies what a rejected fetch() threw. */
export function describeFetchFailure(error: unknown): FetchFailure {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return { notSent: false, reason: error.name === "TimeoutError" ? "timed out" : "aborted" };
  }
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === "string" ? cause.code : "";
  if (code === "ECONNREFUSED") return { notSent: true, reason: "connection refused" };
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return { notSent: true, reason: "host not found" };
  if (NOT_SENT_CODES.has(code)) return { notSent: true, reason: code.toLowerCase() };
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET") return { notSent: false, reason: "connection reset" };
  const message =
    typeof cause?.message === "string" ? cause.message : error instanceof Error ? error.message : String(error);
  return { notSent: false, reason: code === "" ? message : `${code.toLowerCase()}: ${message}` };
}
