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
import { type HelperAnswer, HelperThread } from "./helper-thread.js";

/** The messages to env-writer-worker.ts (numbered by HelperThread): a batch to write, or an environment to let go
 * of. It answers with the rows written. */
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
export interface WriterAnswer extends HelperAnswer {
  readonly rows?: number;
}

const helper = new HelperThread<WriterAnswer>(new URL("./env-writer-worker.js", import.meta.url), "LMDB writer thread");
/** The environments the helper holds a handle to (it opened them to write). */
const written = new Set<string>();

/** Starts the helper thread now (creating a worker holds the event loop a few ms), not at the first big batch. */
export function startEnvWriter(): void {
  helper.start();
}

/** Writes `rows` (packed, transferred) into the environment at `path` in one transaction; resolves once committed,
 * rejects if the transaction failed (then nothing of it was written). */
export async function writeRowsOffThread(path: string, noSync: boolean, rows: ArrayBuffer): Promise<void> {
  written.add(path);
  await helper.request({ path, noSync, rows }, [rows]);
}

/** Drops the helper's handle to the environment at `path`, if it took one, so closing the store's own handle
 * really closes (and, for a retired environment, unmaps) it. Requests are answered in order: after any write. */
export async function releaseFromWriter(path: string): Promise<void> {
  if (!written.delete(path)) return;
  await helper.request({ release: path }).catch(() => undefined); // a dead helper holds nothing
}
