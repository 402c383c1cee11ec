/**
 * @module What the CLI writes to a terminal: colour (only on a TTY, never with NO_COLOR set, see no-color.org),
 * aligned tables, and number formatting. Pure apart from reading the stream's isTTY.
 */

export interface Stream {
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Colour when the stream is a terminal and NO_COLOR is unset or empty. */
export function colourEnabled(
  stream: Stream,
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === "");
}

export type Paint = (text: string) => string;

export interface Style {
  readonly bold: Paint;
  readonly dim: Paint;
  readonly red: Paint;
  readonly green: Paint;
  readonly yellow: Paint;
  readonly cyan: Paint;
}

export function makeStyle(enabled: boolean): Style {
  const sgr = (open: number, close: number): Paint =>
    enabled ? (text) => `\x1b[${open}m${text}\x1b[${close}m` : (text) => text;
  return {
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
  };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the escape character is the point
const ANSI = /\x1b\[[0-9;]*m/g;

export function stripColour(text: string): string {
  return text.replace(ANSI, "");
}

/** The width a string takes on screen, ignoring colour codes. */
export function visibleWidth(text: string): number {
  return stripColour(text).length;
}

/**
 * Renders rows under headers in aligned columns (two spaces apart). Columns listed in `rightAligned` are
 * padded on the left, for numbers. Each line ends with "\n".
 */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  rightAligned: ReadonlySet<number>,
  style: Style,
): string {
  const widths = headers.map((header, i) =>
    Math.max(visibleWidth(header), ...rows.map((row) => visibleWidth(row[i] ?? ""))),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => {
        const pad = " ".repeat((widths[i] ?? 0) - visibleWidth(cell));
        return rightAligned.has(i) ? pad + cell : i === cells.length - 1 ? cell : cell + pad;
      })
      .join("  ")
      .trimEnd();
  return [style.bold(line(headers)), ...rows.map(line)].map((l) => `${l}\n`).join("");
}

/** 12345.6 → "12,346"; for counts and rates. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** Milliseconds with about three significant digits: 0.0123, 0.456, 1.23, 12.3, 123. */
export function formatMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toPrecision(2);
}
