/**
 * @module `GET /v1/watch?prefix=&from_revision=`: changes as Server-Sent Events, in revision order, each
 * exactly once — replayed from the node's history, then live (node/watch-hub.ts).
 *
 *   event: put
 *   data: {"type":"put","key":"a","value":"1","revision":7,"createRevision":7,"modRevision":7,"version":1}
 *   id: 7
 *
 *   event: put
 *   data: {"type":"put","key":"h","hash":{"f":"v"},"revision":8,...}   (a hash written over RESP: record-json.ts)
 *   id: 8
 *
 *   event: delete
 *   data: {"type":"delete","key":"b","revision":9}           ("expired":true when a TTL removed it)
 *   id: 9
 *
 * A revision may carry several events (a txn); only its LAST event carries `id:`, so an EventSource's
 * Last-Event-ID always names a revision delivered whole, and a reconnect resumes right after it. The stream
 * opens with a comment and sends another every heartbeat (proxies drop silent connections). It ends with
 * `event: error` and `data: {code, message, ...}` when the watch can no longer continue: COMPACTED (with
 * `oldestRevision`) when it fell behind the history's window. A watch that cannot start answers plain JSON
 * errors instead: 410 COMPACTED for a revision already compacted, 400 for bad parameters.
 *
 * Over several shards a `{tag}` prefix follows its one shard as above; any other prefix follows every shard,
 * merged (node/merged-watcher.ts): events carry `shard`, and each `id:` is a cursor — per shard, the last revision
 * delivered whole, joined by dots (`12.40.7`; the plain revision on one shard) — that `Last-Event-ID` or
 * `?cursor=` resumes from on any node. `from_revision` then starts every shard at that revision of its own
 * numbering (1 replays every change each shard holds).
 *
 * The node confirms it is part of a working cluster (a ReadIndex barrier) before streaming, so a watch "from
 * now" starts after every write acknowledged before it was opened, and a partitioned node answers an error
 * instead of a silent stream.
 */
import type { ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import { checkKeySize } from "../commands/limits.js";
import { MergedWatcher, WatchCursorVector } from "../node/merged-watcher.js";
import type { ShoalNode } from "../node/shoal-node.js";
import type { HistoryEvent } from "../store/history.js";
import { httpError } from "./error-response.js";
import type { HttpMetrics } from "./http-metrics.js";
import type { RouteDoc } from "./openapi.js";
import { recordValueJson } from "./record-json.js";
import { errorSchema, FROM_REVISION_ACCEPTS, watchHeaders, watchQuery } from "./schemas.js";
import { invalidParameter } from "./validation-message.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HEARTBEAT_MS = 15_000;
/** How long a stream that ended with an error may take to flush before its socket is destroyed (a client that
 * stopped reading would otherwise hold it open). */
const CLOSE_GRACE_MS = 5_000;

export function registerWatchRoute(app: FastifyInstance, node: ShoalNode, metrics: HttpMetrics): void {
  const open = new Set<MergedWatcher>();
  // A server closing waits for its connections; streams never end on their own, so end them first.
  app.addHook("preClose", (done) => {
    for (const watcher of open) watcher.close(undefined);
    done();
  });

  app.get<{ Querystring: { prefix?: string; from_revision?: string; cursor?: string } }>(
    "/v1/watch",
    {
      schema: { querystring: watchQuery, headers: watchHeaders },
      config: { command: "watch", doc: watchDoc },
      exposeHeadRoute: false, // a HEAD would open a stream with nowhere to send it
    },
    async (request, reply) => {
      const prefix = encoder.encode(request.query.prefix ?? "");
      checkKeySize(prefix); // no key is longer, so no key could match: refused like an over-long key
      const fromText = request.query.from_revision;
      if (fromText !== undefined && Number(fromText) < 1) {
        throw invalidParameter("querystring", "from_revision", FROM_REVISION_ACCEPTS, fromText);
      }
      // Revisions are per shard: a watch follows the one shard that holds every key of its prefix, or all of them.
      const shards = node.shardsOfPrefix(prefix);
      const resumeAfter = resumeCursor(request.headers["last-event-id"], request.query.cursor, shards.length);
      const now = await Promise.all(shards.map((shard) => shard.watchStart()));
      // EventSource resends the original URL with Last-Event-ID on reconnect: the header wins (resumeCursor).
      // from_revision over several shards starts each at that revision of its own numbering (1: every change held).
      const cursor =
        resumeAfter ?? new WatchCursorVector(fromText !== undefined ? now.map(() => Number(fromText) - 1) : now);
      const watchers = new Map(shards.map((shard, i) => [i, shard.watch(prefix, cursor.nextOf(i))] as const));
      const merged = new MergedWatcher(watchers);
      open.add(merged);
      void merged.done.then(() => open.delete(merged));
      reply.hijack();
      metrics.record(request, 200, reply.elapsedTime / 1000);
      const shardIds = shards.map((shard) => shard.id);
      void stream(merged, reply.raw, cursor, shardIds, now);
    },
  );
}

/** Where a reconnect resumes: `Last-Event-ID` (an EventSource's) or the `cursor` parameter, naming `shardCount`
 * shards; undefined when neither is given. */
function resumeCursor(
  lastEventId: string | string[] | undefined,
  cursorText: string | undefined,
  shardCount: number,
): WatchCursorVector | undefined {
  if (typeof lastEventId === "string") return WatchCursorVector.parse(lastEventId, shardCount, "Last-Event-ID");
  if (cursorText !== undefined) return WatchCursorVector.parse(cursorText, shardCount, "cursor");
  return undefined;
}

async function stream(
  merged: MergedWatcher,
  res: ServerResponse,
  cursor: WatchCursorVector,
  shardIds: readonly number[],
  now: readonly number[],
): Promise<void> {
  const single = shardIds.length === 1;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    // One stream per connection: when it ends the socket goes too, so a closing server is not kept waiting
    // for a keep-alive connection that turned idle after it started closing.
    connection: "close",
    "x-accel-buffering": "no",
    // Where this watch stands before its first event: a client resumes from it if the stream breaks first.
    "x-shoal-cursor": cursor.toString(),
    "x-shoal-shards": shardIds.join(","),
    ...(single ? { "x-shoal-revision": String(now[0]) } : {}),
  });
  res.on("error", () => merged.close(undefined));
  const onClose = (): void => merged.close(undefined);
  res.once("close", onClose);
  const heartbeat = setInterval(() => res.write(": heartbeat\n\n"), HEARTBEAT_MS);
  heartbeat.unref();
  res.write(`retry: 1000\n: watching from ${single ? "revision" : "cursor"} ${single ? cursor.nextOf(0) : cursor}\n\n`);
  try {
    for (;;) {
      const batch = await merged.take();
      if (batch === undefined) break;
      const index = batch.shard;
      const text = formatEvents(
        batch.events,
        (revision) => {
          cursor.delivered(index, revision);
          return cursor.toString();
        },
        single ? undefined : shardIds[index],
      );
      // Backpressure: the watchers buffer (boundedly) or drop back to the history while the client reads.
      if (!res.write(text)) await drainedOrClosed(res, merged);
    }
    res.end();
  } catch (error) {
    const { body } = httpError(error);
    res.end(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
    setTimeout(() => res.destroy(), CLOSE_GRACE_MS).unref();
  } finally {
    clearInterval(heartbeat);
    res.off("close", onClose);
    merged.close(undefined);
  }
}

async function drainedOrClosed(res: ServerResponse, watcher: MergedWatcher): Promise<void> {
  let settle = (): void => undefined;
  const writable = new Promise<void>((resolve) => {
    settle = resolve;
  });
  res.once("drain", settle);
  res.once("close", settle);
  try {
    await Promise.race([writable, watcher.done]);
  } finally {
    res.off("drain", settle);
    res.off("close", settle);
  }
}

/**
 * Whole revisions of one shard in; `id:` on the last event of each revision: the cursor once that revision is
 * delivered (`idAfter` records it). `shard` tags each event when the watch spans several shards.
 */
export function formatEvents(
  events: readonly HistoryEvent[],
  idAfter: (revision: number) => string = String,
  shard?: number,
): string {
  let out = "";
  events.forEach((event, i) => {
    const data = renderEvent(event);
    const lastOfRevision = i === events.length - 1 || (events[i + 1] as HistoryEvent).revision !== event.revision;
    const json = JSON.stringify(shard === undefined ? data : { ...data, shard });
    out += `event: ${data.type}\ndata: ${json}\n${lastOfRevision ? `id: ${idAfter(event.revision)}\n` : ""}\n`;
  });
  return out;
}

function renderEvent(event: HistoryEvent): { type: "put" | "delete" | "flush" } & Record<string, unknown> {
  // FLUSHALL: every key is gone, whatever the prefix (docs/http-api.md).
  if (event.type === "flush") return { type: "flush", revision: event.revision };
  const key = decoder.decode(event.key);
  if (event.record === undefined) {
    return { type: "delete", key, revision: event.revision, ...(event.type === "expire" ? { expired: true } : {}) };
  }
  const record = event.record;
  return {
    type: "put",
    key,
    ...recordValueJson(record),
    revision: event.revision,
    createRevision: record.createRevision,
    modRevision: record.modRevision,
    version: record.version,
    ...(record.expiresAtMs > 0 ? { expiresAtMs: record.expiresAtMs } : {}),
  };
}

const watchDoc: RouteDoc = {
  summary: "Stream changes under a prefix as Server-Sent Events, from a revision (inclusive) or from now",
  description:
    "Events: `put` {type, key, value (a string) or hash (a hash's fields), revision, createRevision, " +
    "modRevision, version, expiresAtMs?} and `delete` " +
    "{type, key, revision, expired?}; `id:` is the revision, on the last event of each revision. The stream ends " +
    "with `event: error` {code, message} when it cannot continue (COMPACTED: it fell behind the history).",
  responses: {
    "200": { description: "The event stream", content: { "text/event-stream": { schema: { type: "string" } } } },
    "410": {
      description: "from_revision is compacted; `oldestRevision` is the oldest a watch may start from",
      content: { "application/json": { schema: errorSchema } },
    },
    "400": { description: "Bad parameters", content: { "application/json": { schema: errorSchema } } },
    "503": { description: "No leader, or too many watches", content: { "application/json": { schema: errorSchema } } },
  },
};
