/**
 * @module The one logger shape every layer takes: pino's — structured detail first, then the message — so the
 * node's pino logger is passed as it is, and a test can capture lines with four small functions. `io/node/logger.ts`
 * has a JSON-lines logger to stderr (for a transport used on its own) and a silent one.
 */

export type LogDetail = Readonly<Record<string, unknown>>;

export interface Logger {
  info(detail: LogDetail, message: string): void;
  warn(detail: LogDetail, message: string): void;
  error(detail: LogDetail, message: string): void;
}
