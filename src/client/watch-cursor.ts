/**
 * @module Where a watch stands, so a broken stream resumes without losing or repeating an event. A revision may
 * carry several events (a transaction touching several keys), so the cursor remembers which keys of its last
 * revision it has delivered, resumes FROM that revision (inclusive), and drops what it already delivered.
 */
import type { HashFieldsJson, WatchEvent } from "./types.js";

export class WatchCursor {
  /** Invariant: every delivered event has revision <= lastRevision; 0 before the first event. */
  #lastRevision = 0;
  /** Keys already delivered at `lastRevision`. */
  #keysAtLast = new Set<string>();
  /** True when every event at `lastRevision` predates the watch (see `pin`). */
  #lastRevisionDone = false;
  readonly #fromRevision: number | undefined;
  /** The first connection told where "now" was (only the first one pins). */
  #pinned = false;

  constructor(fromRevision: number | undefined) {
    this.#fromRevision = fromRevision;
  }

  /** The revision to ask for when (re)connecting; undefined means "from now". */
  resumeRevision(): number | undefined {
    // Pinned at revision 0 (an empty store): resume from the first revision, not from whatever "now" is then.
    if (this.#lastRevision === 0) return this.#fromRevision ?? (this.#pinned ? 1 : undefined);
    return this.#lastRevisionDone ? this.#lastRevision + 1 : this.#lastRevision;
  }

  /**
   * When the first connection started "from now", the server's revision at connect time pins where a
   * reconnect must resume, so changes made while reconnecting are not missed.
   */
  pin(currentRevision: number): void {
    if (this.#pinned || this.#lastRevision !== 0 || this.#fromRevision !== undefined) return;
    this.#pinned = true;
    if (currentRevision > 0) {
      // Events at `currentRevision` itself happened before the watch began; resume strictly after it.
      this.#lastRevision = currentRevision;
      this.#lastRevisionDone = true;
    }
  }

  /** True if `event` is new (and records it); false for a repeat after a resume. */
  accept(event: WatchEvent): boolean {
    if (event.revision < this.#lastRevision) return false;
    if (event.revision === this.#lastRevision) {
      if (this.#lastRevisionDone || this.#keysAtLast.has(event.key)) return false;
    } else {
      this.#lastRevision = event.revision;
      this.#lastRevisionDone = false;
      this.#keysAtLast.clear();
    }
    this.#keysAtLast.add(event.key);
    return true;
  }
}

/**
 * A WatchCursor per shard, for a watch the server merges over several shards (each numbers its own revisions).
 * The server names the shards it watches and where each starts (headers `x-shoal-shards`, `x-shoal-cursor`);
 * events carry their `shard`; a reconnect sends `cursor=` — per shard, the last revision delivered whole — and
 * each shard's cursor drops what it already delivered. On one shard this is exactly the plain WatchCursor, and
 * reconnects send `from_revision` as before.
 */
export class ShardedWatchCursor {
  readonly #fromRevision: number | undefined;
  /** The shards watched, in the server's cursor order; unknown until the first connection. */
  #shards: readonly number[] | undefined;
  readonly #cursors = new Map<number, WatchCursor>();

  constructor(fromRevision: number | undefined) {
    this.#fromRevision = fromRevision;
  }

  /** A connection opened: the shards it watches and where each starts (revisions delivered whole before it). */
  connected(shards: readonly number[], start: readonly number[]): void {
    if (this.#shards === undefined && shards.length > 0) this.#shards = shards;
    (this.#shards ?? []).forEach((shard, i) => {
      const revision = start[i];
      if (revision !== undefined) this.#cursor(shard).pin(revision);
    });
  }

  /** True if `event` is new (and records it); false for a repeat after a resume. */
  accept(event: WatchEvent): boolean {
    return this.#cursor(event.shard ?? this.#shards?.[0] ?? 0).accept(event);
  }

  /** The query a (re)connection sends: nothing (from now), `from_revision` (one shard) or `cursor` (several). */
  resumeQuery(): { readonly from_revision?: string; readonly cursor?: string } {
    const shards = this.#shards;
    if (shards === undefined || shards.length === 1) {
      const from = shards === undefined ? this.#fromRevision : this.#cursor(shards[0] as number).resumeRevision();
      return from === undefined ? {} : { from_revision: String(from) };
    }
    return { cursor: shards.map((shard) => (this.#cursor(shard).resumeRevision() ?? 1) - 1).join(".") };
  }

  /** Where a resume starts, for messages: a revision (0: from now) and, over several shards, the cursor. */
  resumePosition(): { readonly revision: number; readonly cursor?: string } {
    const query = this.resumeQuery();
    if (query.cursor !== undefined) return { revision: 0, cursor: query.cursor };
    return { revision: Number(query.from_revision ?? 0) };
  }

  #cursor(shard: number): WatchCursor {
    let cursor = this.#cursors.get(shard);
    if (cursor === undefined) {
      cursor = new WatchCursor(
        this.#shards === undefined || this.#shards.length === 1 ? this.#fromRevision : undefined,
      );
      this.#cursors.set(shard, cursor);
    }
    return cursor;
  }
}

/**
 * Reads one SSE message's JSON into a WatchEvent; undefined for anything that is not a change (progress
 * notices, heartbeats). Tolerates `revision`, `modRevision` or `mod_revision`, and an etcd-style nested `kv`.
 */
export function parseWatchEvent(data: string): WatchEvent | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const object = parsed as Record<string, unknown>;
  const kv = typeof object.kv === "object" && object.kv !== null ? (object.kv as Record<string, unknown>) : object;
  const type = String(object.type ?? "").toLowerCase();
  const revision = firstNumber(object.revision, kv.modRevision, kv.mod_revision, object.modRevision);
  const shard = typeof object.shard === "number" && Number.isSafeInteger(object.shard) ? { shard: object.shard } : {};
  if (type === "flush" && revision !== undefined) return { type, key: "", revision, ...shard };
  if ((type !== "put" && type !== "delete") || typeof kv.key !== "string" || revision === undefined) return undefined;
  if (type === "put" && typeof kv.value === "string") return { type, key: kv.key, value: kv.value, revision, ...shard };
  const hash = type === "put" ? hashFields(kv.hash) : undefined;
  if (hash !== undefined) return { type, key: kv.key, hash, revision, ...shard };
  const hashFieldCount = type === "put" ? firstNumber(kv.hashFieldCount) : undefined;
  return hashFieldCount === undefined
    ? { type, key: kv.key, revision, ...shard }
    : { type, key: kv.key, hashFieldCount, revision, ...shard };
}

/** A hash's `{field: value}` object, or undefined when `candidate` is not one. */
function hashFields(candidate: unknown): HashFieldsJson | undefined {
  if (typeof candidate !== "object" || candidate === null || Array.isArray(candidate)) return undefined;
  const entries = Object.entries(candidate);
  return entries.every(([, value]) => typeof value === "string") ? Object.fromEntries(entries) : undefined;
}

function firstNumber(...candidates: unknown[]): number | undefined {
  for (const candidate of candidates) {
    const value = typeof candidate === "string" ? Number(candidate) : candidate;
    if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) return value;
  }
  return undefined;
}
