/**
 * @module `--endpoint` and `--timeout`, shared by the commands that talk to a running cluster, and the client
 * they build. Without `--endpoint` (or SHOAL_ENDPOINT) the CLI tries the three nodes `shoal cluster` starts.
 */

import { normalizeEndpoint } from "../client/endpoint-pool.js";
import { ShoalClient } from "../client/shoal-client.js";
import { CliError } from "./cli-error.js";
import { integerFlag } from "./parse-flags.js";

export const DEFAULT_ENDPOINTS = ["http://127.0.0.1:8001", "http://127.0.0.1:8002", "http://127.0.0.1:8003"] as const;

export const ENDPOINT_FLAGS = {
  endpoint: { type: "string", short: "e" },
  timeout: { type: "string" },
} as const;

export const ENDPOINT_HELP = `  -e, --endpoint URLS  node(s) to talk to, comma-separated; the next is tried when one is down
                       (default $SHOAL_ENDPOINT, else ${DEFAULT_ENDPOINTS.join(",")})
  --timeout MS         give up on a request after MS milliseconds (default 5000)`;

export function endpointsFromFlags(flags: Record<string, unknown>, env = process.env): string[] {
  const raw = typeof flags.endpoint === "string" ? flags.endpoint : env.SHOAL_ENDPOINT;
  if (raw === undefined || raw.trim() === "") return [...DEFAULT_ENDPOINTS];
  const parts = raw
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  if (parts.length === 0) throw new CliError(`Cannot parse --endpoint "${raw}": expected http://HOST:PORT`);
  return parts.map((part) => {
    try {
      return normalizeEndpoint(part);
    } catch (error) {
      throw new CliError((error as Error).message.replace("endpoint", "--endpoint"));
    }
  });
}

export function clientFromFlags(flags: Record<string, unknown>): ShoalClient {
  const timeoutMs = integerFlag(flags, "timeout", 5000, 1, 3_600_000);
  return new ShoalClient({
    endpoints: endpointsFromFlags(flags),
    requestTimeoutMs: timeoutMs,
    retryBudgetMs: timeoutMs,
  });
}
