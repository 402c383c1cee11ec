/**
 * @module Binding a server (node:net or node:http) to a port as a promise: resolves once bound, rejects with the
 * bind error (EADDRINUSE, EACCES...) instead of emitting it.
 */

/** What node:net's and node:http's servers have in common here (lib imports nothing). */
export interface ListenableServer {
  listen(port: number, host: string, done: () => void): unknown;
  once(event: "error", listener: (error: Error) => void): unknown;
  off(event: "error", listener: (error: Error) => void): unknown;
}

export function listenOn(server: ListenableServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
