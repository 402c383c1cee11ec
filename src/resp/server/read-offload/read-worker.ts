/**
 * @module A read worker thread: runs readonly Redis data commands against the node's LMDB state (a read-only
 * view, one read transaction per request) and answers with their replies already encoded in the connection's
 * RESP version. Commands whose cost follows the data — KEYS over a million keys, an MGET of 100,000 keys — take
 * seconds here instead of on the node's event loop, where they would hold up Raft's heartbeats and cost an
 * election (issue 10). The replies come back encoded so the event loop does not pay for a million-element reply
 * either: it only writes the bytes.
 */
import { dirname } from "node:path";
import { parentPort } from "node:worker_threads";
import type { ScanCursors } from "../../../commands/redis/command-spec.js";
import { executeCommands } from "../../../commands/redis/execute.js";
import { ShoalError } from "../../../lib/errors.js";
import { Prng } from "../../../lib/prng.js";
import { hashSlot } from "../../../slots/hash-slot.js";
import { LmdbReadView } from "../../../store/lmdb/lmdb-read-view.js";
import { mergedKeyspaceReader } from "../../../store/merged-keyspace-reader.js";
import type { StoreMeta } from "../../../store/store-meta.js";
import type { KeyspaceReader } from "../../../store/write-set.js";
import { RespWriter } from "../../resp-writer.js";
import { writeReply } from "../error-reply.js";
import { type ReadRequest, type ReadResponse, unpackArgvs } from "./read-protocol.js";

/** Cursor commands stay on the event loop (read-offload.ts never sends them): their cursors live in the
 * server's table. */
const NO_CURSORS: ScanCursors = {
  resume: () => {
    throw new ShoalError("INTERNAL", "A cursor command reached a read worker");
  },
  issue: () => {
    throw new ShoalError("INTERNAL", "A cursor command reached a read worker");
  },
};

/** Open views by path: one per shard's store. A restore (or FLUSHALL) replaces a store's environment with a new
 * generation in the same directory, and later requests name it: the view of the retired one is closed at once, so
 * this thread does not keep its map alive (lmdb-js shares the native environment with the node's own handle, so
 * closing ours never closes theirs). */
const views = new Map<string, LmdbReadView>();

function viewOf(path: string): LmdbReadView {
  const open = views.get(path);
  if (open !== undefined) return open;
  for (const [other, retired] of views) {
    if (dirname(other) !== dirname(path)) continue;
    views.delete(other);
    void retired.close();
  }
  const view = LmdbReadView.open(path);
  views.set(path, view);
  return view;
}

/** Runs `body` inside one read transaction of each view (each shard's own consistent state). */
function readAll<T>(
  open: readonly LmdbReadView[],
  body: (readers: KeyspaceReader[], metas: StoreMeta[]) => T,
  readers: KeyspaceReader[] = [],
  metas: StoreMeta[] = [],
): T {
  const next = open[readers.length];
  if (next === undefined) return body(readers, metas);
  return next.read((reader, meta) => readAll(open, body, [...readers, reader], [...metas, meta]));
}

function answer(request: ReadRequest): ReadResponse {
  const open = request.envPaths.map((path) => viewOf(path));
  return readAll(open, (readers, metas) => {
    let reader = readers[0] as KeyspaceReader;
    if (readers.length > 1) {
      const table = request.slotTable;
      if (table === undefined) throw new Error("A read over several shards needs the slot table");
      reader = mergedKeyspaceReader(readers, (key) => (table[hashSlot(key)] as number) - 1);
    }
    const replies = executeCommands(reader, undefined, unpackArgvs(request.argvs), {
      nowMs: Math.max(request.nowMs, ...metas.map((meta) => meta.clockMs)),
      revision: (metas[0] as StoreMeta).revision,
      random: new Prng(request.seed),
      cursors: NO_CURSORS,
    });
    const writer = new RespWriter(request.protocol, 64 * 1024);
    const ends: number[] = [];
    for (const reply of replies) {
      writeReply(writer, reply);
      ends.push(writer.lengthBytes);
    }
    const encoded = writer.flush();
    // A fresh, exactly sized buffer that can be transferred (the writer's may be pooled or larger).
    const buffer = new ArrayBuffer(encoded.byteLength);
    new Uint8Array(buffer).set(encoded);
    return { id: request.id, ok: true, buffer, ends };
  });
}

const port = parentPort;
if (port === null) throw new Error("read-worker.js runs as a worker thread");
port.on("message", (request: ReadRequest) => {
  let response: ReadResponse;
  try {
    response = answer(request);
  } catch (error) {
    response = { id: request.id, ok: false, message: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(response, response.ok ? [response.buffer] : []);
});
