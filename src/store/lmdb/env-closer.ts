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
import { type HelperAnswer, HelperThread } from "./helper-thread.js";

/** The messages to env-closer-worker.ts (numbered by HelperThread); it answers a HelperAnswer. */
export type CloserRequest =
  | { readonly id: number; readonly adopt: string }
  | { readonly id: number; readonly close: string };

const helper = new HelperThread<HelperAnswer>(new URL("./env-closer-worker.js", import.meta.url), "LMDB closer");

/** Starts the helper thread now (creating a worker holds the event loop ~5 ms here), so the first retirement does
 * not pay for it. A store that will retire environments calls this when it opens. */
export function startEnvCloser(): void {
  helper.start();
}

function request(message: { readonly adopt: string } | { readonly close: string }): Promise<HelperAnswer> {
  return helper.request(message);
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
