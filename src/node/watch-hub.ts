/**
 * @module Watches on one node: each `Watcher` delivers the changes to keys under a prefix, in revision order,
 * exactly once, from a starting revision on — first replayed from the store's durable history, then live as
 * the node applies entries.
 *
 * Every node applies the same log, so a watch served by any node sees the same events at the same revisions;
 * a leader change does not disturb it (entries a deposed leader never committed are never applied anywhere).
 *
 * A watcher is always in one of two modes, and its cursor `next` says which revision it needs next:
 * - catching up: it reads history rows itself, a bounded span at a time, up to the revision the hub has
 *   published; reaching it makes it live.
 * - live: the hub hands it each newly applied revision's events (read once from the store for all watchers).
 *   Its buffer is bounded in events and bytes; a consumer too slow to keep it under the bound drops back to
 *   catching up (from the first revision it has not taken), so a slow consumer costs no memory. One that falls
 *   behind the history's window is closed with COMPACTED, which the HTTP layer sends as an error event.
 * Both modes move `next` only forward and hand out whole revisions, so switching loses or repeats nothing.
 */
import { setImmediate as nextMacrotask } from "node:timers/promises";
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import { compactedError, type HistoryEvent } from "../store/history.js";
import type { StateMachineStore } from "../store/state-machine-store.js";

export interface WatchHubOptions {
  readonly store: StateMachineStore;
  /** Undelivered events a live watcher may hold before it drops back to reading the history. */
  readonly bufferEventsMax: number;
  /** The same bound in key and value bytes. */
  readonly bufferBytesMax: number;
  /** Revisions read from the history in one step while catching up (bounds each synchronous read). */
  readonly catchUpRevisionsMax: number;
  /** Open watchers at most; another watch is refused with UNAVAILABLE. */
  readonly watchersMax: number;
}

export const watchHubDefaults = {
  bufferEventsMax: 4096,
  bufferBytesMax: 4 * 1024 * 1024,
  catchUpRevisionsMax: 256,
  watchersMax: 10_000,
};

export interface WatchHubStats {
  readonly watchers: number;
  /** Live watchers whose buffer overflowed and that went back to reading the history. */
  readonly fellBehind: number;
  /** Watchers closed with COMPACTED because they fell behind the history's window. */
  readonly compactedOut: number;
}

export class WatchHub {
  readonly #options: WatchHubOptions;
  readonly #watchers = new Set<Watcher>();
  /** Invariant: every revision <= published has been handed to the live watchers that wanted it. */
  #published: number;
  #closed = false;
  readonly #stats = { fellBehind: 0, compactedOut: 0 };

  constructor(options: WatchHubOptions) {
    this.#options = options;
    this.#published = options.store.revision();
  }

  get published(): number {
    return this.#published;
  }

  get options(): WatchHubOptions {
    return this.#options;
  }

  stats(): WatchHubStats {
    return { watchers: this.#watchers.size, ...this.#stats };
  }

  /** Watches keys starting with `prefix` (empty: every key) from `fromRevision` (inclusive; may lie in the
   * future). Throws COMPACTED when the history no longer holds that revision, UNAVAILABLE when full. */
  watch(prefix: Uint8Array, fromRevision: number): Watcher {
    assert(Number.isSafeInteger(fromRevision) && fromRevision >= 1, "a watch starts at a revision >= 1");
    if (this.#closed) throw new ShoalError("UNAVAILABLE", "Node is shutting down");
    if (this.#watchers.size >= this.#options.watchersMax) {
      throw new ShoalError("UNAVAILABLE", `Cannot open a watch: this node already serves ${this.#options.watchersMax}`);
    }
    const { compactedRevision } = this.#options.store.historyStats();
    if (fromRevision <= compactedRevision) throw compactedError(fromRevision, compactedRevision);
    const watcher = new Watcher(this, prefix, fromRevision, () => this.#watchers.delete(watcher));
    this.#watchers.add(watcher);
    return watcher;
  }

  /** Called after every apply and snapshot restore: hands the new revisions' events to the live watchers. */
  notify(): void {
    const { store } = this.#options;
    const revision = store.revision();
    if (revision <= this.#published) return;
    const from = this.#published + 1;
    const live = [...this.#watchers].filter((watcher) => watcher.live);
    if (live.length > 0) {
      const { compactedRevision } = store.historyStats();
      // A restored snapshot (or a window smaller than one batch) skipped revisions: the live watchers missed
      // them and must find out from the history, which answers COMPACTED.
      const events = from > compactedRevision ? store.events(from, revision) : undefined;
      for (const watcher of live) {
        if (events === undefined) watcher.dropToHistory();
        else watcher.deliver(events, revision);
      }
    }
    this.#published = revision;
    const { compactedRevision } = store.historyStats();
    for (const watcher of this.#watchers) {
      // A catching-up watcher whose consumer stopped reading would otherwise hold its connection forever.
      if (!watcher.live && watcher.next <= compactedRevision) {
        this.#stats.compactedOut++;
        watcher.close(compactedError(watcher.next, compactedRevision));
      } else {
        watcher.wake();
      }
    }
  }

  /** Ends every watch (node shutdown): their iterators finish without an error. */
  close(): void {
    this.#closed = true;
    for (const watcher of [...this.#watchers]) watcher.close(undefined);
  }

  countFellBehind(): void {
    this.#stats.fellBehind++;
  }

  countCompactedOut(): void {
    this.#stats.compactedOut++;
  }
}

export class Watcher {
  readonly prefix: Uint8Array;
  readonly #hub: WatchHub;
  readonly #onClose: () => void;
  /** Invariant: every matching event of a revision < next has been handed out (or sits in the buffer). */
  #next: number;
  #live = false;
  #buffer: HistoryEvent[] = [];
  #bufferBytes = 0;
  #wake: (() => void) | undefined;
  #closed = false;
  #error: ShoalError | undefined;
  readonly #done: Promise<ShoalError | undefined>;
  #resolveDone!: (error: ShoalError | undefined) => void;

  constructor(hub: WatchHub, prefix: Uint8Array, fromRevision: number, onClose: () => void) {
    this.#hub = hub;
    this.prefix = prefix;
    this.#next = fromRevision;
    this.#onClose = onClose;
    this.#done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  get live(): boolean {
    return this.#live;
  }

  /** The next revision this watcher needs from the history (when it is not live). */
  get next(): number {
    return this.#next;
  }

  /** Settles when the watcher closes: with the error that closed it, or undefined. */
  get done(): Promise<ShoalError | undefined> {
    return this.#done;
  }

  /**
   * The next batch of events (whole revisions, in order, never empty), or undefined once closed without an
   * error. Throws the error that closed it (COMPACTED when it fell behind the history). One caller at a time.
   */
  async take(): Promise<HistoryEvent[] | undefined> {
    for (;;) {
      if (this.#closed) {
        if (this.#error !== undefined) throw this.#error;
        return undefined;
      }
      if (this.#buffer.length > 0) {
        const batch = this.#buffer;
        this.#buffer = [];
        this.#bufferBytes = 0;
        return batch;
      }
      if (this.#live) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        continue;
      }
      const batch = this.#readHistory();
      if (batch !== undefined && batch.length > 0) return batch;
      // Nothing matched in that span: let the event loop breathe before the next one.
      if (batch !== undefined) await nextMacrotask();
    }
  }

  close(error: ShoalError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = error;
    this.#buffer = [];
    this.#bufferBytes = 0;
    this.#onClose();
    this.#resolveDone(error);
    this.wake();
  }

  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Live only: the events of revisions published+1..to, as the hub read them (shared, read-only). */
  deliver(events: readonly HistoryEvent[], to: number): void {
    assert(this.#live, "only a live watcher is handed events");
    let overflow = false;
    for (const event of events) {
      if (event.revision < this.#next || !concerns(event, this.prefix)) continue;
      this.#buffer.push(event);
      this.#bufferBytes += eventSizeBytes(event);
      overflow ||=
        this.#buffer.length > this.#hub.options.bufferEventsMax || this.#bufferBytes > this.#hub.options.bufferBytesMax;
    }
    if (overflow) {
      // Hand nothing of the buffer out: resume from its first revision by reading the history.
      this.#next = (this.#buffer[0] as HistoryEvent).revision;
      this.#buffer = [];
      this.#bufferBytes = 0;
      this.#live = false;
      this.#hub.countFellBehind();
    } else {
      this.#next = Math.max(this.#next, to + 1);
    }
    this.wake();
  }

  /** Live only: the hub could not read the revisions it published (the history skipped them). */
  dropToHistory(): void {
    // The buffer holds whole revisions below the skipped ones: keep it, and let the history answer for the rest.
    this.#live = false;
  }

  /** One bounded span of history from `next` (at most catchUpRevisionsMax revisions, and no more matching
   * bytes than the buffer bound beyond one revision), filtered; undefined once caught up (the watcher is then
   * live). */
  #readHistory(): HistoryEvent[] | undefined {
    const published = this.#hub.published;
    if (this.#next > published) {
      this.#live = true;
      return undefined;
    }
    const { store, catchUpRevisionsMax, bufferBytesMax } = this.#hub.options;
    const last = Math.min(published, this.#next + catchUpRevisionsMax - 1);
    const out: HistoryEvent[] = [];
    let bytes = 0;
    while (this.#next <= last && bytes < bufferBytesMax) {
      let events: HistoryEvent[];
      try {
        events = store.events(this.#next, this.#next);
      } catch (error) {
        if (error instanceof ShoalError && error.code === "COMPACTED") {
          this.#hub.countCompactedOut();
          this.close(error);
        }
        throw error;
      }
      for (const event of events) {
        if (!concerns(event, this.prefix)) continue;
        out.push(event);
        bytes += eventSizeBytes(event);
      }
      this.#next++;
    }
    return out;
  }
}

function eventSizeBytes(event: HistoryEvent): number {
  return event.key.byteLength + (event.record?.value.byteLength ?? 0);
}

/** Whether a watch on `prefix` sees `event`: a change of a key under it, or a flush (every key deleted). */
function concerns(event: HistoryEvent, prefix: Uint8Array): boolean {
  return event.type === "flush" || hasPrefix(event.key, prefix);
}

function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.byteLength < prefix.byteLength) return false;
  for (let i = 0; i < prefix.byteLength; i++) if (key[i] !== prefix[i]) return false;
  return true;
}
