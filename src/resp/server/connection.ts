/**
 * @module One client connection: bytes in → parsed requests in a bounded queue → processed strictly in order →
 * replies appended to one writer → one socket.write per turn.
 *
 * Dispatch follows Redis's `processCommand` order: unknown command / arity (resolveCommand), then NOAUTH, then
 * the RESP2 subscribe-mode restriction, then MULTI queueing. Consecutive data commands are batched: a maximal run
 * of writes becomes ONE log entry (backend.runInLog), a run of reads ONE read batch (backend.runReads); the
 * connection and server commands (AUTH, MULTI, SUBSCRIBE, INFO…) are handled in `session-commands.ts`.
 *
 * Backpressure: the socket stops being read (pause) while the request queue is full or the last socket.write
 * returned false, and processing waits for 'drain'; so memory per connection is bounded by the queue bound,
 * the parser's limits (one partial request) and one turn of replies. A subscriber that does not read its
 * messages is disconnected past PUBSUB_OUTPUT_BYTES_MAX, like Redis's `client-output-buffer-limit pubsub`.
 */
import type { Socket } from "node:net";
import { argvEncodedBytesMax, COMMAND_ENCODING_BYTES_MAX, COMMAND_LIMITS } from "../../commands/limits.js";
import { checkCommandLimits } from "../../commands/redis/command-limits.js";
import type { CommandSpec } from "../../commands/redis/command-spec.js";
import type { Reply } from "../../commands/redis/reply.js";
import { ReadPacer } from "../../io/node/read-pacer.js";
import { newWriteOrder, type WriteOrder } from "../../node/write-order.js";
import { RequestParser, type RequestParserOptions, RespProtocolError } from "../request-parser.js";
import { RespWriter } from "../resp-writer.js";
import type { LogOutcome } from "./backend.js";
import { closeAfterReply } from "./close-after-reply.js";
import { isDataCommand, type RespCommand, resolveCommand } from "./command-table.js";
import { errorFromException, errorText, writeReply } from "./error-reply.js";
import { costFollowsData } from "./read-offload/read-offload.js";
import type { ClientDescription, ServerContext } from "./server-context.js";
import { Session } from "./session.js";
import { handleSessionCommand, isMultiControl, QUEUEABLE_LOCALLY } from "./session-commands.js";
import { CROSS_SHARD, commandShard, crossShardReply } from "./shard-runs.js";

/** Requests parsed ahead of processing; beyond this the socket is paused. Also the longest run of one batch. */
export const PENDING_REQUESTS_MAX = 1000;
/** A run of writes sent as one entry stops at this many argument bytes. An entry is applied in one synchronous
 * step on every replica (~10 µs per key written here), so its size bounds how long apply holds the event loop:
 * 256 KiB is ~2,000 keys of 100 bytes, tens of milliseconds; 4 MiB entries held it ~0.5 s (issue 10). */
export const RUN_BYTES_MAX = 256 * 1024;
/** Replies buffered before a mid-turn socket.write. */
export const FLUSH_BYTES = 64 * 1024;
/** Redis's client-output-buffer-limit pubsub hard limit (32 MiB): a subscriber further behind is dropped. */
export const PUBSUB_OUTPUT_BYTES_MAX = 32 * 1024 * 1024;
/** Redis's client-query-buffer-limit (1 GiB): unparsed input beyond this closes the connection. */
export const QUERY_BUFFER_BYTES_MAX = 1024 * 1024 * 1024;

type Pending = Uint8Array[] | RespProtocolError;

/** A run of writes handed to the node; its replies are written once it and every run before it are answered. */
interface RunInFlight {
  readonly order: WriteOrder;
  readonly shard: number;
  readonly commandCount: number;
  readonly startedMs: number;
  /** The replies, once answered (an error reply per command when the run failed). */
  replies: readonly Reply[] | undefined;
  readonly answered: Promise<void>;
}

export class Connection implements ClientDescription {
  readonly id: number;
  readonly #socket: Socket;
  readonly #context: ServerContext;
  readonly #parser: RequestParser;
  readonly #writer = new RespWriter(2);
  readonly session: Session;
  readonly #pending: Pending[] = [];
  #head = 0;
  #pumping = false;
  #paused = false;
  #writeBlocked = false;
  #drainWaiter: (() => void) | undefined;
  #inputEnded = false;
  #closing = false;
  #closeRequested = false;
  #closed = false;
  #flushScheduled = false;
  /** Write runs in flight, oldest first (see #runData). */
  readonly #runs: RunInFlight[] = [];
  /** Write runs handed to the node so far. */
  #runsHandedOver = 0;
  /** Wakes a pump waiting for its oldest run while new input arrives. */
  #inputWaiter: (() => void) | undefined;
  readonly #onClosed: (connection: Connection) => void;
  readonly #pacer: ReadPacer;

  constructor(
    id: number,
    socket: Socket,
    context: ServerContext,
    limits: RequestParserOptions,
    onClosed: (connection: Connection) => void,
  ) {
    this.id = id;
    this.#socket = socket;
    this.#context = context;
    this.#onClosed = onClosed;
    this.#parser = new RequestParser(limits);
    this.session = new Session(id, socket, context, this.#writer, {
      flushSoon: () => this.#flushSoon(),
      pubsubOverflow: () => this.#socket.writableLength + this.#writer.lengthBytes > PUBSUB_OUTPUT_BYTES_MAX,
      kill: () => this.kill(),
    });
    this.#parser.unauthenticated = !this.session.authenticated;
    this.#pacer = new ReadPacer(() => {
      // A new turn: parse what the last one left buffered (#readRequests resumes reading), and process it.
      this.#readRequests();
      if (!this.#pumping) void this.#pump();
      else this.#wakeForInput();
    });
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("drain", () => this.#onDrain());
    socket.on("end", () => {
      // The client will send nothing more: answer what it sent, then close (allowHalfOpen keeps our side open).
      this.#inputEnded = true;
      if (!this.#pumping) void this.#pump();
      else this.#wakeForInput();
    });
    socket.on("error", () => this.#destroy());
    socket.on("close", () => this.#destroy());
  }

  get isPubSub(): boolean {
    return this.session.subscriptionCount > 0;
  }

  describe(nowMs: number): string {
    return this.session.describe(nowMs, this.#parser.bufferedBytes, this.#socket.writableLength);
  }

  kill(): void {
    this.#socket.destroy();
    this.#destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#closing || this.#closed) return;
    this.#pacer.consumed(chunk.length); // #readRequests → #updateFlow pauses reading once the turn's budget is spent
    this.#parser.feed(chunk);
    if (this.#parser.bufferedBytes > QUERY_BUFFER_BYTES_MAX) {
      this.#context.logger?.warn({ id: this.id }, "closing a RESP client over the query buffer limit");
      this.kill();
      return;
    }
    this.#readRequests();
    if (!this.#pumping) void this.#pump();
    else this.#wakeForInput();
  }

  #wakeForInput(): void {
    const waiter = this.#inputWaiter;
    this.#inputWaiter = undefined;
    waiter?.();
  }

  /** Moves parsed requests into the queue, up to its bound and this turn's parsing budget (ReadPacer), then
   * pauses or resumes reading to match. */
  #readRequests(): void {
    while (this.#pending.length - this.#head < PENDING_REQUESTS_MAX) {
      const last = this.#pending[this.#pending.length - 1];
      if (last instanceof RespProtocolError) break; // final: nothing after it is read
      const request = this.#parser.next(this.#pacer.argsLeft);
      const spent = this.#pacer.parsed(this.#parser.argsParsed);
      if (request === undefined) break;
      this.#pending.push(request);
      if (spent) break;
    }
    this.#updateFlow();
  }

  #updateFlow(): void {
    const shouldPause =
      this.#closing ||
      this.#writeBlocked ||
      this.#pacer.exhausted ||
      this.#pending.length - this.#head >= PENDING_REQUESTS_MAX;
    if (shouldPause && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    } else if (!shouldPause && this.#paused) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  #onDrain(): void {
    this.#writeBlocked = false;
    const waiter = this.#drainWaiter;
    this.#drainWaiter = undefined;
    waiter?.();
    this.#updateFlow();
  }

  /** Processes queued requests in order until none is left and no run is in flight; one pump at a time. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#closed && !this.#closing) {
        if (this.#runs.length > 0) await this.#writeAnsweredRuns();
        if (this.#pending.length === this.#head) {
          this.#pending.length = 0;
          this.#head = 0;
          this.#readRequests();
          if (this.#pending.length === 0) {
            if (this.#runs.length === 0) break;
            // Runs in flight and nothing new: send what is answered, then wait for the oldest run or new input.
            this.#flush();
            await this.#oldestRunOrInput();
            continue;
          }
        }
        // Only a write run may start while runs are in flight (#runData); anything else waits for their answers,
        // so replies stay in request order.
        if (this.#runs.length > 0 && !this.#mayStartRunNow()) {
          await this.#writeRuns();
          continue;
        }
        const headBefore = this.#head;
        const handedOverBefore = this.#runsHandedOver;
        const startedMs = performance.now();
        const step = this.#step();
        if (step !== undefined) await step;
        // A write run is timed when its replies are written (#writeAnsweredRuns).
        if (this.#runsHandedOver === handedOverBefore) {
          this.#context.commandsTimed(this.#head - headBefore, (performance.now() - startedMs) / 1000);
        }
        if (this.#writer.lengthBytes >= FLUSH_BYTES) this.#flush();
        if (this.#writeBlocked) await this.#drained();
        if (this.#pending.length - this.#head < PENDING_REQUESTS_MAX / 2) this.#readRequests();
      }
      // Closing with runs in flight: their replies go first. (Otherwise the loop ended with none, and the pump
      // must end without awaiting: input arriving meanwhile would find it still pumping and be left unprocessed.)
      if (this.#runs.length > 0 && !this.#closed) await this.#writeRuns();
    } catch (error) {
      this.#context.logger?.warn({ id: this.id, error: String(error) }, "RESP connection failed");
      this.kill();
    } finally {
      this.#pumping = false;
    }
    if (this.#closed) return;
    this.#flush();
    if (this.#closing || this.#inputEnded) this.#closeAfterReply();
    else this.#updateFlow();
  }

  /** Whether the request at the head would start a write run that may join the runs in flight. A cheap look: the
   * run itself decides (#runData), this only keeps every other kind of step behind the runs' answers. */
  #mayStartRunNow(): boolean {
    if (this.#runs.length >= this.#context.writeRunsInFlightMax || this.session.multi !== undefined) return false;
    const request = this.#pending[this.#head] as Pending;
    if (request instanceof RespProtocolError) return false;
    const spec = resolveQuietly(request);
    if (spec === undefined || !isDataCommand(spec) || spec.flags.includes("readonly")) return false;
    return this.#refusal(spec, request, this.session.asking) === undefined;
  }

  /** Why `spec` may not run now, in Redis's order: NOAUTH and the subscribe-mode restriction, then the store's
   * bounds (an over-long key, an oversized value), which a data command meets before it is queued or proposed
   * (WATCH checks its own keys), then redirects and a run over several shards. */
  #refusal(spec: RespCommand, request: readonly Uint8Array[], asking: boolean): Reply | undefined {
    return (
      this.session.refusal(spec) ??
      (isDataCommand(spec)
        ? (limitRefusal(spec, request) ??
          this.#context.redirects?.refusal(spec, request, this.session.readonlyStale, asking) ??
          this.#shardRefusal(spec, request))
        : undefined)
    );
  }

  /** Writes the replies of the oldest runs that are answered, in order, up to the first that is not. */
  async #writeAnsweredRuns(): Promise<void> {
    while (this.#runs.length > 0 && !this.#closed) {
      const run = this.#runs[0] as RunInFlight;
      if (run.replies === undefined) return;
      this.#runs.shift();
      this.#context.commandsTimed(run.commandCount, (performance.now() - run.startedMs) / 1000);
      await this.#writeReplies(run.replies);
    }
  }

  /** Waits for every run in flight and writes their replies. */
  async #writeRuns(): Promise<void> {
    while (this.#runs.length > 0 && !this.#closed) {
      await (this.#runs[0] as RunInFlight).answered;
      await this.#writeAnsweredRuns();
    }
  }

  #oldestRunOrInput(): Promise<void> {
    const oldest = this.#runs[0] as RunInFlight;
    return new Promise<void>((resolve) => {
      this.#inputWaiter = resolve;
      void oldest.answered.then(resolve);
    });
  }

  #take(): Pending {
    const item = this.#pending[this.#head] as Pending;
    this.#pending[this.#head] = [];
    this.#head++;
    return item;
  }

  /** Handles the request at the head of the queue, or a run of data commands starting there. */
  #step(): Promise<void> | undefined {
    const request = this.#take();
    if (request instanceof RespProtocolError) {
      // Redis: answer the protocol error, then close once it is written.
      this.#writer.error(request.replyText);
      this.#closing = true;
      return undefined;
    }
    this.#context.countCommands(1);
    const session = this.session;
    let spec: RespCommand;
    try {
      spec = resolveCommand(request);
    } catch (error) {
      session.noteCommand(undefined);
      const reply = errorFromException(error);
      if (reply.kind === "error" && isExec(request)) {
        // Redis 7 (execCommandAbort): an EXEC refused by its arity check answers EXECABORT and discards any
        // transaction at once — even outside MULTI, where Redis answers the same.
        session.multi = undefined;
        session.watches.clear();
        this.#writer.error(`EXECABORT Transaction discarded because of: ${reply.message}`);
        return undefined;
      }
      if (session.multi !== undefined) session.multi.dirty = true; // Redis: a queue-time error aborts EXEC
      writeReply(this.#writer, reply);
      return undefined;
    }
    session.noteCommand(spec.name);
    // ASKING covers the one command after it (Redis clears the flag after every other command).
    const asking = session.asking;
    if (spec.name !== "asking") session.asking = false;
    const refusal = this.#refusal(spec, request, asking);
    if (refusal !== undefined) {
      if (session.multi !== undefined) session.multi.dirty = true;
      writeReply(this.#writer, refusal);
      return undefined;
    }
    if (session.multi !== undefined && !isMultiControl(spec.name)) {
      if (!isDataCommand(spec) && !QUEUEABLE_LOCALLY.has(spec.name)) {
        // Deliberate difference: Redis would queue AUTH, SUBSCRIBE, CLIENT… and run them at EXEC; Shoal runs an
        // EXEC block as one replicated entry, which can hold only data commands (and PING/ECHO/TIME, answered
        // at their position), so the others are refused at queue time.
        session.multi.dirty = true;
        this.#writer.error(errorText("BAD_REQUEST", "Command not allowed inside a transaction"));
        return undefined;
      }
      const queued = session.queue(request);
      if (queued.kind === "error") session.multi.dirty = true;
      writeReply(this.#writer, queued);
      return undefined;
    }
    if (isDataCommand(spec)) return this.#runData(spec, request);
    const result = handleSessionCommand(session, spec, request);
    if (result === undefined) return this.#afterSessionCommand();
    return result.then(() => this.#afterSessionCommand());
  }

  #afterSessionCommand(): undefined {
    this.#parser.unauthenticated = !this.session.authenticated;
    if (this.session.quitting) this.#closing = true;
    return undefined;
  }

  /**
   * A maximal run of data commands sent as one batch. A run that starts with a write goes through the log as one
   * entry and takes the reads that follow it too (they run at apply, in log order, so they see the run's writes
   * and are linearizable): a pipeline mixing writes and reads (INCR, SET, GET, …) costs one entry per run instead
   * of one entry plus one ReadIndex round per write/read switch. A run that starts with a read holds only reads
   * and is served after one ReadIndex barrier (or stale after READONLY).
   */
  #shardRefusal(spec: CommandSpec, argv: readonly Uint8Array[]): Reply | undefined {
    const shardOf = this.#context.backend.shardOf?.bind(this.#context.backend);
    return shardOf !== undefined && commandShard(shardOf, spec, argv) === CROSS_SHARD ? crossShardReply() : undefined;
  }

  async #runData(first: CommandSpec, firstArgv: Uint8Array[]): Promise<void> {
    const isRead = first.flags.includes("readonly");
    // On a node of several shards, a run holds one shard's commands (or only keyless ones): it is one entry of
    // one Raft group, or one read of one group's state (shard-runs.ts).
    const shardOf = this.#context.backend.shardOf?.bind(this.#context.backend);
    const runShard = shardOf === undefined ? 0 : commandShard(shardOf, first, firstArgv);
    const argvs: Uint8Array[][] = [firstArgv];
    // An upper bound of the run's entry encoding: a write run is one entry and must fit one (the first command
    // alone does: its bounds were checked in #step).
    let bytes = COMMAND_ENCODING_BYTES_MAX + argvEncodedBytesMax(firstArgv);
    let holdsReads = false;
    while (argvs.length < PENDING_REQUESTS_MAX && bytes < RUN_BYTES_MAX && this.#head < this.#pending.length) {
      const next = this.#pending[this.#head] as Pending;
      if (next instanceof RespProtocolError) break;
      const spec = resolveQuietly(next);
      if (spec === undefined || !isDataCommand(spec) || (isRead && !spec.flags.includes("readonly"))) break;
      // A read whose cost follows the data (KEYS, HGETALL, SCAN…) never joins a write run: inside the entry it
      // would run in apply, on the leader's event loop. It starts the next run, a read run served after the
      // writes are applied (so it still sees them) and off the loop (read-offload/).
      if (!isRead && spec.flags.includes("readonly") && costFollowsData(spec, next)) break;
      // A command refused on its own, or one the entry has no room for, starts the next step instead.
      if (this.session.refusal(spec) !== undefined || limitRefusal(spec, next) !== undefined) break;
      if (this.#context.redirects?.refusal(spec, next, this.session.readonlyStale) !== undefined) break;
      // A refused command (CROSS_SHARD) never equals the run's shard: it starts the next step, which refuses it.
      if (shardOf !== undefined && commandShard(shardOf, spec, next) !== runShard) break;
      const nextBytes = argvEncodedBytesMax(next);
      if (!isRead && bytes + nextBytes > COMMAND_LIMITS.entrySizeBytesMax) break;
      this.#take();
      this.#context.countCommands(1);
      this.session.noteCommand(spec.name);
      argvs.push(next);
      bytes += nextBytes;
      if (spec.flags.includes("readonly")) holdsReads = true;
    }
    const { backend, cursors } = this.#context;
    if (!isRead) return this.#handOver(argvs, runShard, holdsReads);
    let replies: readonly Reply[];
    try {
      replies = await backend.runReads(argvs, this.session.readonlyStale, cursors, this.#writer.version);
    } catch (error) {
      // The run did not happen (UNAVAILABLE) or could not be confirmed (TIMEOUT): every command of it gets the
      // error, and the connection goes on.
      const reply = errorFromException(error);
      replies = argvs.map(() => reply);
    }
    await this.#writeReplies(replies);
  }

  /**
   * Hands a write run to the node. When the node placed it (write-order.ts: queued where runs are submitted in
   * order) and it goes to the same shard as the runs in flight, the pump goes on to the next request while it is in
   * flight; otherwise the connection waits for it (and the runs before it) as Redis would. So does a run that
   * holds reads (the GETs after a SET): their replies can be big, and only one such run's are held at a time.
   */
  #handOver(argvs: Uint8Array[][], shard: number, holdsReads: boolean): Promise<void> | undefined {
    const inFlight = this.#runs;
    if (inFlight.length > 0 && (inFlight[0] as RunInFlight).shard !== shard)
      return this.#writeRuns().then(() => this.#handOver(argvs, shard, holdsReads));
    const order = newWriteOrder();
    // Before the new run is handed over: from now on no earlier run may be sent again (write-order.ts).
    for (const earlier of inFlight) earlier.order.laterSent = true;
    let run: RunInFlight;
    let outcome: Promise<LogOutcome>;
    try {
      outcome = this.#context.backend.runInLog(argvs, undefined, false, order);
    } catch (error) {
      outcome = Promise.reject(error); // a backend that throws at once: the run's commands get the error
    }
    const answered = outcome.then(
      (outcome) => {
        run.replies = outcome.replies;
      },
      (error: unknown) => {
        // The run did not happen (UNAVAILABLE, PROPOSAL_DROPPED) or its outcome is unknown (TIMEOUT): every
        // command of it gets the error, and the connection goes on.
        const reply = errorFromException(error);
        run.replies = argvs.map(() => reply);
      },
    );
    run = { order, shard, commandCount: argvs.length, startedMs: performance.now(), replies: undefined, answered };
    inFlight.push(run);
    this.#runsHandedOver++;
    return order.placed && !holdsReads ? undefined : this.#writeRuns();
  }

  /** Writes a run's replies. They can be large (1000 GETs of big values): encoded in slices, each written out
   * and, when the socket is full, waited for, so the encoded output stays near FLUSH_BYTES whatever the run holds. */
  async #writeReplies(replies: readonly Reply[]): Promise<void> {
    for (const reply of replies) {
      if (this.#closed) return;
      writeReply(this.#writer, reply);
      if (this.#writer.lengthBytes >= FLUSH_BYTES) {
        this.#flush();
        if (this.#writeBlocked) await this.#drained();
      }
    }
  }

  #drained(): Promise<void> {
    if (!this.#writeBlocked || this.#closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#drainWaiter = resolve;
    });
  }

  #flush(): void {
    if (this.#closed || this.#writer.lengthBytes === 0) return;
    const parts = this.#writer.flushParts();
    let ok = true;
    if (parts.length === 1) ok = this.#socket.write(parts[0] as Uint8Array);
    else {
      // Big values and worker replies come as parts of their own (not copied): one corked writev.
      this.#socket.cork();
      for (const part of parts) ok = this.#socket.write(part) && ok;
      this.#socket.uncork();
    }
    if (!ok) {
      this.#writeBlocked = true;
      this.#updateFlow();
    }
  }

  /** Pub/sub deliveries arrive between turns: flush them once the current tick's messages are written. */
  #flushSoon(): void {
    if (this.#pumping || this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      if (!this.#pumping) this.#flush();
    });
  }

  /** QUIT, a protocol error or the client's own half-close: the replies go out, then the socket is destroyed
   * (its 'close' frees the connection). */
  #closeAfterReply(): void {
    if (this.#closed || this.#closeRequested) return;
    this.#closeRequested = true;
    this.#closing = true;
    this.#releaseSession();
    closeAfterReply(this.#socket);
  }

  #destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    this.#pending.length = 0;
    this.#head = 0;
    this.#wakeForInput();
    const waiter = this.#drainWaiter;
    this.#drainWaiter = undefined;
    waiter?.();
    this.#releaseSession();
    this.#onClosed(this);
  }

  #releaseSession(): void {
    this.session.release();
  }
}

function resolveQuietly(argv: readonly Uint8Array[]): RespCommand | undefined {
  try {
    return resolveCommand(argv);
  } catch {
    return undefined;
  }
}

/** The error reply for a data command over one of the store's bounds (commands/redis/command-limits.ts). */
function limitRefusal(spec: CommandSpec, argv: readonly Uint8Array[]): Reply | undefined {
  try {
    checkCommandLimits(spec, argv);
    return undefined;
  } catch (error) {
    return errorFromException(error);
  }
}

function isExec(argv: readonly Uint8Array[]): boolean {
  const name = argv[0];
  return name !== undefined && name.byteLength === 4 && Buffer.from(name).toString("latin1").toLowerCase() === "exec";
}
