/**
 * @module A range over several stores (a node's shards) as one keyspace: the first `limit` keys with `prefix` after
 * `after`, in bytewise order. A k-way merge over small pages that each store refills only when the merge reaches
 * its end — not a full page of `limit` from every store, which would read (and hold, values included) up to
 * `limit` × the number of shards to answer `limit`. What it reads stays within `limit` plus one small page each.
 */
import { compareBytes } from "../lib/bytes.js";
import type { KeyValue } from "./record.js";

/** Keys each store reads per page: the least, so a page holds a few keys even when the shards are many. */
const PAGE_KEYS_MIN = 16;

/** One store's pages: live keys with `prefix` after `after`, at most `limit`, in bytewise order. A store here is a
 * local one (answering at once) or a shard held by another member (node/remote-shard.ts). */
export interface RangeSource {
  range(prefix: Uint8Array, after: Uint8Array | undefined, limit: number): Promise<KeyValue[]>;
}

interface Cursor {
  readonly store: RangeSource;
  page: KeyValue[];
  at: number;
  /** The store has nothing past its last page. */
  exhausted: boolean;
}

export async function mergedRange(
  stores: readonly RangeSource[],
  prefix: Uint8Array,
  after: Uint8Array | undefined,
  limit: number,
): Promise<KeyValue[]> {
  const pageKeys = Math.min(limit, Math.max(PAGE_KEYS_MIN, Math.ceil(limit / stores.length)));
  const cursors: Cursor[] = stores.map((store) => ({ store, page: [], at: 0, exhausted: false }));
  const fill = async (cursor: Cursor, from: Uint8Array | undefined): Promise<void> => {
    cursor.page = await cursor.store.range(prefix, from, pageKeys);
    cursor.at = 0;
    cursor.exhausted = cursor.page.length < pageKeys;
  };
  await Promise.all(cursors.map((cursor) => fill(cursor, after)));
  const out: KeyValue[] = [];
  while (out.length < limit) {
    let next: Cursor | undefined;
    for (const cursor of cursors) {
      if (cursor.at === cursor.page.length && !cursor.exhausted) {
        await fill(cursor, (cursor.page[cursor.page.length - 1] as KeyValue).key);
      }
      const head = cursor.page[cursor.at];
      if (head === undefined) continue;
      const best = next?.page[next.at];
      if (best === undefined || compareBytes(head.key, best.key) < 0) next = cursor;
    }
    if (next === undefined) break;
    out.push(next.page[next.at] as KeyValue);
    next.at++;
  }
  return out;
}
