import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { compareBytes } from "../lib/bytes.js";
import { mergedRange } from "./merged-range.js";
import type { KeyValue } from "./record.js";

/** A store holding `keys` (sorted), answering range like the real ones, counting the keys it hands out. */
function fakeStore(keys: readonly string[]) {
  const rows = keys
    .map((key) => ({ key: new TextEncoder().encode(key), value: new Uint8Array(1) }) as unknown as KeyValue)
    .sort((a, b) => compareBytes(a.key, b.key));
  const store = {
    read: 0,
    range(prefix: Uint8Array, after: Uint8Array | undefined, limit: number): KeyValue[] {
      const page = rows
        .filter((row) => prefix.every((byte, i) => row.key[i] === byte))
        .filter((row) => after === undefined || compareBytes(row.key, after) > 0)
        .slice(0, limit);
      store.read += page.length;
      return page;
    },
  };
  return store;
}

const text = (kvs: readonly KeyValue[]) => kvs.map((kv) => new TextDecoder().decode(kv.key));

test("a merged range is the range of one store holding every key, and reads about limit keys, not limit per store", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.stringMatching(/^[a-c]{0,4}$/), { maxLength: 40 }), { minLength: 1, maxLength: 8 }),
      fc.stringMatching(/^[a-c]{0,2}$/),
      fc.option(fc.stringMatching(/^[a-c]{0,4}$/), { nil: undefined }),
      fc.integer({ min: 1, max: 50 }),
      async (shards, prefix, after, limit) => {
        // Every key lives in one shard (as hash slots place them).
        const seen = new Set<string>();
        const disjoint = shards.map((keys) => keys.filter((key) => !seen.has(key) && seen.add(key)));
        const stores = disjoint.map(fakeStore);
        const encode = (s: string) => new TextEncoder().encode(s);
        const sources = stores.map((store) => ({
          range: async (p: Uint8Array, a: Uint8Array | undefined, l: number) => store.range(p, a, l),
        }));
        const merged = await mergedRange(
          sources,
          encode(prefix),
          after === undefined ? undefined : encode(after),
          limit,
        );
        const whole = fakeStore(disjoint.flat()).range(
          encode(prefix),
          after === undefined ? undefined : encode(after),
          limit,
        );
        assert.deepEqual(text(merged), text(whole));
        const pageKeys = Math.min(limit, Math.max(16, Math.ceil(limit / stores.length)));
        const read = stores.reduce((sum, store) => sum + store.read, 0);
        assert.ok(read <= limit + stores.length * pageKeys, `read ${read} keys for ${limit}`);
      },
    ),
  );
});
