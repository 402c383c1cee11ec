/**
 * @module Maps keyed by byte-string ids (latin1, see bytes.ts) that also list their ids in bytewise order:
 * the in-memory form of ordered rows (a write set's pending rows, the memory store's collection rows).
 */

/** A Map whose ids are sorted on demand (after an id is added or removed, the next listing sorts again). */
export class SortedIdMap<V> {
  readonly values = new Map<string, V>();
  #sorted: string[] | undefined = [];

  set(id: string, value: V): void {
    if (!this.values.has(id)) this.#sorted = undefined;
    this.values.set(id, value);
  }

  delete(id: string): void {
    if (this.values.delete(id)) this.#sorted = undefined;
  }

  /** The ids in ascending order; the array is shared until the next change: read it, do not keep or modify it. */
  sortedIds(): readonly string[] {
    if (this.#sorted === undefined) this.#sorted = [...this.values.keys()].sort();
    return this.#sorted;
  }

  /** The ids sorting strictly after `after` (from the first when undefined), at most `limit` of them. */
  idsAfter(after: string | undefined, limit: number): string[] {
    const ids = this.sortedIds();
    const start = after === undefined ? 0 : firstIndexAbove(ids, after);
    return ids.slice(start, start + limit);
  }
}

/** The first index of sorted `ids` whose id is strictly above `id` (latin1 ids compare like their bytes). */
export function firstIndexAbove(ids: readonly string[], id: string): number {
  let low = 0;
  let high = ids.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((ids[middle] as string) <= id) low = middle + 1;
    else high = middle;
  }
  return low;
}
