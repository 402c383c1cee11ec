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
/** What one connection's request parser may read per turn, in arguments (~1 µs each here, so ~4 ms). */
export const PARSED_ARGS_PER_TURN_DEFAULT = 4096;

export class ReadPacer {
  readonly #onNextTurn: () => void;
  readonly #bytesPerTurn: number;
  readonly #argsPerTurn: number;
  #bytes = 0;
  #args = 0;
  #exhausted = false;

  /** `onNextTurn` runs in the check phase after the budget was spent: the owner resumes reading (and parsing)
   * there (unless it has its own reason to stay paused). */
  constructor(
    onNextTurn: () => void,
    bytesPerTurn = READ_BYTES_PER_TURN_DEFAULT,
    argsPerTurn = PARSED_ARGS_PER_TURN_DEFAULT,
  ) {
    this.#onNextTurn = onNextTurn;
    this.#bytesPerTurn = bytesPerTurn;
    this.#argsPerTurn = argsPerTurn;
  }

  /** Arguments the owner's parser may still read before the next turn (at least 1: a request always moves). */
  get argsLeft(): number {
    return Math.max(1, this.#argsPerTurn - this.#args);
  }

  /** Counts arguments the owner's parser has just read: many small arguments cost the loop more than their
   * bytes say. True when the turn's budget is spent (stop parsing, pause reading). */
  parsed(args: number): boolean {
    this.#args += args;
    if (this.#args < this.#argsPerTurn) return this.#exhausted;
    this.#exhaust();
    return true;
  }

  /** True from the chunk that spent this turn's budget until the next turn: the owner keeps its socket paused. */
  get exhausted(): boolean {
    return this.#exhausted;
  }

  /** Counts a chunk the data handler has just taken; true when the turn's budget is spent (pause reading). */
  consumed(bytes: number): boolean {
    this.#bytes += bytes;
    if (this.#bytes < this.#bytesPerTurn) return this.#exhausted;
    this.#exhaust();
    return true;
  }

  #exhaust(): void {
    if (this.#exhausted) return;
    this.#exhausted = true;
    setImmediate(() => {
      this.#exhausted = false;
      this.#bytes = 0;
      this.#args = 0;
      this.#onNextTurn();
    });
  }
}
