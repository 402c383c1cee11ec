/**
 * @module Which reads leave the event loop, and the worker threads that run them (read-worker.ts).
 *
 * Why threads and not slices: a command handler is a pure synchronous function over a consistent state; slicing
 * KEYS or HGETALL into event-loop turns would need every such handler rewritten as resumable, and the state kept
 * consistent across turns while entries apply. LMDB already gives any thread a consistent snapshot (a read
 * transaction) of the same pages, so the unchanged handler runs on a worker while the event loop keeps Raft's
 * timing. Cheap commands stay inline: the hop costs a few hundred microseconds.
 */
import { Worker } from "node:worker_threads";
import type { CommandSpec } from "../../../commands/redis/command-spec.js";
import { DATA_COMMAND_TABLE, someCommandKey } from "../../../commands/redis/table.js";
import { ShoalError } from "../../../lib/errors.js";
import { runStepsInSlices } from "../../../lib/steps.js";
import type { RespVersion } from "../../resp-value.js";
import { packArgvsSteps, packedTransfer, type ReadRequest, type ReadResponse } from "./read-protocol.js";

/** A command with more arguments than this (MGET, EXISTS, HMGET of many) is worth a worker. */
const INLINE_ARGUMENTS_MAX = 256;
/** How long packing a request's arguments may hold the loop before it yields (packArgvsSteps). */
const PACK_SLICE_MS = 4;
/** Cursor commands keep their cursors in the server's table on the event loop. */
const CURSOR_COMMANDS: ReadonlySet<string> = new Set(["scan", "hscan", "sscan", "zscan"]);

/**
 * True when a run of readonly commands should run on a read worker: one of them may cost time in proportion to
 * the data (a command Redis does not flag `fast`, such as KEYS, HGETALL, HKEYS, RANDOMKEY — or any command with
 * many arguments), and none needs the cursor table. Commands that do not resolve are left to the inline path,
 * which answers their errors.
 */
export function worthOffloading(
  argvs: readonly (readonly Uint8Array[])[],
  holdsBigValue: (key: Uint8Array) => boolean = () => false,
): boolean {
  let heavy = false;
  for (const argv of argvs) {
    let spec: CommandSpec;
    try {
      spec = DATA_COMMAND_TABLE.resolve(argv);
    } catch {
      return false;
    }
    if (CURSOR_COMMANDS.has(spec.name)) return false;
    // A GET of a 16 MiB value copies it out of LMDB: ~100-200 ms of page faults on this event loop (issue 10).
    if (costFollowsData(spec, argv) || someCommandKey(spec, argv, holdsBigValue)) heavy = true;
  }
  return heavy;
}

/** A command that may cost time in proportion to the data: one Redis does not flag `fast`, or one with many
 * arguments. */
export function costFollowsData(spec: CommandSpec, argv: readonly Uint8Array[]): boolean {
  return !spec.flags.includes("fast") || argv.length > INLINE_ARGUMENTS_MAX;
}

interface Pending {
  readonly resolve: (replies: Uint8Array[]) => void;
  readonly reject: (error: ShoalError) => void;
}

interface ReadWorker {
  readonly thread: Worker;
  readonly pending: Map<number, Pending>;
}

export class ReadOffload {
  readonly #workerCount: number;
  readonly #slotTable: () => Uint16Array | undefined;
  readonly #workers: ReadWorker[] = [];
  #nextId = 1;
  #closed = false;

  /** `slotTable`: the shard owning each slot now (SlotMap.table), for reads over several shards' environments. */
  constructor(workerCount: number, slotTable: () => Uint16Array | undefined = () => undefined) {
    if (!Number.isSafeInteger(workerCount) || workerCount < 1) throw new RangeError("workerCount must be >= 1");
    this.#workerCount = workerCount;
    this.#slotTable = slotTable;
  }

  /** Runs `argvs` on a worker against the environment at `envPaths` (one shard's, or every shard's read as one
   * keyspace; kept open by the caller until this settles); resolves with each command's reply encoded in
   * `protocol`. */
  async run(
    envPaths: readonly string[],
    argvs: readonly (readonly Uint8Array[])[],
    nowMs: number,
    protocol: RespVersion,
  ): Promise<Uint8Array[]> {
    if (this.#closed) throw new ShoalError("UNAVAILABLE", "Node is shutting down");
    const packed = await runStepsInSlices(packArgvsSteps(argvs), PACK_SLICE_MS);
    if (this.#closed) throw new ShoalError("UNAVAILABLE", "Node is shutting down");
    const worker = this.#leastBusy();
    const id = this.#nextId++;
    const request: ReadRequest = {
      id,
      envPaths,
      ...(envPaths.length > 1 ? { slotTable: this.#slotTable() } : {}),
      argvs: packed,
      nowMs,
      seed: Math.floor(Math.random() * 0x100000000),
      protocol,
    };
    return new Promise<Uint8Array[]>((resolve, reject) => {
      worker.pending.set(id, { resolve, reject });
      worker.thread.postMessage(request, packedTransfer(request.argvs));
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const workers = this.#workers.splice(0);
    for (const worker of workers) this.#fail(worker, new ShoalError("UNAVAILABLE", "Node is shutting down"));
    await Promise.all(workers.map((worker) => worker.thread.terminate()));
  }

  #leastBusy(): ReadWorker {
    if (this.#workers.length < this.#workerCount) {
      const idle = this.#workers.find((worker) => worker.pending.size === 0);
      return idle ?? this.#spawn();
    }
    let best = this.#workers[0] as ReadWorker;
    for (const worker of this.#workers) if (worker.pending.size < best.pending.size) best = worker;
    return best;
  }

  #spawn(): ReadWorker {
    const thread = new Worker(new URL("./read-worker.js", import.meta.url));
    const worker: ReadWorker = { thread, pending: new Map() };
    thread.on("message", (response: ReadResponse) => {
      const pending = worker.pending.get(response.id);
      if (pending === undefined) return;
      worker.pending.delete(response.id);
      if (!response.ok) {
        pending.reject(new ShoalError("INTERNAL", `internal error: ${response.message}`));
        return;
      }
      const bytes = new Uint8Array(response.buffer);
      let start = 0;
      pending.resolve(
        response.ends.map((end) => {
          const reply = bytes.subarray(start, end);
          start = end;
          return reply;
        }),
      );
    });
    const failed = (error: unknown): void => {
      const index = this.#workers.indexOf(worker);
      if (index >= 0) this.#workers.splice(index, 1);
      const detail = error instanceof Error ? error.message : String(error);
      this.#fail(worker, new ShoalError("INTERNAL", `internal error: a read worker stopped (${detail})`));
    };
    thread.on("error", failed);
    thread.on("exit", (code) => failed(`exit ${code}`));
    this.#workers.push(worker);
    return worker;
  }

  #fail(worker: ReadWorker, error: ShoalError): void {
    for (const pending of worker.pending.values()) pending.reject(error);
    worker.pending.clear();
  }
}
