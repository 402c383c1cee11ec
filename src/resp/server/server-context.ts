/**
 * @module What every connection of one RespServer shares: the backend, the password, the SCAN cursor table, the
 * live connections (CLIENT LIST) and the counters INFO prints.
 */

import type { CommandSpec } from "../../commands/redis/command-spec.js";
import type { Reply } from "../../commands/redis/reply.js";
import type { ScanCursorTable } from "../../commands/redis/scan-cursor-table.js";
import type { Logger } from "../../io/logger.js";
import type { RedisBackend } from "./backend.js";
import type { ServerFigures } from "./server-info.js";

/** The few events worth a line in the node's log. */

/** One line of CLIENT LIST, asked of each connection. */
export interface ClientDescription {
  readonly id: number;
  readonly isPubSub: boolean;
  describe(nowMs: number): string;
  /** Closes the connection (CLIENT KILL, server close). */
  kill(): void;
}

/** Whether a data command is served here or refused with a redirect (cluster-redirects.ts). */
export interface RedirectCheck {
  /** `asking`: the connection sent ASKING just before (a client following -ASK). */
  refusal(
    spec: CommandSpec,
    argv: readonly Uint8Array[],
    readonlyConnection: boolean,
    asking?: boolean,
  ): Reply | undefined;
}

export interface ServerContext {
  readonly backend: RedisBackend;
  /** undefined: no password (AUTH answers Redis's "called without any password configured" error). */
  readonly requirePass: string | undefined;
  readonly cursors: ScanCursorTable;
  readonly clients: ReadonlyMap<number, ClientDescription>;
  readonly logger: Logger | undefined;
  /** Set with strict Redis Cluster redirects (cluster-redirects.ts). */
  readonly redirects: RedirectCheck | undefined;
  /** RespServerOptions.writeRunsInFlightMax. */
  readonly writeRunsInFlightMax: number;
  figures(): ServerFigures;
  countCommands(count: number): void;
  /** `count` commands were processed (replies written) in `seconds`: the latency histogram. */
  commandsTimed(count: number, seconds: number): void;
}
