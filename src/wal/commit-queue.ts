/**
 * @module The WAL's I/O pump: performs queued writes in order, one at a time, and makes them durable per the
 * fsync policy with group commit. All decisions (what bytes, which segment, at which offset) are made
 * synchronously by `Wal.save`; this only executes them, so the order of saves is the order of calls.
 *
 * WHERE DATA BECOMES DURABLE:
 * - `always`: a save resolves after its bytes were written AND a later fdatasync of the segment completed
 *   (plus an fsync of the directory when that round created a segment). Saves queued while an fsync is in
 *   flight are written together afterwards and share the next fsync (group commit).
 * - `batch`: the same, but fsyncs start at most once per `batchIntervalMs`: a save arriving while the WAL is
 *   idle is synced at once, and saves arriving within the interval after an fsync started wait for the
 *   interval to end and share the next one. Each save still resolves only after the fsync covering it. This
 *   trades latency for fewer fsyncs when many writers (Raft groups) save concurrently; a lone sequential
 *   writer is better served by `always`, whose group commit already shares fsyncs among concurrent saves.
 * - `never`: a save resolves once its bytes are in the OS page cache: that survives a crash of this process
 *   (kill -9) but not of the machine. Durability comes from replication.
 * Under every policy a segment is fsynced before the next one is created (so a torn tail can only be in the
 * last segment), and everything is fsynced before a compaction deletes files and on close.
 *
 * An I/O error poisons the queue: the failing save and every later one reject with the same ShoalError. The
 * bytes on disk are then unknown (a failed fsync may have dropped dirty pages), so retrying would be a lie
 * (the PostgreSQL "fsyncgate" lesson); the node must restart and recover.
 */
import type { Disk, DiskFile } from "../io/disk.js";
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import { segmentPath } from "./segment.js";

export type FsyncPolicy = "always" | "batch" | "never";

interface Settle {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface WriteJob extends Settle {
  readonly kind: "write";
  /** Written one after the other from positionBytes (a big entry's data is a part of its own). */
  readonly parts: readonly Uint8Array[];
  readonly positionBytes: number;
  /** Set when this write starts a new segment file (its bytes begin with the segment header). */
  readonly newSegmentName: string | undefined;
}

interface TaskJob extends Settle {
  readonly kind: "task";
  readonly run: () => Promise<void>;
}

type Job = WriteJob | TaskJob;

export interface CommitQueueOptions {
  readonly disk: Disk;
  readonly dir: string;
  readonly fsync: FsyncPolicy;
  readonly batchIntervalMs: number;
  readonly delay: (ms: number) => Promise<void>;
  /** UNSAFE (mutation test, wal-options.ts WalUnsafe): saves resolve without their fsync. */
  readonly skipSync?: boolean;
}

export class CommitQueue {
  readonly #options: CommitQueueOptions;
  #file: DiskFile;
  readonly #jobs: Job[] = [];
  #draining = false;
  #closed = false;
  #failure: ShoalError | undefined = undefined;
  /** Bytes were written to #file since its last sync. */
  #fileDirty = false;
  /** A segment was created since the directory's last sync. */
  #directoryDirty = false;
  /** With `batch`: resolves `batchIntervalMs` after the last fsync started; undefined once that has passed. */
  #coolDown: Promise<void> | undefined = undefined;

  /** `file` is the open last segment, whose existence is already durable. */
  constructor(options: CommitQueueOptions, file: DiskFile) {
    this.#options = options;
    this.#file = file;
  }

  /** The error that poisoned the queue, if any. */
  get failure(): ShoalError | undefined {
    return this.#failure;
  }

  /** Queues `bytes` for writing at `positionBytes` of the current segment, or of the new segment
   * `newSegmentName`, which is created first. Resolves once durable per the policy (see the module comment). */
  write(parts: readonly Uint8Array[], positionBytes: number, newSegmentName: string | undefined): Promise<void> {
    assert(!this.#closed, "Cannot write through a closed commit queue");
    return this.#enqueue((settle) => ({ kind: "write", parts, positionBytes, newSegmentName, ...settle }));
  }

  /** Queues `run` to start once every earlier write is durable, whatever the policy. */
  task(run: () => Promise<void>): Promise<void> {
    assert(!this.#closed, "Cannot queue a task on a closed commit queue");
    return this.#enqueue((settle) => ({ kind: "task", run, ...settle }));
  }

  /** Syncs and closes the current segment after every queued job; the queue takes no job afterwards. */
  async close(): Promise<void> {
    assert(!this.#closed, "Cannot close a commit queue twice");
    this.#closed = true;
    if (this.#failure !== undefined) {
      await this.#file.close().catch(() => undefined); // The first error was reported already.
      return;
    }
    await this.#enqueue((settle) => ({ kind: "task", run: () => this.#file.close(), ...settle }));
  }

  #enqueue(make: (settle: Settle) => Job): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<void>((resolve, reject) => {
      this.#jobs.push(make({ resolve, reject }));
      if (this.#draining) return;
      // Start on a microtask, so every save issued in the same synchronous stretch joins the first round.
      this.#draining = true;
      queueMicrotask(() => void this.#drain());
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#jobs.length > 0) {
        const head = this.#jobs[0] as Job;
        if (head.kind === "task") {
          this.#jobs.shift();
          await this.#runTask(head);
        } else {
          await this.#commitRound();
        }
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#draining = false;
    }
  }

  /** Writes every queued write up to the next task, then syncs once per the policy and resolves them all. */
  async #commitRound(): Promise<void> {
    const round = this.#takeWrites();
    try {
      await this.#writeAll(round);
      if (this.#options.fsync === "batch") await this.#joinBatch(round);
      if (this.#options.fsync !== "never" && this.#options.skipSync !== true) await this.#syncAll();
    } catch (error) {
      const failure = this.#fail(error);
      for (const job of round) job.reject(failure);
      return;
    }
    for (const job of round) job.resolve();
  }

  /** Waits out the interval since the last fsync, gathering (writing) the saves that arrive meanwhile into
   * `round`, then starts the next interval. */
  async #joinBatch(round: WriteJob[]): Promise<void> {
    if (this.#coolDown !== undefined) {
      await this.#coolDown;
      const late = this.#takeWrites();
      await this.#writeAll(late);
      round.push(...late);
    }
    const coolDown: Promise<void> = this.#options.delay(this.#options.batchIntervalMs).then(() => {
      if (this.#coolDown === coolDown) this.#coolDown = undefined;
    });
    this.#coolDown = coolDown;
  }

  async #runTask(job: TaskJob): Promise<void> {
    try {
      await this.#syncAll();
      await job.run();
    } catch (error) {
      job.reject(this.#fail(error));
      return;
    }
    job.resolve();
  }

  #takeWrites(): WriteJob[] {
    let count = 0;
    while (this.#jobs[count]?.kind === "write") count++;
    return this.#jobs.splice(0, count) as WriteJob[];
  }

  async #writeAll(jobs: readonly WriteJob[]): Promise<void> {
    for (const job of jobs) {
      if (job.newSegmentName !== undefined) await this.#startSegment(job.newSegmentName);
      let positionBytes = job.positionBytes;
      for (const part of job.parts) {
        if (part.byteLength === 0) continue;
        await this.#file.write(part, positionBytes);
        positionBytes += part.byteLength;
      }
      this.#fileDirty = true;
    }
  }

  /** Closes the current segment durably and creates the next one (its header arrives with the first write). */
  async #startSegment(name: string): Promise<void> {
    await this.#file.sync();
    this.#fileDirty = false;
    await this.#file.close();
    this.#file = await this.#options.disk.open(segmentPath(this.#options.dir, name), "create");
    this.#directoryDirty = true;
  }

  async #syncAll(): Promise<void> {
    if (this.#fileDirty) {
      this.#fileDirty = false;
      await this.#file.sync();
    }
    if (this.#directoryDirty) {
      this.#directoryDirty = false;
      await this.#options.disk.syncDirectory(this.#options.dir);
    }
  }

  /** Poisons the queue (once) and rejects every queued job; returns the poison. */
  #fail(error: unknown): ShoalError {
    if (this.#failure === undefined) {
      const message = error instanceof Error ? error.message : String(error);
      this.#failure = new ShoalError("INTERNAL", `Cannot write WAL: ${message}`, { cause: error });
    }
    const failure = this.#failure;
    for (const job of this.#jobs.splice(0)) job.reject(failure);
    assert(this.#jobs.length === 0, "A poisoned commit queue still holds jobs");
    return failure;
  }
}
