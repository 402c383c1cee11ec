/**
 * @module A Redis command's reply as plain data: what the command semantics produce, what crosses the peer
 * transport (msgpack: integers beyond 2^53 travel as bigint) and what `resp/` encodes for RESP2 or RESP3.
 * Storage-neutral and protocol-neutral: the RESP3-only shapes (map, set, double) degrade to RESP2 in the writer.
 */
import type { ErrorCode } from "../../lib/errors.js";

export type Reply =
  | { readonly kind: "simple"; readonly value: string }
  /** A typed error; `resp/` maps the code to Redis's prefix (BAD_REQUEST → ERR, WRONG_TYPE → WRONGTYPE…) once. */
  | { readonly kind: "error"; readonly code: ErrorCode; readonly message: string }
  | { readonly kind: "integer"; readonly value: number | bigint }
  | { readonly kind: "bulk"; readonly value: Uint8Array }
  /** A missing value: RESP2 `$-1`, RESP3 `_`. */
  | { readonly kind: "null" }
  /** A missing aggregate: RESP2 `*-1`, RESP3 `_` (e.g. an EXEC whose WATCHed keys changed). */
  | { readonly kind: "nullArray" }
  | { readonly kind: "array"; readonly items: readonly Reply[] }
  /** RESP3 `%` (HGETALL); RESP2 a flat array of alternating keys and values. */
  | { readonly kind: "map"; readonly entries: readonly (readonly [Reply, Reply])[] }
  /** RESP3 an array of [a, b] arrays; RESP2 one flat array a1, b1, a2, b2… (HRANDFIELD … WITHVALUES). */
  | { readonly kind: "pairs"; readonly pairs: readonly (readonly [Reply, Reply])[] }
  /** RESP3 `~`; RESP2 an array. */
  | { readonly kind: "set"; readonly items: readonly Reply[] }
  /** RESP3 `,`; RESP2 a bulk string. */
  | { readonly kind: "double"; readonly value: number }
  /** RESP3 `=txt:`; RESP2 a bulk string (INFO, CLIENT INFO). */
  | { readonly kind: "verbatim"; readonly value: string }
  /** A reply already encoded for the connection's protocol version: computed off the event loop by a read
   * worker (resp/server/read-offload/), handed to the socket as it is — also when a member holding the shard
   * computed it for the asking node (node/remote-shard.ts, in the protocol that node named). */
  | { readonly kind: "encoded"; readonly bytes: Uint8Array };

const textEncoder = new TextEncoder();

export const OK: Reply = { kind: "simple", value: "OK" };
export const NULL: Reply = { kind: "null" };
export const NULL_ARRAY: Reply = { kind: "nullArray" };

export function simple(value: string): Reply {
  return { kind: "simple", value };
}

export function integer(value: number | bigint): Reply {
  return { kind: "integer", value };
}

export function bulk(value: Uint8Array | string): Reply {
  return { kind: "bulk", value: typeof value === "string" ? textEncoder.encode(value) : value };
}

/** A bulk string, or null when absent (GET of a missing key). */
export function bulkOrNull(value: Uint8Array | undefined): Reply {
  return value === undefined ? NULL : { kind: "bulk", value };
}

export function array(items: readonly Reply[]): Reply {
  return { kind: "array", items };
}

export function bulkArray(values: readonly (Uint8Array | undefined)[]): Reply {
  return { kind: "array", items: values.map(bulkOrNull) };
}

export function errorReply(code: ErrorCode, message: string): Reply {
  return { kind: "error", code, message };
}
