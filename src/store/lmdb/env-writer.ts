/**
 * @module Commits a big batch's rows on a helper thread (env-writer-worker.ts) instead of the event loop. Handing
 * rows to lmdb-js's own write thread (`db.batch`) still makes one JavaScript call per row on the loop — ~8–25 µs
 * each here with its queueing and garbage, so an MSET of 100,000 keys (~400,000 rows) held the loop 2.5 s and cost
 * elections (issue 10). Here the loop only collects and packs the rows, in slices (packed-rows.ts), and the helper
 * thread writes them in one LMDB transaction: atomic as before — data, history and the applied index commit
 * together or not at all.
 *
 * One helper per process, started when a store opens, never keeping the process alive while idle.
 */
import { Worker } from "node:worker_threads";

/** The messages to and from env-writer-worker.ts: a batch to write, or an environment to let go of. */
export type WriterRequest =
  | {
      readonly id: number;
      /** The environment to write (the store's live one). */
      readonly path: string;
      readonly noSync: boolean;
      /** Packed rows (packed-rows.ts), transferred. */
      readonly rows: ArrayBuffer;
    }
  | { readonly id: number; readonly release: string };
export type WriterResponse =
  | { readonly id: number; readonly rows: number; readonly error?: undefined }
  | { readonly id: number; readonly error: string };

let helper: { readonly thread: Worker; readonly pending: Map<number, (response: WriterResponse) => void> } | undefined;
let nextId = 1;
/** The environments the helper holds a handle to (it opened them to write). */
const written = new Set<string>();

/** Starts the helper thread now (creating a worker holds the event loop a few ms), not at the first big batch. */
export function startEnvWriter(): void {
  helperThread();
}

function helperThread(): NonNullable<typeof helper> {
  if (helper === undefined) {
    const thread = new Worker(new URL("./env-writer-worker.js", import.meta.url));
    const pending = new Map<number, (response: WriterResponse) => void>();
    const failAll = (why: string): void => {
      for (const [id, settle] of pending) settle({ id, error: why });
      pending.clear();
      if (helper?.thread === thread) helper = undefined;
    };
    thread.on("message", (response: WriterResponse) => {
      const settle = pending.get(response.id);
      pending.delete(response.id);
      settle?.(response);
      if (pending.size === 0) thread.unref();
    });
    thread.on("error", (error) => failAll(String(error)));
    thread.on("exit", (code) => failAll(`the LMDB writer thread exited (${code})`));
    helper = { thread, pending };
    thread.unref();
  }
  return helper;
}

/** Writes `rows` (packed, transferred) into the environment at `path` in one transaction; resolves with the row
 * count once committed, rejects if the transaction failed (then nothing of it was written). */
export function writeRowsOffThread(path: string, noSync: boolean, rows: ArrayBuffer): Promise<number> {
  written.add(path);
  return request({ id: nextId++, path, noSync, rows }, [rows]);
}

/** Drops the helper's handle to the environment at `path`, if it took one, so closing the store's own handle
 * really closes (and, for a retired environment, unmaps) it. Requests are answered in order: after any write. */
export async function releaseFromWriter(path: string): Promise<void> {
  if (!written.delete(path)) return;
  await request({ id: nextId++, release: path }, []).catch(() => undefined); // a dead helper holds nothing
}

function request(message: WriterRequest, transfer: ArrayBuffer[]): Promise<number> {
  const { thread, pending } = helperThread();
  thread.ref(); // a request in flight keeps the process up until answered
  return new Promise<number>((resolve, reject) => {
    pending.set(message.id, (response) => {
      if (response.error === undefined) resolve(response.rows);
      else reject(new Error(`LMDB writer thread: ${response.error}`));
    });
    thread.postMessage(message, transfer);
  });
}
