/**
 * @module The transport's logging seam. `io/` will own the project-wide Logger; until it exists the transport
 * takes this minimal interface so a host can plug in pino (or a test can capture lines) without the transport
 * importing a logging library.
 */

export interface TransportLogger {
  info(message: string, detail?: Readonly<Record<string, unknown>>): void;
  warn(message: string, detail?: Readonly<Record<string, unknown>>): void;
  error(message: string, detail?: Readonly<Record<string, unknown>>): void;
}

function line(level: string, message: string, detail: Readonly<Record<string, unknown>> | undefined): string {
  return JSON.stringify({ level, component: "transport", message, ...detail });
}

/** Writes one JSON line per event to stderr (stdout belongs to the CLI's own output). */
export const stderrTransportLogger: TransportLogger = {
  info: (message, detail) => console.error(line("info", message, detail)),
  warn: (message, detail) => console.error(line("warn", message, detail)),
  error: (message, detail) => console.error(line("error", message, detail)),
};

/** Discards everything; for benchmarks. Tests prefer a capturing logger so they can assert on errors. */
export const silentTransportLogger: TransportLogger = {
  info: () => {},
  warn: () => {},
  error: () => {},
};
