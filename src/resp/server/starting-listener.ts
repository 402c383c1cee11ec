/**
 * @module The Redis-protocol port of a node that is still starting. `shoal start` binds it before the node opens
 * any state (so a second node on the same ports fails on the port without touching the first one's files);
 * until RespServer takes it over (its `listener` option), each connection gets Redis's `-LOADING` error with
 * what the node is doing, and is closed.
 */

import { createServer, type Server } from "node:net";
import { listenOn } from "../../lib/listen.js";

/** The socket options RespServer needs on every accepted connection (it cannot change them after accept). */
export const RESP_SOCKET_OPTIONS = { allowHalfOpen: true, noDelay: true } as const;

export async function bindStartingRespListener(host: string, port: number, status: () => string): Promise<Server> {
  const server = createServer(RESP_SOCKET_OPTIONS, (socket) => {
    socket.on("error", () => undefined);
    const reason = status().replace(/[\r\n]+/g, " ");
    socket.end(`-LOADING ${reason}\r\n`, () => socket.destroy());
  });
  await listenOn(server, port, host);
  return server;
}
