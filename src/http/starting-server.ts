/**
 * @module The HTTP port of a node that is still starting. `shoal start` binds it before the node opens any
 * state, so a second node started on the same ports fails on the port without touching the first one's files;
 * until the API takes the server over (createHttpServer's `server` option), every request gets 503 with what
 * the node is doing — a new member may wait a while for the other members (node/bootstrap.ts).
 */

import { createServer, type Server } from "node:http";
import { listenOn } from "../lib/listen.js";

export async function bindStartingHttpServer(host: string, port: number, status: () => string): Promise<Server> {
  const server = createServer((_request, response) => {
    response.writeHead(503, { "content-type": "application/json; charset=utf-8", connection: "close" });
    response.end(JSON.stringify({ code: "UNAVAILABLE", message: status() }));
  });
  await listenOn(server, port, host);
  return server;
}
