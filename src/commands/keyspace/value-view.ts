/**
 * @module A stored value as a typed view, for whoever renders one outside the command semantics (the HTTP API's
 * JSON, watch events): a string's bytes, or a hash's field count and — while it is compact — its fields. The
 * keyspace owns the encodings (hash-value.ts, store/collection.ts); a renderer never decodes them itself.
 */

import { keyFromId } from "../../lib/bytes.js";
import { ShoalError } from "../../lib/errors.js";
import { collectionOf } from "../../store/collection.js";
import type { StoredRecord } from "../../store/record.js";
import { decodeHash } from "./hash-value.js";

export type ValueView =
  | { readonly type: "string"; readonly value: Uint8Array }
  | {
      readonly type: "hash";
      readonly encoding: "compact" | "table";
      readonly fieldCount: number;
      /** The fields in order, for a compact hash only (a table hash's fields are rows: read them through the
       * keyspace, a bounded page at a time, e.g. HSCAN). */
      readonly fields?: readonly (readonly [field: Uint8Array, value: Uint8Array])[];
    };

/** The view of a stored record, without reading any collection rows: O(1) for a table hash. */
export function valueView(record: StoredRecord): ValueView {
  switch (record.type) {
    case "string":
      return { type: "string", value: record.value };
    case "hash": {
      const collection = collectionOf(record);
      if (collection !== undefined) return { type: "hash", encoding: "table", fieldCount: collection.size };
      const fields = [...decodeHash(record.value)].map(([id, value]) => [keyFromId(id), value] as const);
      return { type: "hash", encoding: "compact", fieldCount: fields.length, fields };
    }
    default:
      throw new ShoalError("INTERNAL", `Cannot view a value of type ${String((record as StoredRecord).type)}`);
  }
}
