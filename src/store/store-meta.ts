/**
 * @module The scalars a store persists beside its keys, in the same atomic write as the data they describe.
 */
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import {
  decodeSlotStates,
  encodeSlotStatesInto,
  NO_SLOT_STATES,
  type SlotStates,
  slotStatesBytes,
} from "./slot-states.js";

export interface StoreMeta {
  /** Invariant: only ever advances by applying the next entry, or jumps by restoring a snapshot. */
  readonly appliedIndex: number;
  readonly revision: number;
  readonly clockMs: number;
  readonly keyCount: number;
  /** Keys and values, plus the rows of table-encoded collections (StoreStats.sizeBytes). */
  readonly sizeBytes: number;
  /** The replicated collection-id counter (ApplyState.nextCollectionId): replicated state, so it travels in
   * snapshots. Invariant: >= 1 and above every collection id in use or awaiting reclaim. */
  readonly nextCollectionId: number;
  /** The slots this shard does not simply own (slot-states.ts): replicated state, in snapshots too. */
  readonly slots: SlotStates;
}

export const EMPTY_META: StoreMeta = {
  appliedIndex: 0,
  revision: 0,
  clockMs: 0,
  keyCount: 0,
  sizeBytes: 0,
  nextCollectionId: 1,
  slots: NO_SLOT_STATES,
};

/** V1 had no collection counter; a V1 meta (a store written before collections) decodes with the counter at 1.
 * V3 adds the slot states after V2's fields; a meta without any is still written as V2 (so stores and snapshots
 * of clusters that never moved a slot are byte for byte what they were). */
const META_FORMAT_V1 = 1;
const META_FORMAT_V2 = 2;
const META_FORMAT_V3 = 3;
const FIELDS = ["appliedIndex", "revision", "clockMs", "keyCount", "sizeBytes", "nextCollectionId"] as const;
const V1_FIELD_COUNT = 5;

export function encodeMeta(meta: StoreMeta): Uint8Array {
  const withSlots = meta.slots.size > 0;
  const fieldsEnd = 1 + 8 * FIELDS.length;
  const bytes = new Uint8Array(fieldsEnd + (withSlots ? slotStatesBytes(meta.slots) : 0));
  const view = new DataView(bytes.buffer);
  view.setUint8(0, withSlots ? META_FORMAT_V3 : META_FORMAT_V2);
  if (withSlots) encodeSlotStatesInto(view, fieldsEnd, meta.slots);
  FIELDS.forEach((field, i) => {
    assert(Number.isSafeInteger(meta[field]) && meta[field] >= 0, `meta.${field} is a non-negative integer`);
    view.setFloat64(1 + 8 * i, meta[field]);
  });
  return bytes;
}

/** Throws BAD_REQUEST for bytes that are not an encoded meta (a corrupt snapshot); the caller adds context. */
export function decodeMeta(bytes: Uint8Array): StoreMeta {
  const fieldCount =
    bytes[0] === META_FORMAT_V2 || bytes[0] === META_FORMAT_V3
      ? FIELDS.length
      : bytes[0] === META_FORMAT_V1
        ? V1_FIELD_COUNT
        : undefined;
  const withSlots = bytes[0] === META_FORMAT_V3;
  if (
    fieldCount === undefined ||
    (withSlots ? bytes.length < 1 + 8 * fieldCount : bytes.length !== 1 + 8 * fieldCount)
  ) {
    throw new ShoalError("BAD_REQUEST", "Cannot decode store meta: wrong size or format");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const slots = withSlots ? decodeSlotStates(view, 1 + 8 * fieldCount) : NO_SLOT_STATES;
  const values = Array.from({ length: fieldCount }, (_, i) => view.getFloat64(1 + 8 * i));
  if (!values.every((value) => Number.isSafeInteger(value) && value >= 0)) {
    throw new ShoalError("BAD_REQUEST", "Cannot decode store meta: a field is not a non-negative integer");
  }
  const [appliedIndex, revision, clockMs, keyCount, sizeBytes, nextCollectionId = 1] = values as [
    number,
    number,
    number,
    number,
    number,
    number?,
  ];
  if (nextCollectionId < 1) throw new ShoalError("BAD_REQUEST", "Cannot decode store meta: collection counter below 1");
  return { appliedIndex, revision, clockMs, keyCount, sizeBytes, nextCollectionId, slots };
}
