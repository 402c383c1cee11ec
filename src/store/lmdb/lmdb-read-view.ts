/**
 * @module A read-only view of a store's LMDB environment, for a thread other than the one that applies entries
 * (the RESP server's read workers run commands whose cost follows the data, such as KEYS or a big MGET, there,
 * so they never hold up the node's event loop and with it Raft's heartbeats).
 *
 * LMDB serves readers on any thread concurrently with the writer (MVCC): a read transaction sees every commit
 * made before it began and nothing after, so one `read` call — one transaction — sees one consistent state,
 * never half of an applied batch. lmdb-js shares one native environment per path within the process, so the
 * view costs no second mapping of the file. The environment is lent by `LmdbStore.lendEnvironment`, which keeps
 * it open until the reader is done even if a snapshot restore retires it meanwhile.
 */
import { open } from "lmdb";
import { assert } from "../../lib/assert.js";
import { plainBytes } from "../../lib/bytes.js";
import { isStorableKey } from "../key-range.js";
import type { StoredRecord } from "../record.js";
import { decodeRecord } from "../record-codec.js";
import { decodeMeta, EMPTY_META, type StoreMeta } from "../store-meta.js";
import type { CollectionRow, KeyspaceReader } from "../write-set.js";
import type { LmdbDatabase } from "./lmdb-env.js";
import { DATA_END, DATA_START, dataKey, META_KEY, rowKeyOf, rowPrefix, rowStoreKey, userKey } from "./lmdb-store.js";

type Transaction = ReturnType<LmdbDatabase["useReadTransaction"]>;

export class LmdbReadView {
  readonly path: string;
  readonly #db: LmdbDatabase;

  private constructor(path: string, db: LmdbDatabase) {
    this.path = path;
    this.#db = db;
  }

  /** Opens the environment at `path` (an `LmdbStore.lendEnvironment` path) for reading. */
  static open(path: string): LmdbReadView {
    return new LmdbReadView(
      path,
      open<Uint8Array, Buffer>({ path, keyEncoding: "binary", encoding: "binary", readOnly: true }),
    );
  }

  /** Runs `body` inside one read transaction: every read it makes sees the same committed state. */
  read<T>(body: (reader: KeyspaceReader, meta: StoreMeta) => T): T {
    // lmdb-js keeps a thread's read transaction between calls; reset it so this one starts after every commit
    // made before the call (the caller's ReadIndex barrier is only meaningful if we see those commits).
    this.#db.resetReadTxn();
    const transaction = this.#db.useReadTransaction();
    try {
      const metaBytes = this.#db.get(META_KEY, { transaction });
      const meta = metaBytes === undefined ? EMPTY_META : decodeMeta(metaBytes);
      return body(transactionReader(this.#db, transaction, meta), meta);
    } finally {
      transaction.done();
      // Do not pin old pages between requests: a held read transaction keeps the writer from reusing them.
      this.#db.resetReadTxn();
    }
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}

function transactionReader(db: LmdbDatabase, transaction: Transaction, meta: StoreMeta): KeyspaceReader {
  return {
    getRecord(key: Uint8Array): StoredRecord | undefined {
      // Such a key was never stored (apply refuses it) and is longer than LMDB takes.
      if (!isStorableKey(key)) return undefined;
      const bytes = db.get(dataKey(key), { transaction });
      return bytes === undefined ? undefined : decodeRecord(bytes);
    },
    keysAfter(after: Uint8Array | undefined, limit: number): Uint8Array[] {
      assert(Number.isSafeInteger(limit) && limit > 0, "keysAfter limit is a positive integer");
      const rows = db.getKeys({
        start: after === undefined ? DATA_START : dataKey(after),
        end: DATA_END,
        exclusiveStart: after !== undefined,
        limit,
        transaction,
      });
      return [...rows].map((row) => userKey(row as Uint8Array));
    },
    keyCount: () => meta.keyCount,
    getRow(collectionId: number, rowKey: Uint8Array): Uint8Array | undefined {
      const bytes = db.get(rowStoreKey(collectionId, rowKey), { transaction });
      return bytes === undefined ? undefined : plainBytes(bytes);
    },
    rowsAfter(collectionId: number, after: Uint8Array | undefined, limit: number): CollectionRow[] {
      assert(Number.isSafeInteger(limit) && limit > 0, "rowsAfter limit is a positive integer");
      const rows = db.getRange({
        start: after === undefined ? rowPrefix(collectionId) : rowStoreKey(collectionId, after),
        end: rowPrefix(collectionId + 1),
        exclusiveStart: after !== undefined,
        limit,
        transaction,
      });
      return [...rows].map(({ key, value }) => ({ rowKey: rowKeyOf(key), value: plainBytes(value) }));
    },
  };
}
