/**
 * @module The smallest keyspace (tests only): records and collection rows in Maps, listed in bytewise order as
 * the real stores list them. A base for write sets in tests, and for the command layer's map state machine.
 */
import { keyFromId, keyId } from "../../lib/bytes.js";
import type { SortedIdMap } from "../../lib/sorted-ids.js";
import type { StoredRecord } from "../record.js";
import type { CollectionRow, KeyspaceReader } from "../write-set.js";

export class MapKeyspace implements KeyspaceReader {
  readonly records = new Map<string, StoredRecord>();
  /** Collection id → row id (latin1) → value. */
  readonly rows = new Map<number, SortedIdMap<Uint8Array>>();

  getRecord(key: Uint8Array): StoredRecord | undefined {
    return this.records.get(keyId(key));
  }

  keysAfter(after: Uint8Array | undefined, limit: number): Uint8Array[] {
    const afterId = after === undefined ? undefined : keyId(after);
    return [...this.records.keys()]
      .filter((id) => afterId === undefined || id > afterId)
      .sort()
      .slice(0, limit)
      .map(keyFromId);
  }

  keyCount(): number {
    return this.records.size;
  }

  getRow(collectionId: number, rowKey: Uint8Array): Uint8Array | undefined {
    return this.rows.get(collectionId)?.values.get(keyId(rowKey));
  }

  rowsAfter(collectionId: number, after: Uint8Array | undefined, limit: number): CollectionRow[] {
    const rows = this.rows.get(collectionId);
    if (rows === undefined) return [];
    return rows
      .idsAfter(after === undefined ? undefined : keyId(after), limit)
      .map((id) => ({ rowKey: keyFromId(id), value: rows.values.get(id) as Uint8Array }));
  }
}
