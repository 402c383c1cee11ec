/**
 * @module The smallest host for the pure command semantics (tests only): records and collection rows in Maps
 * (store/testing/map-keyspace.ts), applied command by command, with the same ordering rules as the real stores.
 * Rows of dropped collections are left in place (unreachable), as the stores leave them to a reclaimer.
 */
import { keyId } from "../../lib/bytes.js";
import { SortedIdMap } from "../../lib/sorted-ids.js";
import { MapKeyspace } from "../../store/testing/map-keyspace.js";
import { type ApplyState, applyCommand } from "../apply-command.js";
import type { Command, CommandResult } from "../command.js";

export class MapStateMachine extends MapKeyspace {
  state: ApplyState = { revision: 0, clockMs: 0, nextCollectionId: 1 };

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
