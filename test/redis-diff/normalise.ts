/**
 * @module The complete list of ways the differential test lets two replies differ. Everything else is compared
 * byte for byte. Each entry is a difference Redis itself does not pin down (ordering) or that depends on when a
 * command ran (time), never one that hides a behaviour:
 *
 * 1. KEYS: the elements are compared as a sorted list (Redis answers in hash-table order).
 * 2. SCAN: not compared page by page — the harness follows each server's cursor to 0 and compares the sorted,
 *    de-duplicated union of the keys (cursor values and page boundaries are implementation details; the SCAN
 *    guarantee allows repeats). An error reply on any page is compared raw.
 * 3. TTL, PTTL, EXPIRETIME, PEXPIRETIME: a positive integer becomes ":<positive>" (-1 and -2 stay exact); the
 *    value depends on the clock. The generator makes every other time-dependent outcome (GT/LT) deterministic.
 * 4. EXEC: its array's elements are normalised by the rules above according to the queued commands.
 *
 * Replies are split with the framing scanner of raw-connection.ts, not decoded, so normalised replies are still
 * raw RESP (and still compared as bytes).
 */
import type { Command } from "./generator.js";
import { replyEnd } from "./raw-connection.js";

const TIME_COMMANDS = new Set(["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]);

/** Elements of a RESP2 array reply as raw bytes, or undefined if `raw` is not a (non-null) array. */
export function splitArray(raw: Buffer): Buffer[] | undefined {
  if (raw[0] !== 0x2a) return undefined; // '*'
  const lf = raw.indexOf(0x0a);
  const count = Number(raw.toString("latin1", 1, lf - 1));
  if (!(count >= 0)) return undefined;
  const items: Buffer[] = [];
  let at = lf + 1;
  for (let i = 0; i < count; i++) {
    const end = replyEnd(raw, at);
    if (end === undefined) return undefined;
    items.push(raw.subarray(at, end));
    at = end;
  }
  return items;
}

export function joinArray(items: readonly Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items]);
}

/** The body of a bulk string reply, or undefined if `raw` is not one. */
export function bulkBody(raw: Buffer): Buffer | undefined {
  if (raw[0] !== 0x24) return undefined; // '$'
  const lf = raw.indexOf(0x0a);
  const length = Number(raw.toString("latin1", 1, lf - 1));
  if (!(length >= 0)) return undefined;
  return raw.subarray(lf + 1, lf + 1 + length);
}

export function sortedUnique(items: readonly Buffer[]): Buffer[] {
  const sorted = [...items].sort(Buffer.compare);
  return sorted.filter((item, i) => i === 0 || !item.equals(sorted[i - 1] as Buffer));
}

/** Normalises `raw`, the reply to `command`; `queued` is what EXEC runs (the commands MULTI answered +QUEUED). */
export function normaliseReply(command: Command, raw: Buffer, queued: readonly Command[] = []): Buffer {
  const name = (command[0] ?? "").toUpperCase();
  if (name === "KEYS") {
    const items = splitArray(raw);
    return items === undefined ? raw : joinArray([...items].sort(Buffer.compare));
  }
  if (TIME_COMMANDS.has(name)) {
    return /^:[1-9][0-9]*\r\n$/.test(raw.toString("latin1")) ? Buffer.from(":<positive>\r\n") : raw;
  }
  if (name === "EXEC") {
    const items = splitArray(raw);
    if (items === undefined || items.length !== queued.length) return raw;
    return joinArray(items.map((item, i) => normaliseReply(queued[i] as Command, item)));
  }
  return raw;
}
