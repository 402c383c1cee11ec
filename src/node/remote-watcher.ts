/**
 * @module A watch on a shard this node holds no replica of (placement with R < N): it long-polls a member that holds
 * one — "the events of `prefix` from revision r, waiting up to a second for the first" — and hands out what each
 * poll brings, resuming from the revision the member says it read up to. Revisions count per shard and every
 * replica applies the same ones, so any holder can answer the next poll where the last one stopped: a holder that
 * dies or is cut off mid-watch only delays events (the next poll goes to another), and a watch on a shard that lost
 * its majority stays open without events, as a local one does. A revision the holder's history no longer reaches
 * ends the watch with COMPACTED, as a local watch ends.
 */
import { ShoalError } from "../lib/errors.js";
import type { HistoryEvent } from "../store/history.js";
import type { ShardWatcher } from "./merged-watcher.js";

/** One poll's answer: matching events (whole revisions, in order), and the revision to ask from next. */
export interface WatchPoll {
  readonly events: HistoryEvent[];
  readonly next: number;
}

/** How long a holder waits for a first event before answering an empty poll. */
export const WATCH_POLL_WAIT_MS = 1_000;
/** After a failed poll (holder down, no holder reachable), the wait before the next. */
const RETRY_DELAY_MS = 250;

export class RemoteWatcher implements ShardWatcher {
  readonly #poll: (from: number, waitMs: number) => Promise<WatchPoll>;
  #next: number;
  #closed = false;
  #error: ShoalError | undefined;
  #wake: (() => void) | undefined;
  readonly done: Promise<ShoalError | undefined>;
  #resolveDone!: (error: ShoalError | undefined) => void;

  constructor(poll: (from: number, waitMs: number) => Promise<WatchPoll>, fromRevision: number) {
    this.#poll = poll;
    this.#next = fromRevision;
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  /** The next batch (never empty), or undefined once closed without an error; throws the error that closed it. */
  async take(): Promise<HistoryEvent[] | undefined> {
    for (;;) {
      if (this.#closed) {
        if (this.#error !== undefined) throw this.#error;
        return undefined;
      }
      try {
        const { events, next } = await this.#poll(this.#next, WATCH_POLL_WAIT_MS);
        if (this.#closed) continue;
        this.#next = Math.max(this.#next, next);
        if (events.length > 0) return events;
      } catch (error) {
        if (error instanceof ShoalError && error.code === "COMPACTED") {
          this.close(error);
          continue;
        }
        // Any other failure: no holder answered this time; ask again shortly (a read: safe to repeat).
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, RETRY_DELAY_MS);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    }
  }

  close(error: ShoalError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = error;
    this.#resolveDone(error);
    this.#wake?.();
  }
}
