/**
 * @module Holds `npm start`'s default ports while the test suite runs, so a test that binds or dials one fails
 * every time — not only on a machine where a cluster happens to be running (where such a test once left
 * `npm test` hanging on "Promise resolution is still pending"). Tests take ports from `free-port.ts`.
 *
 * A test that binds a held port gets EADDRINUSE; one that connects to it is counted and named in the report.
 * A port someone else already holds (a running `npm start`, another suite's guard) is left alone: it is just as
 * unusable to the tests.
 */
import { createServer, type Server } from "node:net";

/** `shoal cluster`'s defaults (resp 7001…, peer 7101…, http 8001… for nodes 1-9; `shoal start --id N` uses
 * 7000 + N and 8000 + N; the CLI's default endpoints are 8001-8003). cli.test.ts checks them against --help. */
export const DEFAULT_PORT_BASES = { resp: 7001, peer: 7101, http: 8001 } as const;
export const DEFAULT_NODES_MAX = 9;

export function defaultPorts(): number[] {
  const ports: number[] = [];
  for (const base of Object.values(DEFAULT_PORT_BASES)) {
    for (let i = 0; i < DEFAULT_NODES_MAX; i++) ports.push(base + i);
  }
  return ports;
}

export class DefaultPortGuard {
  readonly #servers: Server[];
  /** Connections accepted per held port. */
  readonly dialed = new Map<number, number>();
  /** The ports this guard holds (the others were taken already). */
  readonly held: readonly number[];

  private constructor(servers: Server[], held: number[]) {
    this.#servers = servers;
    this.held = held;
  }

  static async hold(ports: readonly number[], host = "127.0.0.1"): Promise<DefaultPortGuard> {
    const servers: Server[] = [];
    const held: number[] = [];
    const guard = new DefaultPortGuard(servers, held);
    await Promise.all(
      ports.map(
        (port) =>
          new Promise<void>((done) => {
            const server = createServer((socket) => {
              guard.dialed.set(port, (guard.dialed.get(port) ?? 0) + 1);
              socket.destroy();
            });
            server.once("error", () => done());
            server.listen({ port, host, exclusive: true }, () => {
              servers.push(server);
              held.push(port);
              done();
            });
          }),
      ),
    );
    held.sort((a, b) => a - b);
    return guard;
  }

  /** One line per port a test connected to; empty when none was. */
  report(): string[] {
    return [...this.dialed].map(
      ([port, count]) =>
        `a test connected ${count} time(s) to port ${port}, a default port of npm start: use test/support/free-port.ts`,
    );
  }

  async release(): Promise<void> {
    await Promise.all(this.#servers.map((server) => new Promise((done) => server.close(done))));
  }
}
