/**
 * @module What travels inside a frame: one msgpack-encoded envelope. Field names are one or two letters because
 * they are repeated in every frame.
 *
 * - `hello`: the first frame on every connection, from the dialling node; names the sender and the node it
 *   meant to reach (a mismatch means a misconfigured address and the connection is refused), and with `ch: 1`
 *   marks the connection as the sender's data channel (see PeerChannel).
 * - `raft`: one Raft message. `req`/`res`: the generic request/response RPC, matched by `id`; a response goes
 *   back on the connection its request came in on.
 *
 * Byte fields (`Uint8Array`) are msgpack `bin` and decode as Buffers (a Uint8Array subclass), copied out of the
 * receive buffer so a retained entry does not pin a whole socket chunk.
 *
 * Big byte fields (ATTACHMENT_BYTES_MIN and up: a big entry, a snapshot chunk, a forwarded 16 MiB command) do not
 * go through msgpack at all: packing copies them into msgpackr's buffer, and every fresh multi-megabyte buffer costs
 * tens of milliseconds of page faults on the event loop here (a 16 MiB value took ~110 ms per peer, issue 10).
 * Such a frame is `[0xc1][u32 head length][msgpack head][attachment bytes…]`: 0xc1 is the one byte msgpack never
 * uses, so it cannot start an ordinary envelope; in the head each big field is an extension value holding its
 * offset and length in the attachment area. The writer hands the parts to the socket without joining them
 * (`encodeEnvelopeParts`), and the reader slices the attachments out of the frame's own buffer without copying.
 */

import { addExtension, Packr, Unpackr } from "msgpackr";
import type { ErrorCode } from "../lib/errors.js";
import { isErrorCode, ShoalError } from "../lib/errors.js";
import type { Message, NodeId } from "../raft/types.js";
import { messageProblem } from "./message-validation.js";

export const PROTOCOL_VERSION = 1;

/**
 * A node dials each peer twice (etcd's rafthttp keeps its appends on a stream of their own for the same reason):
 * - `control`: heartbeats, votes, every response, liveness pings, small requests — small frames only, so they
 *   are never queued behind megabytes;
 * - `data`: appendEntries and snapshot chunks (ordered among themselves, as before) and big forwarded requests.
 * A 16 MiB entry takes hundreds of milliseconds to cross a busy node (read at most 1 MiB per turn); on one shared
 * connection the heartbeats behind it missed the election timeout and deposed a healthy leader (issue 10).
 */
export type PeerChannel = "control" | "data";

export interface HelloEnvelope {
  readonly k: "hello";
  readonly v: number;
  readonly from: NodeId;
  readonly to: NodeId;
  /** 1 on a data channel; absent on a control channel. */
  readonly ch?: 1;
}

/** The hello a node dials `to` with on `channel`. */
export function helloEnvelope(from: NodeId, to: NodeId, channel: PeerChannel): HelloEnvelope {
  return channel === "data"
    ? { k: "hello", v: PROTOCOL_VERSION, from, to, ch: 1 }
    : { k: "hello", v: PROTOCOL_VERSION, from, to };
}

/** The channel a hello opens. */
export function helloChannel(hello: HelloEnvelope): PeerChannel {
  return hello.ch === 1 ? "data" : "control";
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

/** Byte fields of this size and up travel as attachments (see the module comment). */
export const ATTACHMENT_BYTES_MIN = 64 * 1024;
const ATTACHED_FRAME = 0xc1;
const ATTACHED_HEADER_BYTES = 5;
/** msgpack extension type of an attachment reference (application types are 0–127; msgpackr's own are above 100). */
const ATTACHMENT_EXTENSION_TYPE = 65;
/** How deep into an envelope big byte fields are looked for (a Raft entry's data is at depth 4: m.entries[i].data). */
const ATTACHMENT_SEARCH_DEPTH = 6;

/** In a head, the place of one attachment: its offset and length within the attachment area. */
class AttachmentRef {
  constructor(
    readonly offset: number,
    readonly length: number,
  ) {}
}

/** The attachment area of the frame being decoded (unpacking is synchronous, so one slot suffices). */
let decodingAttachments: Buffer | undefined;

// Registered with msgpackr globally: only the transport creates AttachmentRef, and an extension 65 met outside a
// transport frame (in a command entry, say) fails to decode like any malformed input.
addExtension({
  Class: AttachmentRef,
  type: ATTACHMENT_EXTENSION_TYPE,
  pack(ref: AttachmentRef): Buffer {
    const out = Buffer.allocUnsafe(8);
    out.writeUInt32BE(ref.offset, 0);
    out.writeUInt32BE(ref.length, 4);
    return out;
  },
  unpack(data: Buffer): Buffer {
    const area = decodingAttachments;
    if (area === undefined || data.length !== 8) throw new Error("attachment reference outside an attachment frame");
    const offset = data.readUInt32BE(0);
    const end = offset + data.readUInt32BE(4);
    if (end > area.length) throw new Error("attachment reference beyond the frame");
    return area.subarray(offset, end);
  },
});

/** A frame payload kept in parts: the head, then each attachment as the caller's own bytes (never copied). */
export interface PartedPayload {
  readonly parts: readonly Uint8Array[];
  readonly length: number;
}

/** What a connection writes as one frame's payload. */
export type FramePayload = Buffer | PartedPayload;

/** The parts of a payload in order. */
export function payloadParts(payload: FramePayload): readonly Uint8Array[] {
  return payload instanceof Uint8Array ? [payload] : payload.parts;
}

/** Encodes an envelope for the wire, big byte fields as attachments (see the module comment). Throws (msgpackr's
 * error) when `p` holds something msgpack cannot represent. */
export function encodeEnvelopeParts(envelope: Envelope): FramePayload {
  const attachments: Uint8Array[] = [];
  const withRefs = replaceBigBytes(envelope, attachments, { offset: 0 }, ATTACHMENT_SEARCH_DEPTH);
  if (attachments.length === 0) return packr.pack(envelope);
  const head = packr.pack(withRefs);
  const prefix = Buffer.allocUnsafe(ATTACHED_HEADER_BYTES);
  prefix[0] = ATTACHED_FRAME;
  prefix.writeUInt32BE(head.length, 1);
  let length = ATTACHED_HEADER_BYTES + head.length;
  for (const attachment of attachments) length += attachment.length;
  return { parts: [prefix, head, ...attachments], length };
}

/** Encodes an envelope into one buffer (the same bytes `encodeEnvelopeParts` writes). */
export function encodeEnvelope(envelope: Envelope): Buffer {
  const payload = encodeEnvelopeParts(envelope);
  return payload instanceof Uint8Array ? payload : Buffer.concat(payload.parts as Uint8Array[], payload.length);
}

/** `value` with every byte field of ATTACHMENT_BYTES_MIN or more replaced by a reference to `attachments` (which
 * it appends to); containers are copied only on the path to a replaced field. */
function replaceBigBytes(value: unknown, attachments: Uint8Array[], area: { offset: number }, depth: number): unknown {
  if (value instanceof Uint8Array) {
    if (value.length < ATTACHMENT_BYTES_MIN) return value;
    attachments.push(value);
    const ref = new AttachmentRef(area.offset, value.length);
    area.offset += value.length;
    return ref;
  }
  if (depth === 0 || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const replaced = replaceBigBytes(item, attachments, area, depth - 1);
      if (replaced !== item) {
        copy ??= value.slice();
        copy[i] = replaced;
      }
    }
    return copy ?? value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const field = (value as Record<string, unknown>)[key];
    const replaced = replaceBigBytes(field, attachments, area, depth - 1);
    if (replaced !== field) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[key] = replaced;
    }
  }
  return copy ?? value;
}

/** The msgpack value of a frame payload, attachments resolved as views of the payload's buffer. */
function unpackPayload(payload: Buffer): unknown {
  if (payload[0] !== ATTACHED_FRAME) return unpackr.unpack(payload);
  if (payload.length < ATTACHED_HEADER_BYTES) throw new Error("attachment frame shorter than its header");
  const headEnd = ATTACHED_HEADER_BYTES + payload.readUInt32BE(1);
  if (headEnd > payload.length) throw new Error("attachment head beyond the frame");
  // A frame this size was assembled in a buffer of its own (it spans socket chunks), so views of it pin nothing
  // else; should it ever be a view of a larger buffer, the attachments are copied out as unpackr copies bins.
  const own = payload.byteLength * 2 >= payload.buffer.byteLength;
  const area = payload.subarray(headEnd);
  decodingAttachments = own ? area : Buffer.from(area);
  try {
    return unpackr.unpack(payload.subarray(ATTACHED_HEADER_BYTES, headEnd));
  } finally {
    decodingAttachments = undefined;
  }
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
    value = unpackPayload(payload);
  } catch (error) {
    throw malformed(`invalid msgpack (${error instanceof Error ? error.message.slice(0, 80) : "unknown"})`);
  }
  if (!isRecord(value)) throw malformed("not a map");
  switch (value.k) {
    case "hello":
      if (!isId(value.v) || !isId(value.from) || !isId(value.to)) throw malformed("bad hello fields");
      if (value.ch !== undefined && value.ch !== 1) throw malformed("bad hello channel");
      return value.ch === 1
        ? { k: "hello", v: value.v, from: value.from, to: value.to, ch: 1 }
        : { k: "hello", v: value.v, from: value.from, to: value.to };
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
