/**
 * @module A watch as an async iterator over `GET /v1/watch` (Server-Sent Events). When the stream breaks (the
 * node died, the connection reset) it reconnects, trying the other known members, and resumes from the last
 * revision it delivered; the WatchCursor drops the events it has already seen.
 */
import { ShoalError } from "../lib/errors.js";
import type { EndpointPool } from "./endpoint-pool.js";
import { describeFetchFailure, errorFromBody, errorFromResponse } from "./http-errors.js";
import { SseParser } from "./sse-parser.js";
import type { WatchEvent, WatchOptions } from "./types.js";
import { parseWatchEvent, ShardedWatchCursor } from "./watch-cursor.js";

/** Consecutive failed connection attempts after which the watch gives up (about a minute of backoff). */
const RECONNECT_ATTEMPTS_MAX = 40;
const RECONNECT_DELAY_MS_MIN = 50;
const RECONNECT_DELAY_MS_MAX = 2000;
/** Shoal sends a heartbeat comment every 15 s; three missed ones mean a dead (half-open) connection. */
const IDLE_TIMEOUT_MS = 45_000;

export async function* watchStream(
  pool: EndpointPool,
  options: WatchOptions,
  discover: () => Promise<void>,
): AsyncGenerator<WatchEvent> {
  const cursor = new ShardedWatchCursor(options.fromRevision);
  const signal = options.signal;
  let failures = 0;
  let everConnected = false;
  const unreachable = new Map<string, string>();
  while (!aborted(signal)) {
    const endpoint = pool.current();
    const connected = await connect(endpoint, options.prefix, cursor.resumeQuery(), signal);
    if (aborted(signal)) return;
    if (!(connected instanceof Response)) {
      pool.failed(endpoint);
      failures++;
      if (!everConnected && connected.unreachable) {
        // Never connected and no endpoint can be reached at all: fail now, like any other request.
        unreachable.set(endpoint, connected.reason);
        if (unreachable.size >= pool.ordered().length) throw unreachableError(unreachable);
        continue;
      }
      if (failures >= RECONNECT_ATTEMPTS_MAX) {
        throw new ShoalError(
          "UNAVAILABLE",
          `Cannot keep watching: ${failures} reconnects failed, last: ${connected.reason}`,
        );
      }
      if (everConnected) reportReconnect(options, cursor, `${endpoint}: ${connected.reason}`);
      await pause(Math.min(RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN * 2 ** failures), signal);
      continue;
    }
    failures = 0;
    pool.succeeded(endpoint);
    if (!everConnected) {
      everConnected = true;
      discover().catch(() => undefined); // learn the other members now, while a node answers
    }
    cursor.connected(
      numbers(connected.headers.get("x-shoal-shards")),
      numbers(connected.headers.get("x-shoal-cursor")),
    );
    const reason = yield* readEvents(connected, cursor, signal, options.idleTimeoutMs ?? IDLE_TIMEOUT_MS);
    if (aborted(signal)) return;
    reportReconnect(options, cursor, reason);
  }
}

function reportReconnect(options: WatchOptions, cursor: ShardedWatchCursor, reason: string): void {
  const { revision, cursor: text } = cursor.resumePosition();
  if (text === undefined) options.onReconnect?.(revision, reason);
  else options.onReconnect?.(revision, reason, text);
}

/** A header's list of integers ("1,2,3" or "12.40.7"); empty when absent or malformed. */
function numbers(header: string | null): number[] {
  if (header === null || !/^\d{1,15}([.,]\d{1,15})*$/.test(header)) return [];
  return header.split(/[.,]/).map(Number);
}

function unreachableError(reasons: ReadonlyMap<string, string>): ShoalError {
  const list = [...reasons].map(([endpoint, reason]) => `${endpoint} (${reason})`);
  const what = list.length === 1 ? list[0] : `any endpoint: ${list.join(", ")}`;
  return new ShoalError("UNAVAILABLE", `Cannot reach ${what}`, { unreachable: true });
}

/** Opens the stream: a Response to read, or why it could not (try again). Throws for answers not worth a retry. */
async function connect(
  endpoint: string,
  prefix: string | undefined,
  resume: Readonly<Record<string, string>>,
  signal: AbortSignal | undefined,
): Promise<Response | { reason: string; unreachable: boolean }> {
  const query = new URLSearchParams();
  if (prefix !== undefined && prefix !== "") query.set("prefix", prefix);
  for (const [name, value] of Object.entries(resume)) query.set(name, value);
  const url = `${endpoint}/v1/watch${query.size > 0 ? `?${query}` : ""}`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: "text/event-stream" },
      ...(signal === undefined ? {} : { signal }),
    });
  } catch (error) {
    const failure = describeFetchFailure(error);
    return { reason: failure.reason, unreachable: failure.notSent };
  }
  if (response.ok && response.body !== null) return response;
  const error = await errorFromResponse(response, endpoint);
  // 5xx: this node cannot serve the watch right now (no leader, no quorum to confirm the read); 4xx is final.
  if (response.status >= 500) return { reason: error.message, unreachable: false };
  throw error;
}

/** Yields the stream's new events until it ends; returns why it ended. */
async function* readEvents(
  response: Response,
  cursor: ShardedWatchCursor,
  signal: AbortSignal | undefined,
  idleTimeoutMs: number,
): AsyncGenerator<WatchEvent, string> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  try {
    for (;;) {
      const chunk = await readWithin(reader, idleTimeoutMs);
      if (chunk === "idle") return `no data for ${Math.round(idleTimeoutMs / 1000)} s`;
      if (chunk.done) return "the stream ended";
      for (const message of parser.push(decoder.decode(chunk.value, { stream: true }))) {
        if (message.event === "error") {
          const error = serverError(message.data);
          if (error.retryable) return error.message;
          throw error;
        }
        const event = parseWatchEvent(message.data);
        if (event !== undefined && cursor.accept(event)) yield event;
      }
    }
  } catch (error) {
    if (aborted(signal)) return "aborted";
    if (error instanceof ShoalError) throw error;
    return describeFetchFailure(error).reason;
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

/** The next chunk, or "idle" when none arrives within `timeoutMs` (the caller then cancels the reader). */
async function readWithin(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  timeoutMs: number,
): Promise<Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>> | "idle"> {
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<"idle">((done) => {
    timer = setTimeout(() => done("idle"), timeoutMs);
  });
  try {
    return await Promise.race([reader.read(), idle]);
  } finally {
    clearTimeout(timer);
  }
}

/** An `event: error` message from the server, e.g. `{code: "COMPACTED", message}`. */
function serverError(data: string): ShoalError {
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch {
    body = undefined;
  }
  return errorFromBody(body) ?? new ShoalError("UNAVAILABLE", `The watch stream reported an error: ${data}`);
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        done();
      },
      { once: true },
    );
  });
}

/** A function, not `signal.aborted` inline: TypeScript would narrow the field across awaits. */
function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
