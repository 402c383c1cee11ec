/** @module Real loggers for code run without the node's pino: JSON lines to stderr, or nothing. */
import type { LogDetail, Logger } from "../logger.js";

/** Writes one JSON line per event to stderr (stdout belongs to the CLI's own output), tagged with `component`. */
export function stderrLogger(component: string): Logger {
  const line = (level: string) => (detail: LogDetail, message: string) =>
    console.error(JSON.stringify({ level, component, message, ...detail }));
  return { info: line("info"), warn: line("warn"), error: line("error") };
}

/** Discards everything; for benchmarks. Tests prefer a capturing logger so they can assert on errors. */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
