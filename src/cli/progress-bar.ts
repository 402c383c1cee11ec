/**
 * @module A one-line progress bar redrawn in place ("\r" then the line, erased to its end), for terminals only:
 * callers check isTTY before drawing, so logs and pipes never see it.
 */

/** `[██████░░░░░░]  42%  label`, fitted to `columns`. `fraction` is clamped to [0, 1]. */
export function renderProgressBar(fraction: number, label: string, columns: number): string {
  const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const percent = `${Math.floor(clamped * 100)}%`.padStart(4);
  const barWidth = Math.max(10, Math.min(40, columns - label.length - 10));
  const filled = Math.round(clamped * barWidth);
  const line = `[${"█".repeat(filled)}${"░".repeat(barWidth - filled)}] ${percent}  ${label}`;
  return line.length > columns - 1 ? line.slice(0, Math.max(0, columns - 1)) : line;
}

/** Writes `line` over the current terminal line. */
export function redraw(stream: NodeJS.WriteStream, line: string): void {
  stream.write(`\r${line}\x1b[K`);
}

/** Clears the progress line so what follows starts on a clean line. */
export function clearLine(stream: NodeJS.WriteStream): void {
  stream.write("\r\x1b[K");
}
