/**
 * @module The listing bound of one log entry (COMMAND_LIMITS.logListedCountMax), counted over a keyspace reader.
 */
import { ShoalError } from "../../lib/errors.js";
import type { KeyspaceReader } from "../../store/write-set.js";

/**
 * Bounds the keys and collection rows the commands of one log entry list (COMMAND_LIMITS.logListedCountMax): a
 * KEYS or HGETALL inside MULTI runs in apply, on the leader's event loop, and must not stall it. Past the bound the
 * command answers an error and changes nothing; outside MULTI such reads run off the loop, unbounded.
 */
export class ListingBudget {
  readonly #max: number;
  #listed = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** `reader` with every key and row it lists counted against this budget. */
  over(reader: KeyspaceReader): KeyspaceReader {
    return {
      getRecord: (key) => reader.getRecord(key),
      keyCount: () => reader.keyCount(),
      getRow: (collectionId, rowKey) => reader.getRow(collectionId, rowKey),
      keysAfter: (after, limit) => this.#spend(reader.keysAfter(after, limit)),
      rowsAfter: (collectionId, after, limit) => this.#spend(reader.rowsAfter(collectionId, after, limit)),
    };
  }

  #spend<T>(listed: T[]): T[] {
    this.#listed += listed.length;
    if (this.#listed > this.#max) {
      throw new ShoalError(
        "TOO_LARGE",
        `a transaction may list at most ${this.#max} keys or fields (it runs in the replicated log, where more ` +
          "would stall the node): run this command outside MULTI",
      );
    }
    return listed;
  }
}
