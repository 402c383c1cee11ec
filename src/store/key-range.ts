/**
 * @module Where a `range(prefix, after, limit)` scan starts and ends, in bytes, for every store.
 */
import { compareBytes } from "../commands/bytes.js";

/** The first key to consider: the prefix itself (inclusive), or `after` (exclusive) when it sorts at or past
 * the prefix. */
export function rangeStartAfter(
  prefix: Uint8Array,
  after: Uint8Array | undefined,
): { readonly key: Uint8Array; readonly exclusive: boolean } {
  if (after !== undefined && compareBytes(after, prefix) >= 0) return { key: after, exclusive: true };
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
