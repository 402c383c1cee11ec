/**
 * @module Free loopback ports for test clusters, handed out once per process.
 */
import { createServer } from "node:net";

/** Ports below Linux's ephemeral range (32768-60999 by default): a node re-binds its ports when it restarts, and
 * an ephemeral port freed by a kill can meanwhile become the source port of any outgoing connection on the
 * machine. Below the range only listeners compete, and the probe skips ports in use. */
const PORT_FLOOR = 20_000;
const PORT_CEILING = 32_700;
const handedOut = new Set<number>();
let nextPort = PORT_FLOOR + Math.floor(Math.random() * (PORT_CEILING - PORT_FLOOR));

/** A port nothing listens on now and this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < PORT_CEILING - PORT_FLOOR; tries++) {
    const port = nextPort;
    nextPort = nextPort + 1 >= PORT_CEILING ? PORT_FLOOR : nextPort + 1;
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`No free port between ${PORT_FLOOR} and ${PORT_CEILING}`);
}

/** The first of `count` consecutive free ports (for `shoal cluster --*-port-base`), all marked handed out. */
export async function freePortRun(count: number): Promise<number> {
  for (let tries = 0; tries < PORT_CEILING - PORT_FLOOR; tries++) {
    const base = nextPort;
    nextPort = nextPort + count >= PORT_CEILING ? PORT_FLOOR : nextPort + count;
    if (base + count > PORT_CEILING) continue;
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if (ports.some((port) => handedOut.has(port))) continue;
    if (!(await Promise.all(ports.map(canListen))).every(Boolean)) continue;
    for (const port of ports) handedOut.add(port);
    return base;
  }
  throw new Error(`No run of ${count} free ports between ${PORT_FLOOR} and ${PORT_CEILING}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });
}
