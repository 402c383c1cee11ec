/**
 * @module One watch over several shards: each shard's `Watcher` (watch-hub.ts) yields its own revisions in order;
 * this hands their batches out as they come, tagged with the shard, and keeps a cursor — per shard, the last
 * revision handed out whole — that resumes the merged watch exactly where it stopped (`WatchCursorVector`).
 * Every key lives in one shard, so events of one key keep their order; events of keys in different shards have
 * no order between them (their revisions count in different groups), as in a Redis Cluster's keyspace.
 *
 * Bounded: at most one batch per shard is taken ahead of the reader (a slow reader slows every shard's watcher,
 * which drops back to reading history rather than buffering without bound).
 */
import { ShoalError } from "../lib/errors.js";
import type { HistoryEvent } from "../store/history.js";
import type { Watcher } from "./watch-hub.js";

/** What the merge needs of a shard's watcher: a local replica's (watch-hub.ts) or one polling a member that holds
 * the shard (remote-watcher.ts). */
export type ShardWatcher = Pick<Watcher, "take" | "close" | "done">;

export interface ShardBatch {
  readonly shard: number;
  /** Whole revisions of that shard, in order, never empty. */
  readonly events: HistoryEvent[];
}

type Taken =
  | { readonly shard: number; readonly events: HistoryEvent[] | undefined }
  | { readonly shard: number; readonly error: unknown };

export class MergedWatcher {
  readonly #watchers: ReadonlyMap<number, ShardWatcher>;
  /** Shards with a take() under way or a result waiting in #ready: at most one each. */
  readonly #pulling = new Set<number>();
  readonly #ready: Taken[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  #error: ShoalError | undefined;
  readonly done: Promise<ShoalError | undefined>;

  /** `watchers` under the caller's key for each shard (ShardBatch.shard); the merged watch owns them (closing it
   * closes them). */
  constructor(watchers: ReadonlyMap<number, ShardWatcher>) {
    this.#watchers = watchers;
    // The first shard watcher to close (with an error or without: the node is shutting down) ends the whole watch.
    this.done = Promise.race([...watchers.values()].map((watcher) => watcher.done));
    void this.done.then((error) => this.close(error));
  }

  /** The next shard's batch, in the order they became ready; undefined once closed without an error. Throws the
   * error that ended a shard's watcher (COMPACTED). One caller at a time. */
  async take(): Promise<ShardBatch | undefined> {
    for (;;) {
      const taken = this.#ready.shift();
      if (taken !== undefined) {
        this.#pulling.delete(taken.shard);
        if ("error" in taken) {
          this.close(taken.error instanceof ShoalError ? taken.error : undefined);
          throw taken.error;
        }
        if (taken.events === undefined) {
          this.close(undefined);
          return undefined;
        }
        return { shard: taken.shard, events: taken.events };
      }
      if (this.#closed) {
        if (this.#error !== undefined) throw this.#error;
        return undefined;
      }
      for (const [shard, watcher] of this.#watchers) if (!this.#pulling.has(shard)) this.#pull(shard, watcher);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  close(error: ShoalError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = error;
    for (const watcher of this.#watchers.values()) watcher.close(error);
    this.#signal();
  }

  #pull(shard: number, watcher: ShardWatcher): void {
    this.#pulling.add(shard);
    watcher.take().then(
      (events) => this.#arrive({ shard, events }),
      (error: unknown) => this.#arrive({ shard, error }),
    );
  }

  #arrive(taken: Taken): void {
    this.#ready.push(taken);
    this.#signal();
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/**
 * Where a watch over every shard stands: for each shard, in shard order, the last revision delivered whole. Its
 * text — the numbers joined by dots, e.g. `12.40.7` — is the SSE `id:` of each revision and the `cursor` query
 * parameter; on a single shard it is the plain revision, so the cursor and `Last-Event-ID` of one group are what
 * they always were.
 */
export class WatchCursorVector {
  readonly #delivered: number[];

  constructor(delivered: readonly number[]) {
    this.#delivered = [...delivered];
  }

  /** Parses a cursor of `shardCount` shards; INVALID_ARGUMENT (naming `what`) otherwise. */
  static parse(text: string, shardCount: number, what: string): WatchCursorVector {
    const parts = text.split(".");
    if (parts.length !== shardCount) {
      throw new ShoalError(
        "BAD_REQUEST",
        `${what} names ${parts.length} shard${parts.length === 1 ? "" : "s"}; this cluster has ${shardCount} (pass back the id of the last event received)`,
      );
    }
    const delivered = parts.map((part) => (/^\d{1,15}$/.test(part) ? Number(part) : Number.NaN));
    if (delivered.some((revision) => !Number.isSafeInteger(revision))) {
      throw new ShoalError(
        "BAD_REQUEST",
        `${what} must be revisions joined by dots (the id of the last event received), got ${JSON.stringify(text.slice(0, 64))}`,
      );
    }
    return new WatchCursorVector(delivered);
  }

  /** The revision shard `index` (0-based, in shard order) resumes from. */
  nextOf(index: number): number {
    return (this.#delivered[index] ?? 0) + 1;
  }

  /** Records that shard `index` delivered `revision` whole. */
  delivered(index: number, revision: number): void {
    if (revision > (this.#delivered[index] ?? 0)) this.#delivered[index] = revision;
  }

  toString(): string {
    return this.#delivered.join(".");
  }
}
