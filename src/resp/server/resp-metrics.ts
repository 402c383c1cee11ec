/**
 * @module The RESP server's figures as Prometheus series in the node's registry (read at scrape time, so the
 * hot path only bumps the plain counters INFO also prints).
 */
import { Gauge, type Registry } from "prom-client";
import type { ServerFigures } from "./server-info.js";

const SERIES: readonly { name: string; help: string; read: (figures: ServerFigures) => number }[] = [
  {
    name: "shoal_resp_connected_clients",
    help: "RESP connections open now",
    read: (f) => f.connectedClients,
  },
  {
    name: "shoal_resp_connections_received",
    help: "RESP connections accepted since start (a running count)",
    read: (f) => f.totalConnections,
  },
  {
    name: "shoal_resp_connections_rejected",
    help: "RESP connections refused since start because --maxclients was reached (a running count)",
    read: (f) => f.rejectedConnections,
  },
  {
    name: "shoal_resp_commands_processed",
    help: "RESP commands processed since start (a running count; INFO's total_commands_processed)",
    read: (f) => f.totalCommands,
  },
];

/** Registers the series; `figures` is called at every scrape. Registering twice in one registry is a no-op. */
export function registerRespMetrics(registry: Registry, figures: () => ServerFigures): void {
  for (const series of SERIES) {
    if (registry.getSingleMetric(series.name) !== undefined) continue;
    new Gauge({
      name: series.name,
      help: series.help,
      registers: [registry],
      collect() {
        this.set(series.read(figures()));
      },
    });
  }
}
