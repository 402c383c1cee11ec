/**
 * @module The smallest host for the pure command semantics (tests only): records in a Map, applied command by
 * command, with the same ordering rules as the real stores (keys listed in bytewise order).
 */
import { type ApplyState, applyCommand } from "../apply-command.js";
import { keyFromId, keyId } from "../bytes.js";
import type { Command, CommandResult } from "../command.js";
import type { StoredRecord } from "../record.js";
import type { KeyspaceReader } from "../write-set.js";

export class MapStateMachine implements KeyspaceReader {
  readonly records = new Map<string, StoredRecord>();
  state: ApplyState = { revision: 0, clockMs: 0 };

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

  apply(command: Command): CommandResult {
    const outcome = applyCommand(this, command, this.state);
    for (const mutation of outcome.mutations) {
      if (mutation.record === undefined) this.records.delete(keyId(mutation.key));
      else this.records.set(keyId(mutation.key), mutation.record);
    }
    this.state = outcome.state;
    return outcome.result;
  }
}
