/**
 * @module Bounds what one socket hands the event loop in one turn. libuv reads a readable socket up to 32 times
 * (64 KiB each) in one poll before the loop runs its timers again, and each read runs our data handler; when that
 * handler copies the chunk into a multi-megabyte buffer (a big Raft entry or bulk string being assembled), the page
 * faults of fresh memory alone cost ~3 ms per MiB on this machine, so one poll could hold the loop for tens of
 * milliseconds (issue 10). After `bytesPerTurn` bytes the pacer pauses the socket — Node then stops reading it
 * once its small readable buffer fills — and resumes it in the next turn's check phase, after timers and other
 * sockets have had their turn.
 */
/** See ReadPacer: what one socket may deliver per event-loop turn before it waits for the next. */
export const READ_BYTES_PER_TURN_DEFAULT = 1024 * 1024;

export class ReadPacer {
  readonly #onNextTurn: () => void;
  readonly #bytesPerTurn: number;
  #bytes = 0;
  #exhausted = false;

  /** `onNextTurn` runs in the check phase after the budget was spent: the owner resumes reading there (unless it
   * has its own reason to stay paused). */
  constructor(onNextTurn: () => void, bytesPerTurn = READ_BYTES_PER_TURN_DEFAULT) {
    this.#onNextTurn = onNextTurn;
    this.#bytesPerTurn = bytesPerTurn;
  }

  /** True from the chunk that spent this turn's budget until the next turn: the owner keeps its socket paused. */
  get exhausted(): boolean {
    return this.#exhausted;
  }

  /** Counts a chunk the data handler has just taken; true when the turn's budget is spent (pause reading). */
  consumed(bytes: number): boolean {
    this.#bytes += bytes;
    if (this.#exhausted || this.#bytes < this.#bytesPerTurn) return this.#exhausted;
    this.#exhausted = true;
    setImmediate(() => {
      this.#exhausted = false;
      this.#bytes = 0;
      this.#onNextTurn();
    });
    return true;
  }
}
