/**
 * @module THE keyspace: the one typed API through which every front end's semantics read and write keys — the
 * HTTP commands (put, delete, txn, the leader's expire: apply-command.ts) and the Redis families alike, and later
 * streams, leases and shards. The rules that must mean the same thing everywhere live here and only here:
 *
 * - visibility and TTL: a key past its expiry is absent for every read and compare (`lookup`, via the stored
 *   record's `isLive`), a write's expiry is resolved here (`ExpiryChoice`, `expiryOf`), a write with an expiry
 *   already past deletes the key, and only the leader's expire entry removes a stored expired key
 *   (`removeExpired`);
 * - revision stamping: every write takes the entry's revision (createRevision/modRevision/version, etcd's view)
 *   in `#write`;
 * - size limits: a key or value a command computed is bounded (limits.ts) before it is written, so it fails
 *   alike on every replica;
 * - typed values: strings and hashes (the hash encodings of hash-value.ts are read only through `hash` and, for
 *   renderers, value-view.ts).
 *
 * Pure: time is the entry's time on the replicated clock, randomness the entry's seeded source.
 */
import { assert } from "../../lib/assert.js";
import { ShoalError } from "../../lib/errors.js";
import type { Random } from "../../lib/prng.js";
import { isLive, type KeyValue, type StoredRecord, toKeyValue, type ValueType } from "../../store/record.js";
import type { KeyspaceReader, WriteSet } from "../../store/write-set.js";
import type { ExpiryOptions } from "../command.js";
import { checkKeySize, checkValueSize } from "../limits.js";
import type { ListingBudget } from "./listing-budget.js";
import { randomUint64, StoredHash } from "./stored-hash.js";

export const WRONG_TYPE_MESSAGE = "Operation against a key holding the wrong kind of value";

/** `"keep"` keeps the key's current expiry (Redis: APPEND, INCR, SETRANGE, HSET, SET … KEEPTTL); a number is an
 * absolute time on the replicated clock, 0 meaning none. */
export type ExpiryChoice = number | "keep";

/** The expiry a put's options ask for (HTTP put and txn put): a TTL counts from the entry's time; none given
 * clears any TTL, as Redis's SET does. */
export function expiryOf(options: ExpiryOptions, nowMs: number): ExpiryChoice {
  if (options.ttlMs !== undefined) return nowMs + options.ttlMs;
  if (options.expiresAtMs !== undefined) return options.expiresAtMs;
  return options.keepTtl === true ? "keep" : 0;
}

export class Keyspace {
  readonly #writes: WriteSet | undefined;
  readonly #reader: KeyspaceReader;
  /** The entry's time on the replicated clock. */
  readonly nowMs: number;
  /** The revision this entry's writes take (the group's revision before it, plus one). */
  readonly revision: number;
  readonly #random: Random | undefined;

  /** `writes` undefined makes a read-only keyspace (a read served without the log): a write there is a bug in
   * the command table (a handler writing under a readonly flag) and asserts. `random` (the command's seeded
   * source) seeds the collections a write creates. */
  constructor(
    reader: KeyspaceReader,
    writes: WriteSet | undefined,
    nowMs: number,
    revision: number,
    random?: Random,
    budget?: ListingBudget,
  ) {
    this.#reader = budget === undefined ? (writes ?? reader) : budget.over(writes ?? reader);
    this.#writes = writes;
    this.nowMs = nowMs;
    this.revision = revision;
    this.#random = random;
  }

  /** The live record of any type, or undefined when absent or expired. */
  lookup(key: Uint8Array): StoredRecord | undefined {
    const record = this.#reader.getRecord(key);
    return record !== undefined && isLive(record, this.nowMs) ? record : undefined;
  }

  /** The live key with its revisions, as reads and results hand it out; undefined when absent or expired. */
  keyValue(key: Uint8Array): KeyValue | undefined {
    const record = this.lookup(key);
    return record === undefined ? undefined : toKeyValue(key, record);
  }

  /** The live key's modRevision, 0 when absent or expired: what WATCH and compare-and-swap compare. */
  modRevision(key: Uint8Array): number {
    return this.lookup(key)?.modRevision ?? 0;
  }

  /** Redis TYPE's answer. */
  typeOf(key: Uint8Array): ValueType | "none" {
    return this.lookup(key)?.type ?? "none";
  }

  exists(key: Uint8Array): boolean {
    return this.lookup(key) !== undefined;
  }

  /** The string at `key`; WRONGTYPE if it holds another type. */
  getString(key: Uint8Array): Uint8Array | undefined {
    const record = this.lookup(key);
    if (record === undefined) return undefined;
    if (record.type !== "string") throw wrongType();
    return record.value;
  }

  /** The hash at `key` (empty, size 0, when the key is absent: setting a field creates it); WRONGTYPE on other
   * types. Its writes keep the key's TTL, as Redis's hash commands do. */
  hash(key: Uint8Array): StoredHash {
    const record = this.lookup(key);
    if (record !== undefined && record.type !== "hash") throw wrongType();
    return new StoredHash(record?.value, this.#reader, {
      rows: () => this.#mutable(),
      writeValue: (value) => this.#write(key, "hash", value, "keep"),
      deleteKey: () => this.delete(key),
      newCollection: () => {
        assert(this.#random !== undefined, "a keyspace that creates collections has a random source");
        return { collectionId: this.#mutable().allocateCollectionId(), seed: randomUint64(this.#random) };
      },
    });
  }

  /** The key's absolute expiry (0 for none), or undefined when the key is absent. */
  expiresAtMs(key: Uint8Array): number | undefined {
    return this.lookup(key)?.expiresAtMs;
  }

  setString(key: Uint8Array, value: Uint8Array, expiry: ExpiryChoice): void {
    this.#write(key, "string", value, expiry);
  }

  /** Writes a record of any type as it is (RENAME): `value` in its stored encoding. A table-encoded value's
   * header moves with its rows' ownership (O(1)); the source must be deleted first, since a collection belongs
   * to one record (store/collection.ts). */
  putRaw(key: Uint8Array, type: ValueType, value: Uint8Array, expiresAtMs: number): void {
    this.#write(key, type, value, expiresAtMs);
  }

  /** Deletes a live key; false when there was none. */
  delete(key: Uint8Array): boolean {
    if (this.lookup(key) === undefined) return false;
    this.#mutable().delete(key);
    return true;
  }

  /** Removes a key that is stored but past its expiry (the leader's expire entry, which every replica applies
   * alike); false when it is absent or still live (the leader's view was stale, or the key was rewritten). */
  removeExpired(key: Uint8Array): boolean {
    const record = this.#reader.getRecord(key);
    if (record === undefined || isLive(record, this.nowMs)) return false;
    this.#mutable().delete(key);
    return true;
  }

  /** Deletes a stored key (live or past its expiry) whose modRevision is `modRevision` (the leader's eviction);
   * false when it is absent or was written since. */
  evict(key: Uint8Array, modRevision: number): boolean {
    const record = this.#reader.getRecord(key);
    if (record === undefined || record.modRevision !== modRevision) return false;
    this.#mutable().delete(key);
    return true;
  }

  /** Deletes every stored key, those past their TTL not yet removed included (FLUSHALL): O(1) — the write set
   * drops its base whole (WriteSet.clear) rather than listing and deleting key by key. An empty keyspace is left
   * alone (nothing changes, the revision stays). */
  deleteAll(): void {
    const writes = this.#mutable();
    if (writes.keyCount() > 0) writes.clear();
  }

  /** Sets (or with 0 removes) a live key's expiry; an expiry at or before now deletes the key. Counts as a write
   * of the key (its modRevision moves, as Redis's EXPIRE touches WATCHed keys). False when the key is absent. */
  setExpiry(key: Uint8Array, expiresAtMs: number): boolean {
    const record = this.lookup(key);
    if (record === undefined) return false;
    this.#write(key, record.type, record.value, expiresAtMs);
    return true;
  }

  /** Live keys sorting strictly after `after`, in bytewise order, at most `limit`. */
  keysAfter(after: Uint8Array | undefined, limit: number): Uint8Array[] {
    assert(Number.isSafeInteger(limit) && limit > 0, "keysAfter limit is a positive integer");
    const out: Uint8Array[] = [];
    let cursor = after;
    for (;;) {
      const page = this.#reader.keysAfter(cursor, limit);
      for (const key of page) {
        if (this.lookup(key) !== undefined) out.push(key);
        if (out.length === limit) return out;
      }
      if (page.length < limit) return out;
      cursor = page[page.length - 1];
    }
  }

  /** Stored keys, expired ones not yet removed included (Redis's DBSIZE): O(1). */
  storedKeyCount(): number {
    return this.#reader.keyCount();
  }

  /** Every live key, in order: O(keys). */
  allKeys(): Uint8Array[] {
    return everyKey((after, limit) => this.keysAfter(after, limit));
  }

  #write(key: Uint8Array, type: ValueType, value: Uint8Array, expiry: ExpiryChoice): void {
    const writes = this.#mutable();
    // Arguments were bounded before the command ran (command-limits.ts); a value it computed (APPEND, a hash
    // that grew) is bounded here, before anything is written: the command fails alike on every replica.
    checkKeySize(key);
    checkValueSize(value, type === "hash" ? "hash" : "value");
    const current = this.lookup(key);
    const expiresAtMs = expiry === "keep" ? (current?.expiresAtMs ?? 0) : expiry;
    if (expiresAtMs !== 0 && expiresAtMs <= this.nowMs) {
      // Redis: a write with an expiry already past (SET … PXAT <past>, EXPIRE k -1) deletes the key.
      if (current !== undefined) writes.delete(key);
      return;
    }
    writes.put(key, {
      type,
      value,
      createRevision: current === undefined ? this.revision : current.createRevision,
      modRevision: this.revision,
      version: current === undefined ? 1 : current.version + 1,
      expiresAtMs,
    });
  }

  #mutable(): WriteSet {
    assert(this.#writes !== undefined, "A read-only command tried to write");
    return this.#writes;
  }
}

const LISTING_PAGE_KEYS = 1024;

/** Every key a paged listing yields, page by page. */
function everyKey(list: (after: Uint8Array | undefined, limit: number) => Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let page = list(undefined, LISTING_PAGE_KEYS); page.length > 0; ) {
    out.push(...page);
    if (page.length < LISTING_PAGE_KEYS) break;
    page = list(page[page.length - 1], LISTING_PAGE_KEYS);
  }
  return out;
}

export function wrongType(): ShoalError {
  return new ShoalError("WRONG_TYPE", WRONG_TYPE_MESSAGE);
}
