/**
 * @module The thread that closes retired LMDB environments (env-closer.ts). It opens an environment the store is
 * about to retire — lmdb-js shares one native environment per path within the process, so this only takes a
 * reference — and closes it when told: the last close unmaps the file, and that unmapping (tens of milliseconds
 * for a store of a million keys here) happens on this thread instead of the node's event loop.
 */
import { parentPort } from "node:worker_threads";
import { open, type RootDatabase } from "lmdb";
import type { CloserRequest } from "./env-closer.js";
import type { HelperAnswer } from "./helper-thread.js";

const port = parentPort;
if (port === null) throw new Error("env-closer-worker.js runs as a worker thread");
const held = new Map<string, RootDatabase<Uint8Array, Buffer>>();

port.on("message", (request: CloserRequest) => {
  void handle(request).then(
    () => port.postMessage({ id: request.id } satisfies HelperAnswer),
    (error: unknown) => port.postMessage({ id: request.id, error: String(error) } satisfies HelperAnswer),
  );
});

async function handle(request: CloserRequest): Promise<void> {
  if ("adopt" in request) {
    if (held.has(request.adopt)) return;
    held.set(
      request.adopt,
      open<Uint8Array, Buffer>({ path: request.adopt, keyEncoding: "binary", encoding: "binary", readOnly: true }),
    );
    return;
  }
  const db = held.get(request.close);
  held.delete(request.close);
  await db?.close();
}
