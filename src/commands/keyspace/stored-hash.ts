/**
 * @module One hash as command handlers use it (Keyspace.hash): field reads and writes, the length, ordered
 * iteration, a cursor scan and a random field, over either encoding (hash-value.ts), which handlers never see.
 * On a table-encoded hash every field operation costs O(1) rows (O(log n) in LMDB) and the header record;
 * only iteration is O(n), a bounded page of rows at a time.
 */
import { assert } from "../../lib/assert.js";
import { EMPTY_BYTES, keyFromId, keyId } from "../../lib/bytes.js";
import type { Random } from "../../lib/prng.js";
import {
  type CollectionHeader,
  collectionRowBytes,
  decodeCollectionHeader,
  encodeCollectionHeader,
  isTableEncoded,
} from "../../store/collection.js";
import type { CollectionRow, CollectionRows, RowReader } from "../../store/write-set.js";
import {
  decodeHash,
  encodeHash,
  fitsCompact,
  HASH_COMPACT_FIELDS_MAX,
  type HashFields,
  hashRowKey,
  positionRowKey,
  rowPosition,
} from "./hash-value.js";

export interface HashEntry {
  readonly field: Uint8Array;
  readonly value: Uint8Array;
}

/** What a hash writes through: the keyspace, which stamps revisions and keeps the key's TTL. */
export interface HashWriter {
  /** The rows to write (asserts in a read-only keyspace). */
  rows(): CollectionRows;
  /** Stores the key's record value (a compact hash, or a table hash's header). */
  writeValue(value: Uint8Array): void;
  deleteKey(): void;
  /** A new collection: an id from the replicated counter and a row-key seed from the entry's PRNG. */
  newCollection(): { readonly collectionId: number; readonly seed: bigint };
}

/** Rows read per page while iterating a table hash. */
const PAGE_ROWS = 1024;
/** A random field is drawn among this many consecutive fields after a random position, not the first one after
 * it: row keys are hashes, so the gaps before fields vary, and averaging over a window evens out the bias, as
 * Redis's dictGetFairRandomKey samples 15 entries for the same reason. Smaller hashes draw from all fields. */
const FAIR_SAMPLE_FIELDS = 16;

export class StoredHash {
  readonly #rows: RowReader;
  readonly #writer: HashWriter;
  /** Invariant: exactly one of #compact and #table is set. */
  #compact: HashFields | undefined;
  #table: CollectionHeader | undefined;

  /** `value` is the stored record's value, or undefined for an absent key (an empty hash until a field is set). */
  constructor(value: Uint8Array | undefined, rows: RowReader, writer: HashWriter) {
    this.#rows = rows;
    this.#writer = writer;
    if (value !== undefined && isTableEncoded(value)) this.#table = decodeCollectionHeader(value);
    else this.#compact = value === undefined ? new Map() : decodeHash(value);
  }

  get encoding(): "compact" | "table" {
    return this.#table === undefined ? "compact" : "table";
  }

  /** The number of fields: O(1). */
  get size(): number {
    return this.#table?.size ?? (this.#compact as HashFields).size;
  }

  get(field: Uint8Array): Uint8Array | undefined {
    if (this.#table === undefined) return (this.#compact as HashFields).get(keyId(field));
    const row = this.#rows.getRow(this.#table.collectionId, hashRowKey(this.#table.seed, field));
    return row === undefined ? undefined : decodeHash(row).get(keyId(field));
  }

  /** Sets each pair in order (a field given twice takes the later value) and writes the record once; returns how
   * many fields were new. Converts to the table encoding when a threshold is crossed (hash-value.ts). */
  set(pairs: readonly (readonly [field: Uint8Array, value: Uint8Array])[]): number {
    let added = 0;
    for (const [field, value] of pairs) if (this.#setOne(field, value)) added++;
    this.#store();
    return added;
  }

  /** Deletes the fields, writing only when one existed (Redis touches WATCHed keys only then); the key goes
   * with its last field. Returns how many were deleted. */
  delete(fields: readonly Uint8Array[]): number {
    let deleted = 0;
    for (const field of fields) if (this.#deleteOne(field)) deleted++;
    if (deleted > 0) this.#store();
    return deleted;
  }

  /** Every field in the hash's order (insertion order when compact, row order when table), read lazily. */
  *entries(): Generator<HashEntry> {
    if (this.#table === undefined) {
      for (const [id, value] of this.#compact as HashFields) yield { field: keyFromId(id), value };
      return;
    }
    const { collectionId } = this.#table;
    for (let after: Uint8Array | undefined; ; ) {
      const page = this.#rows.rowsAfter(collectionId, after, PAGE_ROWS);
      for (const row of page) yield* rowEntries(row);
      if (page.length < PAGE_ROWS) return;
      after = (page[page.length - 1] as CollectionRow).rowKey;
    }
  }

  /**
   * HSCAN's step: up to `count` rows (about as many fields) from `cursor`, and the cursor to continue from (0
   * when done). A table hash's cursor is the 64-bit position of the next row, valid on every replica and across
   * writes: a field present from the first call to the last is returned exactly once, since its position never
   * moves. A compact hash answers everything with cursor 0, whatever the cursor, as redis-server does for a
   * listpack.
   */
  scan(cursor: bigint, count: number): { readonly cursor: bigint; readonly entries: HashEntry[] } {
    if (this.#table === undefined) return { cursor: 0n, entries: [...this.entries()] };
    const after = cursor === 0n ? undefined : positionRowKey(cursor - 1n);
    const rows = this.#rows.rowsAfter(this.#table.collectionId, after, count + 1);
    const next = rows.length > count ? rowPosition((rows[count] as CollectionRow).rowKey) : 0n;
    return { cursor: next, entries: rows.slice(0, count).flatMap(rowEntries) };
  }

  /** A random field of a non-empty hash. Uniform for hashes of up to 4 × FAIR_SAMPLE_FIELDS fields; for larger
   * table hashes one of the FAIR_SAMPLE_FIELDS fields after a random position: O(log n), nearly uniform. */
  randomEntry(random: Random): HashEntry {
    assert(this.size > 0, "a random field is drawn from a non-empty hash");
    if (this.#table === undefined || this.size <= 4 * FAIR_SAMPLE_FIELDS) {
      const all = [...this.entries()];
      return all[random.int(all.length)] as HashEntry;
    }
    const { collectionId } = this.#table;
    const rows = this.#rows.rowsAfter(collectionId, positionRowKey(randomUint64(random)), FAIR_SAMPLE_FIELDS);
    if (rows.length < FAIR_SAMPLE_FIELDS) {
      // Wrap around to the first rows, stopping before the ones already taken.
      const first = rows[0]?.rowKey;
      const wrapped = this.#rows.rowsAfter(collectionId, undefined, FAIR_SAMPLE_FIELDS - rows.length);
      rows.push(...wrapped.filter((row) => first === undefined || rowPosition(row.rowKey) < rowPosition(first)));
    }
    const candidates = rows.flatMap(rowEntries).slice(0, FAIR_SAMPLE_FIELDS);
    return candidates[random.int(candidates.length)] as HashEntry;
  }

  #setOne(field: Uint8Array, value: Uint8Array): boolean {
    if (this.#compact !== undefined) {
      if (fitsCompact(field, value)) {
        const id = keyId(field);
        const added = !this.#compact.has(id);
        this.#compact.set(id, value); // Map.set on an existing id keeps its place, as the listpack does
        if (this.#compact.size > HASH_COMPACT_FIELDS_MAX) this.#convert();
        return added;
      }
      this.#convert();
    }
    return this.#setRow(field, value);
  }

  #deleteOne(field: Uint8Array): boolean {
    if (this.#compact !== undefined) return this.#compact.delete(keyId(field));
    const header = this.#table as CollectionHeader;
    const rows = this.#writer.rows();
    const rowKey = hashRowKey(header.seed, field);
    const old = rows.getRow(header.collectionId, rowKey);
    if (old === undefined) return false;
    const bucket = decodeHash(old);
    if (!bucket.delete(keyId(field))) return false;
    let rowBytes = header.rowBytes - collectionRowBytes(rowKey, old);
    if (bucket.size === 0) {
      rows.deleteRow(header.collectionId, rowKey);
    } else {
      const encoded = encodeHash(bucket);
      rows.putRow(header.collectionId, rowKey, encoded);
      rowBytes += collectionRowBytes(rowKey, encoded);
    }
    this.#table = { ...header, size: header.size - 1, rowBytes };
    return true;
  }

  /** Writes one field's row of a table hash; true when the field is new. */
  #setRow(field: Uint8Array, value: Uint8Array): boolean {
    const header = this.#table as CollectionHeader;
    const rows = this.#writer.rows();
    const rowKey = hashRowKey(header.seed, field);
    const old = rows.getRow(header.collectionId, rowKey);
    const bucket = old === undefined ? new Map<string, Uint8Array>() : decodeHash(old);
    const id = keyId(field);
    const added = !bucket.has(id);
    bucket.set(id, value);
    const encoded = encodeHash(bucket);
    rows.putRow(header.collectionId, rowKey, encoded);
    const rowBytes =
      header.rowBytes + collectionRowBytes(rowKey, encoded) - (old === undefined ? 0 : collectionRowBytes(rowKey, old));
    this.#table = { ...header, size: header.size + (added ? 1 : 0), rowBytes };
    return added;
  }

  /** Compact → table, once (Redis never converts back): every field moves to its row. */
  #convert(): void {
    const fields = this.#compact as HashFields;
    const { collectionId, seed } = this.#writer.newCollection();
    this.#compact = undefined;
    this.#table = { collectionId, size: 0, rowBytes: 0, seed, extra: EMPTY_BYTES };
    for (const [id, value] of fields) this.#setRow(keyFromId(id), value);
  }

  /** Writes the record (an empty hash deletes the key: Redis never keeps empty aggregates). */
  #store(): void {
    if (this.size === 0) this.#writer.deleteKey();
    else if (this.#table !== undefined) this.#writer.writeValue(encodeCollectionHeader(this.#table));
    else this.#writer.writeValue(encodeHash(this.#compact as HashFields));
  }
}

function rowEntries(row: CollectionRow): HashEntry[] {
  return [...decodeHash(row.value)].map(([id, value]) => ({ field: keyFromId(id), value }));
}

/** 64 random bits from a source that draws 32 at a time. */
export function randomUint64(random: Random): bigint {
  return (BigInt(random.int(2 ** 32)) << 32n) | BigInt(random.int(2 ** 32));
}
