/**
 * @module Closing a client connection after its last reply, as Redis does (CLIENT_CLOSE_AFTER_REPLY: the reply is
 * written, then the descriptor is closed).
 *
 * A half-close (`socket.end()`) alone is not enough: a client that does not close its own side — one blocked
 * writing the rest of an oversized request that the server no longer reads — never sees the end, and the server
 * keeps the socket, its file descriptor and its CLIENT LIST entry forever. So once the reply is flushed to the
 * kernel the socket is destroyed. With unread input this sends an RST, exactly like Redis's close(); the reply
 * was handed over first. A client that does not read its replies at all gets CLOSE_FLUSH_TIMEOUT_MS.
 */
import type { Socket } from "node:net";

/** How long a closing connection's last replies may take to drain before the socket is destroyed anyway. */
export const CLOSE_FLUSH_TIMEOUT_MS = 10_000;

/** Writes `lastWords` (if any), flushes, then destroys `socket`; its 'close' event follows in every case. */
export function closeAfterReply(socket: Socket, lastWords?: string): void {
  const timer = setTimeout(() => socket.destroy(), CLOSE_FLUSH_TIMEOUT_MS);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
  const destroy = (): void => {
    socket.destroy();
  };
  if (lastWords === undefined) socket.end(destroy);
  else socket.end(lastWords, destroy);
}
