/**
 * @module ioredis helpers for the end-to-end tests: a client per node that fails fast instead of retrying
 * forever, and an assertion that a command failed with Redis's exact error line.
 */
import assert from "node:assert/strict";
import { Redis, type RedisOptions, ReplyError } from "ioredis";

export function connectIoredis(port: number, options: RedisOptions = {}): Redis {
  return new Redis({
    host: "127.0.0.1",
    port,
    // A test should fail on the first lost connection, not hang on reconnects.
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    ...options,
  });
}

/** Awaits `reply`, which must reject with a ReplyError whose text (Redis's error line without '-') is `message`. */
export async function assertReplyError(reply: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(reply, (error: unknown) => {
    assert.ok(error instanceof ReplyError, `expected a ReplyError, got ${String(error)}`);
    assert.equal((error as Error).message, message);
    return true;
  });
}

/** Closes every client without waiting on the server (QUIT could hang on a node that is being stopped). */
export function disconnectAll(clients: readonly (Redis | undefined)[]): void {
  for (const client of clients) client?.disconnect();
}
