/**
 * @module What travels inside a frame: one msgpack-encoded envelope. Field names are one or two letters because
 * they are repeated in every frame.
 *
 * - `hello`: the first frame on every connection, from the dialling node; names the sender and the node it
 *   meant to reach (a mismatch means a misconfigured address and the connection is refused).
 * - `raft`: one Raft message. `req`/`res`: the generic request/response RPC, matched by `id`; a response goes
 *   back on the connection its request came in on.
 *
 * Byte fields (`Uint8Array`) are msgpack `bin` and decode as Buffers (a Uint8Array subclass), copied out of the
 * receive buffer so a retained entry does not pin a whole socket chunk.
 */

import { Packr, Unpackr } from "msgpackr";
import type { ErrorCode } from "../lib/errors.js";
import { isErrorCode, ShoalError } from "../lib/errors.js";
import type { Message, NodeId } from "../raft/types.js";
import { messageProblem } from "./message-validation.js";

export const PROTOCOL_VERSION = 1;

export interface HelloEnvelope {
  readonly k: "hello";
  readonly v: number;
  readonly from: NodeId;
  readonly to: NodeId;
}
export interface RaftEnvelope {
  readonly k: "raft";
  readonly m: Message;
}
export interface RequestEnvelope {
  readonly k: "req";
  readonly id: number;
  readonly p: unknown;
}
export type ResponseEnvelope =
  | { readonly k: "res"; readonly id: number; readonly ok: true; readonly p: unknown }
  | { readonly k: "res"; readonly id: number; readonly ok: false; readonly code: ErrorCode; readonly msg: string };

export type Envelope = HelloEnvelope | RaftEnvelope | RequestEnvelope | ResponseEnvelope;

// Plain maps (no msgpackr records): every frame decodes on its own, whatever was sent before it.
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, copyBuffers: true, mapsAsObjects: true });

export { isErrorCode };

/** Encodes an envelope. Throws (msgpackr's error) when `p` holds something msgpack cannot represent. */
export function encodeEnvelope(envelope: Envelope): Buffer {
  return packr.pack(envelope);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function malformed(problem: string): ShoalError {
  return new ShoalError("BAD_REQUEST", `Cannot decode envelope: ${problem}`);
}

/** Decodes and validates one frame payload. Throws ShoalError BAD_REQUEST when it is not a valid envelope. */
export function decodeEnvelope(payload: Buffer): Envelope {
  let value: unknown;
  try {
    value = unpackr.unpack(payload);
  } catch (error) {
    throw malformed(`invalid msgpack (${error instanceof Error ? error.message.slice(0, 80) : "unknown"})`);
  }
  if (!isRecord(value)) throw malformed("not a map");
  switch (value.k) {
    case "hello":
      if (!isId(value.v) || !isId(value.from) || !isId(value.to)) throw malformed("bad hello fields");
      return { k: "hello", v: value.v, from: value.from, to: value.to };
    case "raft": {
      const problem = messageProblem(value.m);
      if (problem !== undefined) throw malformed(problem);
      return { k: "raft", m: value.m as Message };
    }
    case "req":
      if (!isId(value.id)) throw malformed("bad request id");
      return { k: "req", id: value.id, p: value.p };
    case "res":
      return decodeResponse(value);
    default:
      throw malformed(`unknown kind ${JSON.stringify(value.k)}`);
  }
}

function decodeResponse(value: Record<string, unknown>): ResponseEnvelope {
  if (!isId(value.id)) throw malformed("bad response id");
  if (value.ok === true) return { k: "res", id: value.id, ok: true, p: value.p };
  if (value.ok !== false || !isErrorCode(value.code) || typeof value.msg !== "string") {
    throw malformed("bad response fields");
  }
  return { k: "res", id: value.id, ok: false, code: value.code, msg: value.msg };
}
