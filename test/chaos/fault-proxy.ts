/**
 * @module The fault-injecting TCP proxy between the nodes: one listener per directed link, so each direction of
 * each pair of nodes can be cut on its own.
 *
 * Shoal's transport has each node dial two connections to every peer (a control and a data channel) and send
 * everything for that peer on them; on those the dialled node only sends back responses to the dialler's
 * requests. The proxy treats every connection of a link alike. Node i is started
 * with a `--peers` list in which node j's address is this proxy's listener for the link i→j, which forwards to
 * j's real `--peer-listen` port. So on link i→j, bytes from the client side travel i→j and bytes from the
 * server side travel j→i.
 *
 * A blocked direction is a blackhole, like an iptables DROP: the connection stays up (the sender's writes
 * succeed) and the bytes vanish. Dropping bytes from the middle of a framed stream would corrupt it, so every
 * change in a pair's blocked state destroys that pair's proxied connections: the nodes redial, and each new
 * connection starts at a frame boundary under the new rule, for its whole life. On link i→j:
 * - i→j blocked: the proxy accepts i's connection and discards everything it sends, never dialling j;
 * - only j→i blocked: the proxy forwards i's bytes to j and discards j's answers;
 * - neither: a plain forwarder.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export type Link = readonly [from: number, to: number];

interface LinkListener {
  readonly from: number;
  readonly to: number;
  readonly server: Server;
  readonly port: number;
  readonly sockets: Set<Socket>;
}

export interface LinkStats {
  forwardedBytes: number;
  droppedBytes: number;
  connections: number;
}

export class FaultProxy {
  readonly #links = new Map<string, LinkListener>();
  readonly #blocked = new Set<string>();
  readonly #targetPort: (id: number) => number;
  readonly stats = new Map<string, LinkStats>();

  private constructor(targetPort: (id: number) => number) {
    this.#targetPort = targetPort;
  }

  /** Listens on 127.0.0.1 for every directed link between `ids`; `targetPort(j)` is where node j really listens. */
  static async start(ids: readonly number[], targetPort: (id: number) => number): Promise<FaultProxy> {
    const proxy = new FaultProxy(targetPort);
    for (const from of ids) {
      for (const to of ids) if (from !== to) await proxy.#listen(from, to);
    }
    return proxy;
  }

  /** Where node `from` dials node `to`. */
  port(from: number, to: number): number {
    const link = this.#links.get(linkName(from, to));
    if (link === undefined) throw new RangeError(`No proxied link ${linkName(from, to)}`);
    return link.port;
  }

  blocked(): Link[] {
    return [...this.#blocked].map(parseLink);
  }

  isBlocked(from: number, to: number): boolean {
    return this.#blocked.has(linkName(from, to));
  }

  /** Makes exactly `links` blocked (every other direction open), resetting the connections of each pair whose
   * state changes. */
  setBlocked(links: Iterable<Link>): void {
    const next = new Set([...links].map(([from, to]) => linkName(from, to)));
    const changed = new Set<string>();
    for (const name of new Set([...next, ...this.#blocked])) {
      if (next.has(name) !== this.#blocked.has(name)) changed.add(name);
    }
    this.#blocked.clear();
    for (const name of next) this.#blocked.add(name);
    for (const name of changed) {
      const [from, to] = parseLink(name);
      this.#reset(from, to);
      this.#reset(to, from);
    }
  }

  heal(): void {
    this.setBlocked([]);
  }

  async close(): Promise<void> {
    for (const link of this.#links.values()) {
      for (const socket of link.sockets) socket.destroy();
      await new Promise<void>((done) => link.server.close(() => done()));
    }
  }

  async #listen(from: number, to: number): Promise<void> {
    const sockets = new Set<Socket>();
    const stats: LinkStats = { forwardedBytes: 0, droppedBytes: 0, connections: 0 };
    this.stats.set(linkName(from, to), stats);
    const server = createServer((client) => this.#accept(from, to, client, sockets, stats));
    const port = await new Promise<number>((done, fail) => {
      server.once("error", fail);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        done(typeof address === "object" && address !== null ? address.port : 0);
      });
    });
    this.#links.set(linkName(from, to), { from, to, server, port, sockets });
  }

  #accept(from: number, to: number, client: Socket, sockets: Set<Socket>, stats: LinkStats): void {
    stats.connections++;
    client.setNoDelay(true);
    track(sockets, client);
    const discard = (chunk: Buffer) => {
      stats.droppedBytes += chunk.length;
    };
    if (this.isBlocked(from, to)) {
      client.on("data", discard); // a blackhole: accepted, never answered
      return;
    }
    const upstream = connect({ host: "127.0.0.1", port: this.#targetPort(to) });
    upstream.setNoDelay(true);
    track(sockets, upstream);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", closeBoth);
    upstream.on("close", closeBoth);
    client.on("data", (chunk: Buffer) => {
      stats.forwardedBytes += chunk.length;
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on("drain", () => client.resume());
    if (this.isBlocked(to, from)) {
      upstream.on("data", discard);
    } else {
      upstream.on("data", (chunk: Buffer) => {
        stats.forwardedBytes += chunk.length;
        if (!client.write(chunk)) upstream.pause();
      });
      client.on("drain", () => upstream.resume());
    }
  }

  /** Destroys every proxied connection of link from→to. */
  #reset(from: number, to: number): void {
    const link = this.#links.get(linkName(from, to));
    if (link === undefined) return;
    for (const socket of link.sockets) socket.destroy();
    link.sockets.clear();
  }
}

function track(sockets: Set<Socket>, socket: Socket): void {
  sockets.add(socket);
  socket.on("error", () => socket.destroy());
  socket.on("close", () => sockets.delete(socket));
}

function linkName(from: number, to: number): string {
  return `${from}->${to}`;
}

function parseLink(name: string): [number, number] {
  const [from, to] = name.split("->").map(Number);
  return [from!, to!];
}
