/**
 * @module Starting a whole member in this process: a node (node/shoal-node.ts) with its front ends, the HTTP API
 * and the Redis protocol, each optional. `shoal start` and the embedded API (embedded-node.ts) both start a member
 * through here, so the two cannot drift apart.
 *
 * The front ends' ports are bound first, before the node locks, reads or writes anything in its data directory:
 * a second member started on the same ports fails there and leaves the first one's files alone. Until the node is
 * up they answer "starting" (http/starting-server.ts, resp/server/starting-listener.ts), with what it waits for.
 */
import type { Server as HttpListener } from "node:http";
import type { Server as NetListener } from "node:net";
import type { FastifyInstance } from "fastify";
import { createHttpServer } from "../http/server.js";
import { bindStartingHttpServer } from "../http/starting-server.js";
import { isErrorCode, ShoalError } from "../lib/errors.js";
import type { NodeOptions } from "../node/node-options.js";
import { ShoalNode } from "../node/shoal-node.js";
import { nodeBackend } from "../resp/node-backend.js";
import { registerRespMetrics } from "../resp/server/resp-metrics.js";
import { RespServer } from "../resp/server/resp-server.js";
import { bindStartingRespListener } from "../resp/server/starting-listener.js";

export interface ListenAddress {
  readonly host: string;
  /** 0 picks a free port; the member reports the one it got. */
  readonly port: number;
}

export interface RespOptions extends ListenAddress {
  /** Redis's requirepass: clients must AUTH with it. */
  readonly requirePass?: string;
  /** The largest bulk argument in bytes (Redis's proto-max-bulk-len; default and most 512 MiB). */
  readonly bulkLengthBytesMax?: number;
  /** Connections beyond this are refused (Redis's maxclients; default 10,000). */
  readonly clientsMax?: number;
  /** Strict Redis Cluster redirects (-MOVED, -CROSSSLOT) instead of forwarding to the leader. */
  readonly clusterRedirects?: boolean;
  /** RespServerOptions.writeRunsInFlightMax. */
  readonly writeRunsInFlightMax?: number;
}

export interface MemberOptions {
  readonly node: NodeOptions;
  /** Serve the HTTP API (and the dashboard) here; none when absent. */
  readonly http?: ListenAddress;
  /** Speak the Redis protocol here; none when absent. */
  readonly resp?: RespOptions;
}

/** A started member: its node, the addresses its front ends are bound to, and how to stop it. */
export interface RunningMember {
  readonly node: ShoalNode;
  /** Where the HTTP API listens (host:port, the bound port), when it was asked for. */
  readonly http?: string;
  /** Where the Redis protocol is spoken (host:port, the bound port), when it was asked for. */
  readonly resp?: string;
  /** Stops the front ends (their connections are closed), then the node. Safe to call more than once. */
  stop(): Promise<void>;
}

/** Where a member failed to start: a port it could not bind, or the node itself. */
export type MemberStartStage = "http" | "resp" | "node";

/** Why a member did not start; nothing it opened is left running. */
export class MemberStartError extends ShoalError {
  readonly stage: MemberStartStage;

  constructor(stage: MemberStartStage, message: string, cause: unknown) {
    super(codeOf(cause), message);
    this.stage = stage;
    this.cause = cause;
  }
}

export async function startMember(options: MemberOptions): Promise<RunningMember> {
  const { node: nodeOptions, http, resp } = options;
  const id = nodeOptions.id;
  let startup = `Node ${id} is starting`;
  const opened: Array<{ close(done: () => void): unknown }> = [];
  const closeOpened = () => Promise.all(opened.map(closeListener));
  let httpListener: HttpListener | undefined;
  let respListener: NetListener | undefined;
  if (http !== undefined) {
    httpListener = await bindStartingHttpServer(http.host, http.port, () => startup).catch((error: unknown) => {
      throw new MemberStartError(
        "http",
        `Cannot listen for HTTP on ${http.host}:${http.port}: ${messageOf(error)}`,
        error,
      );
    });
    opened.push(httpListener);
  }
  if (resp !== undefined) {
    respListener = await bindStartingRespListener(resp.host, resp.port, () => startup).catch(async (error: unknown) => {
      await closeOpened();
      throw new MemberStartError(
        "resp",
        `Cannot listen for RESP on ${resp.host}:${resp.port}: ${messageOf(error)}`,
        error,
      );
    });
    opened.push(respListener);
  }
  // Once bound, the ports are known (even when 0 was asked for): the member advertises them to its peers.
  const httpAddress = http === undefined ? undefined : `${http.host}:${boundPort(httpListener, http.port)}`;
  const respAddress = resp === undefined ? undefined : `${resp.host}:${boundPort(respListener, resp.port)}`;
  const node = await ShoalNode.start({
    ...nodeOptions,
    members: withOwnAddresses(nodeOptions, httpAddress, respAddress),
    onStartupProgress: (message) => {
      startup = message;
      nodeOptions.onStartupProgress?.(message);
    },
  }).catch(async (error: unknown) => {
    await closeOpened();
    throw new MemberStartError("node", `Cannot start node ${id}: ${messageOf(error)}`, error);
  });
  let api: FastifyInstance | undefined;
  let redis: RespServer | undefined;
  try {
    if (httpListener !== undefined && httpAddress !== undefined) {
      api = createHttpServer(node, { server: httpListener });
      await api.ready();
      node.setHttpAddress(httpAddress);
    }
    if (resp !== undefined && respListener !== undefined) {
      redis = await RespServer.start({
        host: resp.host,
        port: resp.port,
        listener: respListener,
        backend: nodeBackend(node),
        ...(resp.bulkLengthBytesMax === undefined ? {} : { limits: { bulkLengthBytesMax: resp.bulkLengthBytesMax } }),
        ...(resp.clientsMax === undefined ? {} : { clientsMax: resp.clientsMax }),
        ...(resp.requirePass === undefined ? {} : { requirePass: resp.requirePass }),
        ...(resp.clusterRedirects === true ? { clusterRedirects: true } : {}),
        ...(resp.writeRunsInFlightMax === undefined ? {} : { writeRunsInFlightMax: resp.writeRunsInFlightMax }),
        logger: nodeOptions.logger,
      });
      const server = redis;
      registerRespMetrics(node.metrics.registry, () => server.figures());
    }
  } catch (error) {
    await stopAll(redis, api, node, closeOpened);
    throw new MemberStartError("node", `Cannot start node ${id}: ${messageOf(error)}`, error);
  }
  let stopping: Promise<void> | undefined;
  return {
    node,
    ...(httpAddress === undefined ? {} : { http: httpAddress }),
    ...(redis === undefined || resp === undefined ? {} : { resp: `${resp.host}:${redis.port}` }),
    stop: () => {
      stopping ??= stopAll(redis, api, node);
      return stopping;
    },
  };
}

async function stopAll(
  redis: RespServer | undefined,
  api: FastifyInstance | undefined,
  node: ShoalNode,
  /** Listeners not yet taken over by a front end (closing one twice is harmless). */
  closeListeners?: () => Promise<unknown>,
): Promise<void> {
  await redis?.close();
  await api?.close();
  await closeListeners?.();
  await node.stop();
}

/** The members, with this member's HTTP and RESP addresses filled in (what /v1/cluster and CLUSTER SLOTS show). */
function withOwnAddresses(
  options: NodeOptions,
  httpAddress: string | undefined,
  respAddress: string | undefined,
): NodeOptions["members"] {
  const self = options.members.get(options.id);
  if (self === undefined) return options.members;
  return new Map(options.members).set(options.id, {
    ...self,
    ...(httpAddress === undefined ? {} : { http: httpAddress }),
    ...(respAddress === undefined ? {} : { resp: respAddress }),
  });
}

function boundPort(listener: HttpListener | NetListener | undefined, asked: number): number {
  const address = listener?.address();
  return typeof address === "object" && address !== null ? address.port : asked;
}

function closeListener(listener: { close(done: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => listener.close(() => resolve()));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function codeOf(error: unknown): ShoalError["code"] {
  if (error instanceof ShoalError) return error.code;
  const code = (error as { code?: unknown } | undefined)?.code;
  return isErrorCode(code) ? code : "UNAVAILABLE";
}
