/**
 * @module SCAN's numeric cursors mapped to the key to resume after. Redis cursors are unsigned 64-bit numbers that
 * clients pass back verbatim; Shoal's position is a key (SCAN walks keys in bytewise order), which does not fit
 * in 64 bits, so a node keeps a bounded table from number to key (the oldest cursor is evicted first, after
 * which it answers "invalid cursor", Redis's text for a cursor it cannot use).
 *
 * A cursor is valid cluster-wide: it names the node that issued it —
 *   cursor = owner node id (20 bits) << 42 | tag (42 bits)     (below 2^62: clients that parse int64 cope)
 * — so a node handed another node's cursor asks the owner for its key (`ShoalNode.resolveScanCursors`) and
 * adopts it, then resumes at the same key; every replica holds the same keys in the same order. A cursor it
 * cannot resolve (the owner is down, restarted or evicted it) answers "invalid cursor": never a wrong position,
 * which would silently skip keys. Tags run on from a random start, so a cursor from before a restart is not
 * mistaken for a new one (the chance is the live cursors over 2^42, about 2·10^-9).
 *
 * Pure data: the node keeps one table (owner = its id); tests keep their own (owner 0, tags from 1).
 */
import { ShoalError } from "../../lib/errors.js";
import type { ScanCursors } from "./command-spec.js";
import { parseScanCursor } from "./families/scan-args.js";

export const SCAN_CURSORS_MAX = 10_000;
const TAG_BITS = 42n;
const TAG_MASK = (1n << TAG_BITS) - 1n;
/** Node ids are below 2^20 (shoal start accepts 1 to 1,000,000). */
export const CURSOR_OWNER_MAX = 2 ** 20 - 1;

export interface ScanCursorTableOptions {
  /** The node that issues the cursors; 0 for a table outside a cluster. */
  readonly ownerId?: number;
  readonly capacity?: number;
  /** The first tag issued (default 1); a node starts from a random one. */
  readonly firstTag?: bigint;
}

export class ScanCursorTable implements ScanCursors {
  /** Issued and adopted cursors, oldest first (Map keeps insertion order). */
  readonly #positions = new Map<bigint, Uint8Array>();
  readonly #capacity: number;
  readonly #owner: bigint;
  #tag: bigint;

  constructor(options: ScanCursorTableOptions = {}) {
    const ownerId = options.ownerId ?? 0;
    if (!Number.isInteger(ownerId) || ownerId < 0 || ownerId > CURSOR_OWNER_MAX) {
      throw new RangeError(`A SCAN cursor owner must be an integer from 0 to ${CURSOR_OWNER_MAX}`);
    }
    this.#owner = BigInt(ownerId);
    this.#capacity = options.capacity ?? SCAN_CURSORS_MAX;
    this.#tag = (options.firstTag ?? 1n) & TAG_MASK;
  }

  /** The node that issued `cursor` (0 for the start cursor or a table outside a cluster). */
  static ownerOf(cursor: bigint): number {
    return Number(cursor >> TAG_BITS);
  }

  get size(): number {
    return this.#positions.size;
  }

  resume(cursor: bigint): Uint8Array | undefined {
    if (cursor === 0n) return undefined;
    const position = this.#positions.get(cursor);
    if (position === undefined) throw new ShoalError("BAD_REQUEST", "invalid cursor");
    return position;
  }

  issue(lastKey: Uint8Array): bigint {
    let cursor: bigint;
    do {
      cursor = (this.#owner << TAG_BITS) | this.#tag;
      this.#tag = (this.#tag + 1n) & TAG_MASK;
    } while (cursor === 0n);
    this.#remember(cursor, lastKey);
    return cursor;
  }

  /** The key of a cursor this table issued, for another node resuming it; undefined when unknown. */
  positionOf(cursor: bigint): Uint8Array | undefined {
    return cursor >> TAG_BITS === this.#owner ? this.#positions.get(cursor) : undefined;
  }

  /** True when `cursor` was issued by another node and is not known here yet. */
  isForeign(cursor: bigint): boolean {
    return cursor !== 0n && cursor >> TAG_BITS !== this.#owner && !this.#positions.has(cursor);
  }

  /** Records the key another node's cursor resumes after (asked of that node). */
  adopt(cursor: bigint, lastKey: Uint8Array): void {
    this.#remember(cursor, lastKey);
  }

  #remember(cursor: bigint, lastKey: Uint8Array): void {
    // A copy: the key may be a view into a buffer the caller reuses.
    this.#positions.set(cursor, Uint8Array.from(lastKey));
    if (this.#positions.size > this.#capacity) {
      const oldest = this.#positions.keys().next().value;
      if (oldest !== undefined) this.#positions.delete(oldest);
    }
  }
}

/** The other nodes' cursors that SCAN commands among `argvs` resume, not yet known to `table`. */
export function foreignScanCursors(argvs: readonly (readonly Uint8Array[])[], table: ScanCursorTable): bigint[] {
  const cursors: bigint[] = [];
  for (const argv of argvs) {
    const name = argv[0];
    const arg = argv[1];
    if (name === undefined || arg === undefined || Buffer.from(name).toString("latin1").toLowerCase() !== "scan") {
      continue;
    }
    let cursor: bigint;
    try {
      cursor = parseScanCursor(arg);
    } catch {
      continue; // SCAN itself answers the error
    }
    if (table.isForeign(cursor) && !cursors.includes(cursor)) cursors.push(cursor);
  }
  return cursors;
}
