/**
 * @module The RESP server: a node:net listener whose connections speak Redis's protocol to a RedisBackend.
 * Owns what connections share (the client list, the counters INFO prints; the SCAN cursor table is the node's) and closes
 * every connection on close().
 */

import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../../io/logger.js";
import { listenOn } from "../../lib/listen.js";
import { REQUEST_LIMITS_DEFAULT, type RequestParserOptions } from "../request-parser.js";
import type { RedisBackend } from "./backend.js";
import { closeAfterReply } from "./close-after-reply.js";
import { ClusterRedirects } from "./cluster-redirects.js";
import { CommandLatency } from "./command-latency.js";
import { Connection } from "./connection.js";
import type { ServerContext } from "./server-context.js";
import type { ServerFigures } from "./server-info.js";
import { RESP_SOCKET_OPTIONS } from "./starting-listener.js";

/** Redis's default maxclients. */
export const CLIENTS_MAX_DEFAULT = 10_000;

export interface RespServerOptions {
  readonly host: string;
  /** 0 picks a free port (see `.port`). */
  readonly port: number;
  readonly backend: RedisBackend;
  /** Redis's --requirepass: when set, connections must AUTH (or HELLO … AUTH) first. */
  readonly requirePass?: string;
  /** The request parser's limits (bulk, array, inline); Redis's defaults when absent. */
  readonly limits?: RequestParserOptions;
  /** Connections beyond this are refused with Redis's "-ERR max number of clients reached". */
  readonly clientsMax?: number;
  readonly logger?: Logger;
  /** Strict Redis Cluster redirects (-MOVED, -CROSSSLOT) instead of forwarding (cluster-redirects.ts). */
  readonly clusterRedirects?: boolean;
  /** A connection's write runs handed to the node before the first is answered (node/write-order.ts). 1, the
   * default: one at a time, and a run that did not apply is retried through a leader change. More is faster
   * (bench:etcd), but a run in flight during a leader change or slot move that a later run overtook answers
   * TRYAGAIN instead (an ioredis Cluster pipeline saw it while leaders were being balanced). */
  readonly writeRunsInFlightMax?: number;
  /** A listener already bound (starting-listener.ts) to take over instead of listening on host:port. */
  readonly listener?: Server;
}

export class RespServer {
  readonly #server: Server;
  readonly #connections = new Map<number, Connection>();
  readonly #sockets = new Set<Socket>();
  readonly #context: ServerContext;
  readonly #limits: Required<RequestParserOptions>;
  readonly #clientsMax: number;
  readonly #startedAtMs = Date.now();
  #nextId = 1;
  #totalConnections = 0;
  #totalCommands = 0;
  #rejectedConnections = 0;
  readonly #commandLatency = new CommandLatency();
  #port = 0;

  private constructor(options: RespServerOptions) {
    this.#limits = { ...REQUEST_LIMITS_DEFAULT, ...options.limits };
    this.#clientsMax = options.clientsMax ?? CLIENTS_MAX_DEFAULT;
    const requirePass = options.requirePass === "" ? undefined : options.requirePass;
    this.#context = {
      backend: options.backend,
      requirePass,
      cursors: options.backend.cursors,
      clients: this.#connections,
      logger: options.logger,
      redirects: options.clusterRedirects === true ? new ClusterRedirects(options.backend) : undefined,
      writeRunsInFlightMax: options.writeRunsInFlightMax ?? 1,
      figures: () => this.#figures(requirePass !== undefined),
      countCommands: (count) => {
        this.#totalCommands += count;
      },
      commandsTimed: (count, seconds) => this.#commandLatency.record(count, seconds),
    };
    // allowHalfOpen: a client that half-closes (sends FIN after its requests) still gets every reply.
    const listener = options.listener;
    if (listener === undefined) {
      this.#server = createServer(RESP_SOCKET_OPTIONS, (socket) => this.#accept(socket));
    } else {
      listener.removeAllListeners("connection");
      listener.on("connection", (socket: Socket) => this.#accept(socket));
      this.#server = listener;
    }
  }

  static async start(options: RespServerOptions): Promise<RespServer> {
    const server = new RespServer(options);
    if (!server.#server.listening) await listenOn(server.#server, options.port, options.host);
    const address = server.#server.address();
    server.#port = typeof address === "object" && address !== null ? address.port : options.port;
    return server;
  }

  get port(): number {
    return this.#port;
  }

  /** The counters INFO prints (and /metrics mirrors). */
  figures(): ServerFigures {
    return this.#context.figures();
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Open sockets: the connections plus any refused one still being closed. */
  get socketCount(): number {
    return this.#sockets.size;
  }

  /** Stops listening and closes every connection (pending requests are dropped). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const connection of [...this.#connections.values()]) connection.kill();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    await this.#context.backend.close?.();
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
    if (this.#connections.size >= this.#clientsMax) {
      this.#rejectedConnections++;
      socket.on("error", () => undefined);
      closeAfterReply(socket, "-ERR max number of clients reached\r\n");
      return;
    }
    this.#totalConnections++;
    const id = this.#nextId++;
    const connection = new Connection(id, socket, this.#context, this.#limits, (closed) => {
      this.#connections.delete(closed.id);
    });
    this.#connections.set(id, connection);
  }

  #figures(requirePass: boolean): ServerFigures {
    return {
      port: this.#port,
      startedAtMs: this.#startedAtMs,
      connectedClients: this.#connections.size,
      clientsMax: this.#clientsMax,
      totalConnections: this.#totalConnections,
      totalCommands: this.#totalCommands,
      rejectedConnections: this.#rejectedConnections,
      bulkLengthBytesMax: this.#limits.bulkLengthBytesMax,
      requirePass,
      commandLatency: this.#commandLatency,
    };
  }
}
