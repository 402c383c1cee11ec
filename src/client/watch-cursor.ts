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

  constructor(fromRevision: number | undefined) {
    this.#fromRevision = fromRevision;
  }

  /** The revision to ask for when (re)connecting; undefined means "from now". */
  resumeRevision(): number | undefined {
    if (this.#lastRevision === 0) return this.#fromRevision;
    return this.#lastRevisionDone ? this.#lastRevision + 1 : this.#lastRevision;
  }

  /**
   * When the first connection started "from now", the server's revision at connect time pins where a
   * reconnect must resume, so changes made while reconnecting are not missed.
   */
  pin(currentRevision: number): void {
    if (this.#lastRevision === 0 && this.#fromRevision === undefined && currentRevision > 0) {
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
  if (type === "flush" && revision !== undefined) return { type, key: "", revision };
  if ((type !== "put" && type !== "delete") || typeof kv.key !== "string" || revision === undefined) return undefined;
  if (type === "put" && typeof kv.value === "string") return { type, key: kv.key, value: kv.value, revision };
  const hash = type === "put" ? hashFields(kv.hash) : undefined;
  if (hash !== undefined) return { type, key: kv.key, hash, revision };
  const hashFieldCount = type === "put" ? firstNumber(kv.hashFieldCount) : undefined;
  return hashFieldCount === undefined
    ? { type, key: kv.key, revision }
    : { type, key: kv.key, hashFieldCount, revision };
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
