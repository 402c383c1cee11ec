/**
 * @module Closes retired LMDB environments off the event loop. Closing the last reference to an environment unmaps
 * its file; for a store of a million keys that took 30–45 ms of the event loop here (kernel time: page tables and
 * TLB shootdowns), once per FLUSHALL and per snapshot install, both of which retire the old environment whole
 * (issue 10). So before the store drops its reference, a helper thread takes one (env-closer-worker.ts), and the
 * unmapping happens there when that thread lets go.
 *
 * Best effort: if the helper cannot take a reference (it failed to start or to open), the store closes as before.
 * One helper per process, started on first use and never keeping the process alive.
 */
import { Worker } from "node:worker_threads";

/** The messages to and from env-closer-worker.ts. */
export type CloserRequest =
  | { readonly id: number; readonly adopt: string }
  | { readonly id: number; readonly close: string };
export interface CloserResponse {
  readonly id: number;
  readonly error?: string;
}

let helper: { readonly thread: Worker; readonly pending: Map<number, (error: string | undefined) => void> } | undefined;
let nextId = 1;

/** Starts the helper thread now (creating a worker holds the event loop ~5 ms here), so the first retirement does
 * not pay for it. A store that will retire environments calls this when it opens. */
export function startEnvCloser(): void {
  helperThread();
}

function helperThread(): NonNullable<typeof helper> {
  if (helper === undefined) {
    const thread = new Worker(new URL("./env-closer-worker.js", import.meta.url));
    const pending = new Map<number, (error: string | undefined) => void>();
    const failAll = (why: string): void => {
      for (const settle of pending.values()) settle(why);
      pending.clear();
      if (helper?.thread === thread) helper = undefined;
    };
    thread.on("message", (response: CloserResponse) => {
      const settle = pending.get(response.id);
      pending.delete(response.id);
      settle?.(response.error);
      if (pending.size === 0) thread.unref();
    });
    thread.on("error", (error) => failAll(String(error)));
    thread.on("exit", (code) => failAll(`exit ${code}`));
    helper = { thread, pending };
    thread.unref();
  }
  return helper;
}

function request(message: { readonly adopt: string } | { readonly close: string }): Promise<void> {
  const { thread, pending } = helperThread();
  const id = nextId++;
  thread.ref(); // a request in flight keeps the process up until answered
  return new Promise<void>((resolve, reject) => {
    pending.set(id, (error) => (error === undefined ? resolve() : reject(new Error(error))));
    const full: CloserRequest = { ...message, id };
    thread.postMessage(full);
  });
}

/**
 * Closes an environment the caller is retiring: `closeOwn` drops the caller's reference (lmdb-js `db.close()`),
 * after the helper has taken one, so the unmapping falls to the helper. Resolves once the environment is fully
 * closed (its files may then be removed).
 */
export async function closeOffLoop(envPath: string, closeOwn: () => Promise<void>): Promise<void> {
  let adopted = true;
  try {
    await request({ adopt: envPath });
  } catch {
    adopted = false;
  }
  await closeOwn();
  if (adopted) await request({ close: envPath }).catch(() => undefined);
}
