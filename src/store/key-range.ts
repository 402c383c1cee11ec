/**
 * @module Where a `range(prefix, after, limit)` scan starts and ends, in bytes, for every store; and which keys
 * a store can hold at all (apply refuses longer ones, so a store never hands one to its storage engine).
 */
import { assert } from "../lib/assert.js";
import { compareBytes } from "../lib/bytes.js";

/** The longest key a store holds. LMDB's default maximum key is 1978 bytes and the LMDB store adds up to 9 bytes
 * of prefix (its expiry index): 1024 leaves room, is what the HTTP API has always documented, and Redis keys are
 * rarely longer. The command limits (COMMAND_LIMITS.keySizeBytesMax) take this bound. */
export const STORED_KEY_BYTES_MAX = 1024;
/** LMDB's maximum key size in its default build. */
const LMDB_KEY_BYTES_MAX = 1978;
/** The longest prefix the LMDB store puts before a key (store/lmdb/lmdb-store.ts: the expiry index's). */
const STORE_KEY_PREFIX_BYTES_MAX = 9;
assert(STORED_KEY_BYTES_MAX + STORE_KEY_PREFIX_BYTES_MAX <= LMDB_KEY_BYTES_MAX, "every stored key fits LMDB's");

/** True for a key a store can hold: at most STORED_KEY_BYTES_MAX bytes. A longer one is never stored, so a
 * lookup of it answers "absent" without asking the storage engine (LMDB throws on keys past its maximum). */
export function isStorableKey(key: Uint8Array): boolean {
  return key.byteLength <= STORED_KEY_BYTES_MAX;
}

/**
 * A key to resume a scan after, shortened to a storable length: for every storable key k, k sorts after `after`
 * exactly when it sorts after its first STORED_KEY_BYTES_MAX bytes t (t is a prefix of `after`, so k > after implies
 * k > t; and a k > t no longer than t differs from t at some position, where it also exceeds `after`).
 */
export function storableAfter(after: Uint8Array): Uint8Array {
  return isStorableKey(after) ? after : after.subarray(0, STORED_KEY_BYTES_MAX);
}

/** The first key to consider: the prefix itself (inclusive), or `after` (exclusive) when it sorts at or past
 * the prefix. A store checks `isStorableKey(prefix)` first: no stored key starts with a longer prefix. */
export function rangeStartAfter(
  prefix: Uint8Array,
  after: Uint8Array | undefined,
): { readonly key: Uint8Array; readonly exclusive: boolean } {
  if (after !== undefined && compareBytes(after, prefix) >= 0) return { key: storableAfter(after), exclusive: true };
  return { key: prefix, exclusive: false };
}

/** The smallest key sorting after every key that starts with `prefix`, or undefined when there is none (an
 * empty prefix, or one made only of 0xff bytes). */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i] = (end[i] as number) + 1;
      return end;
    }
  }
  return undefined;
}
