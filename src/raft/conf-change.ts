/**
 * @module The encoding of a membership change inside a `confChange` log entry. Conf changes are rare, so a
 * readable JSON encoding is worth more than a compact one.
 */
import type { ConfChange } from "./types.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(change: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify(change));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const value: unknown = JSON.parse(decoder.decode(data));
  if (typeof value !== "object" || value === null) throw new TypeError("Cannot decode conf change: not an object");
  const { type, nodeId, context } = value as Record<string, unknown>;
  if (type !== "addVoter" && type !== "addLearner" && type !== "removeNode") {
    throw new TypeError(`Cannot decode conf change: unknown type ${String(type)}`);
  }
  if (typeof nodeId !== "number" || !(nodeId > 0)) throw new TypeError("Cannot decode conf change: bad node id");
  return typeof context === "string" ? { type, nodeId, context } : { type, nodeId };
}
