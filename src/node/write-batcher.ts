/**
 * @module Redis writes of one event-loop turn, from every connection, as ONE Raft entry. Fifty clients at
 * `redis-benchmark -P 1` made fifty entries per Ready, each paying its own encoding, log append, WAL record,
 * proposal timer and apply bookkeeping (issue 14). A run without WATCH is queued and the queue goes to the log as one
 * `redis` command at the next turn (setImmediate: after the poll phase has read every ready socket); its replies
 * are handed back run by run.
 *
 * What it changes: the runs of one entry share a revision and apply atomically together — as concurrent writes
 * they have no order a client could see, and each run keeps its own meaning (a failing command leaves no writes
 * behind; a MULTI block stays all or nothing). What it does not: a run with WATCHed keys (its check is the whole
 * entry's) and a big run (many arguments or bytes) go alone. If the shared entry is refused as a whole (a command
 * over a limit, a slot being moved for one run's key), nothing was applied and each run is submitted on its own, so
 * one client's refusal is never another's. An outcome the log cannot tell (timeout, leader lost) is every run's.
 */
import type { CommandResult } from "../commands/command.js";
import { SLICED_FIELD_BYTES_MIN } from "../commands/command-codec.js";
import { argvEncodedBytesMax, COMMAND_LIMITS } from "../commands/limits.js";
import { PACKED_ARGUMENTS_MIN } from "../commands/packed-redis-entry.js";
import type { Reply } from "../commands/redis/reply.js";
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import { mayResend, type WriteOrder } from "./write-order.js";

/** Replicates one `redis` command of `argvs`; a "not applied" failure is retried only while `mayResend` allows. */
type Submit = (argvs: readonly (readonly Uint8Array[])[], mayResend?: () => boolean) => Promise<CommandResult>;

export interface BatchedOutcome {
  readonly aborted: boolean;
  readonly replies: readonly Reply[];
}

/** A run bigger than this (arguments or estimated bytes) is submitted alone. */
const RUN_ARGUMENTS_MAX = 256;
const RUN_BYTES_MAX = 64 * 1024;
/** One shared entry at most: well under the entry limit and the stepped encoding's threshold. */
const BATCH_ARGUMENTS_MAX = 4000;
const BATCH_BYTES_MAX = 1024 * 1024;
// A placed run's entry must be encoded at once (write-order.ts: entries leave in the order their runs came): the
// entry of a shared batch, or of a run alone under the run bounds, never reaches the encodings that span turns.
assert(BATCH_ARGUMENTS_MAX < PACKED_ARGUMENTS_MIN, "a shared entry is never encoded in steps");
assert(RUN_BYTES_MAX < SLICED_FIELD_BYTES_MIN, "a small run holds no field that is copied in slices");

interface Queued {
  readonly argvs: readonly (readonly Uint8Array[])[];
  readonly order: WriteOrder | undefined;
  readonly resolve: (outcome: BatchedOutcome) => void;
  readonly reject: (error: unknown) => void;
}

export class RedisWriteBatcher {
  readonly #submit: Submit;
  readonly #nextTurn: (flush: () => void) => void;
  #queue: Queued[] = [];
  #arguments = 0;
  #bytes = 0;
  #commands = 0;

  /** `submit` replicates one `redis` command of `argvs`; `nextTurn` runs the flush later (setImmediate). */
  constructor(submit: Submit, nextTurn: (flush: () => void) => void = (flush) => setImmediate(flush)) {
    this.#submit = submit;
    this.#nextTurn = nextTurn;
  }

  /**
   * Runs `argvs` (no WATCH) through the log, in a shared entry when small. Entries are submitted in the order their
   * runs came, so a small run's `order` is marked placed here (write-order.ts); a big one goes alone, after the
   * queue, and is not: its encoding may span turns, and a later small entry would overtake it.
   */
  run(argvs: readonly (readonly Uint8Array[])[], order?: WriteOrder): Promise<BatchedOutcome> {
    let count = 0;
    let bytes = 0;
    for (const argv of argvs) {
      count += argv.length;
      bytes += argvEncodedBytesMax(argv);
    }
    if (count > RUN_ARGUMENTS_MAX || bytes > RUN_BYTES_MAX) {
      this.#flush(); // what came before it is submitted first
      return this.#alone(argvs, order);
    }
    if (
      this.#arguments + count > BATCH_ARGUMENTS_MAX ||
      this.#bytes + bytes > BATCH_BYTES_MAX ||
      this.#commands + argvs.length > COMMAND_LIMITS.redisCommandsCountMax
    ) {
      this.#flush();
    }
    return new Promise<BatchedOutcome>((resolve, reject) => {
      if (this.#queue.length === 0) this.#nextTurn(() => this.#flush());
      this.#queue.push({ argvs, order, resolve, reject });
      if (order !== undefined) order.placed = true;
      this.#arguments += count;
      this.#bytes += bytes;
      this.#commands += argvs.length;
    });
  }

  #flush(): void {
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    this.#arguments = 0;
    this.#bytes = 0;
    this.#commands = 0;
    if (batch.length === 1) {
      const [only] = batch as [Queued];
      this.#alone(only.argvs, only.order).then(only.resolve, only.reject);
      return;
    }
    void this.#shared(batch);
  }

  async #shared(batch: readonly Queued[]): Promise<void> {
    let result: CommandResult;
    try {
      result = await this.#submit(
        batch.flatMap((queued) => queued.argvs),
        () => mayResend(batch.map((queued) => queued.order)),
      );
    } catch (error) {
      // Refused before it was proposed (a command over a limit): certainly not applied, so each run goes alone.
      if (error instanceof ShoalError && (error.code === "BAD_REQUEST" || error.code === "TOO_LARGE")) {
        this.#eachAlone(batch, error);
      } else {
        for (const queued of batch) queued.reject(error);
      }
      return;
    }
    if (result.kind !== "redis") {
      // Refused as a whole at apply (nothing written): each run alone gets its own answer.
      this.#eachAlone(batch, result.kind === "error" ? new ShoalError(result.code, result.message) : undefined);
      return;
    }
    let at = 0;
    for (const queued of batch) {
      const replies = result.replies.slice(at, at + queued.argvs.length);
      at += queued.argvs.length;
      queued.resolve({ aborted: false, replies });
    }
  }

  /** Submits each run of a refused entry alone — except a run a later run of its client already overtook
   * (write-order.ts): sent again it would land after that one, so it answers that it was not applied. */
  #eachAlone(batch: readonly Queued[], refusal: ShoalError | undefined): void {
    for (const queued of batch) {
      if (queued.order?.laterSent === true) {
        const why = refusal === undefined ? "" : ` (${refusal.message})`;
        queued.reject(
          new ShoalError(
            "UNAVAILABLE",
            `Not applied: the write shared an entry that was refused${why} while later writes of this connection were in flight; retry`,
          ),
        );
      } else {
        this.#alone(queued.argvs, queued.order).then(queued.resolve, queued.reject);
      }
    }
  }

  async #alone(argvs: readonly (readonly Uint8Array[])[], order: WriteOrder | undefined): Promise<BatchedOutcome> {
    return outcomeOf(await this.#submit(argvs, order === undefined ? undefined : () => order.laterSent !== true));
  }
}

/** A `redis` entry's result as a run's outcome; a refused entry's error is thrown. */
export function outcomeOf(result: CommandResult): BatchedOutcome {
  if (result.kind === "redis") return { aborted: result.aborted, replies: result.replies };
  if (result.kind === "error") throw new ShoalError(result.code, result.message);
  throw new ShoalError("INTERNAL", `A redis entry produced a ${result.kind} result`);
}
