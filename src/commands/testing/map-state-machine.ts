/**
 * @module The smallest host for the pure command semantics (tests only): records and collection rows in Maps,
 * applied command by command, with the same ordering rules as the real stores (keys and rows listed in bytewise
 * order). Rows of dropped collections are left in place (unreachable), as the stores leave them to a reclaimer.
 */
import { type ApplyState, applyCommand } from "../apply-command.js";
import { keyFromId, keyId } from "../bytes.js";
import type { Command, CommandResult } from "../command.js";
import type { StoredRecord } from "../record.js";
import { SortedIdMap } from "../sorted-ids.js";
import type { CollectionRow, KeyspaceReader } from "../write-set.js";

export class MapStateMachine implements KeyspaceReader {
  readonly records = new Map<string, StoredRecord>();
  /** Collection id → row id (latin1) → value. */
  readonly rows = new Map<number, SortedIdMap<Uint8Array>>();
  state: ApplyState = { revision: 0, clockMs: 0, nextCollectionId: 1 };

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

  apply(command: Command): CommandResult {
    const outcome = applyCommand(this, command, this.state);
    if (outcome.flushed) {
      this.records.clear();
      this.rows.clear();
    }
    for (const mutation of outcome.mutations) {
      if (mutation.record === undefined) this.records.delete(keyId(mutation.key));
      else this.records.set(keyId(mutation.key), mutation.record);
    }
    for (const { collectionId, rowKey, value } of outcome.rowMutations) {
      const rows = this.rows.get(collectionId) ?? new SortedIdMap<Uint8Array>();
      this.rows.set(collectionId, rows);
      if (value === undefined) rows.delete(keyId(rowKey));
      else rows.set(keyId(rowKey), value);
    }
    this.state = outcome.state;
    return outcome.result;
  }
}
