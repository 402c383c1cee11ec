/**
 * @module The thread that commits big batches into LMDB (env-writer.ts): it opens the store's environment —
 * lmdb-js shares one native environment per path within the process, so this is another handle to the same one —
 * and writes a batch's packed rows (packed-rows.ts) in one synchronous transaction. LMDB's writer lock serializes
 * it with every other writer; the store sends it a batch only while nothing else writes.
 */
import { parentPort } from "node:worker_threads";
import { open, type RootDatabase } from "lmdb";
import type { WriterAnswer, WriterRequest } from "./env-writer.js";
import { unpackRows } from "./packed-rows.js";

const port = parentPort;
if (port === null) throw new Error("env-writer-worker.js runs as a worker thread");
/** A handle per environment written, until the store closes that environment (a `release` request). */
const handles = new Map<string, RootDatabase<Uint8Array, Buffer>>();

function handleOf(path: string, noSync: boolean): RootDatabase<Uint8Array, Buffer> {
  const held = handles.get(path);
  if (held !== undefined) return held;
  // The options the store opens with (lmdb-env.ts): a shared native environment must be opened alike.
  const db = open<Uint8Array, Buffer>({
    path,
    keyEncoding: "binary",
    encoding: "binary",
    overlappingSync: false,
    noSync,
  });
  handles.set(path, db);
  return db;
}

/** A Buffer view of the same bytes (no copy). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

port.on("message", (request: WriterRequest) => {
  if ("release" in request) {
    const db = handles.get(request.release);
    handles.delete(request.release);
    void (db?.close() ?? Promise.resolve()).then(
      () => port.postMessage({ id: request.id, rows: 0 } satisfies WriterAnswer),
      (error: unknown) => port.postMessage({ id: request.id, error: String(error) } satisfies WriterAnswer),
    );
    return;
  }
  let response: WriterAnswer;
  try {
    const db = handleOf(request.path, request.noSync);
    let rows = 0;
    db.transactionSync(() => {
      rows = unpackRows(request.rows, {
        put: (key, value) => {
          db.putSync(asBuffer(key), asBuffer(value));
        },
        remove: (key) => {
          db.removeSync(asBuffer(key));
        },
      });
    });
    response = { id: request.id, rows };
  } catch (error) {
    response = { id: request.id, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(response);
});
