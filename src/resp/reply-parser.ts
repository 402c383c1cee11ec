/**
 * @module The client side of RESP: a streaming parser of replies of either protocol version into typed
 * `RespValue`s (`$-1`/`*-1`/`_` all become `{ type: "null" }`). Feed chunks, then call `next` until undefined.
 * A `RespProtocolError` is final. Input is kept in one contiguous buffer and a partial reply is re-parsed
 * from its start only once enough bytes for the part it stopped in have arrived, so a large bulk split in
 * many chunks costs one attempt, not one per chunk. Nesting depth and bulk length are bounded.
 */

import { parseStrictInteger, RespProtocolError } from "./request-parser.js";
import type { RespValue } from "./resp-value.js";

export interface ReplyParserOptions {
  bulkLengthBytesMax?: number;
  aggregateLengthMax?: number;
  depthMax?: number;
}

const LIMITS_DEFAULT = { bulkLengthBytesMax: 512 * 1024 * 1024, aggregateLengthMax: 1 << 24, depthMax: 64 };

type Parsed = { value: RespValue; end: number } | RespProtocolError | undefined;

export class ReplyParser {
  private buffer: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  /** Buffered bytes (from start) needed before a new attempt can get further. */
  private neededBytes = 1;
  private failed: RespProtocolError | undefined;
  private readonly limits: Required<ReplyParserOptions>;

  constructor(options: ReplyParserOptions = {}) {
    this.limits = { ...LIMITS_DEFAULT, ...options };
  }

  feed(chunk: Uint8Array): void {
    if (this.failed !== undefined) return;
    if (this.end + chunk.length > this.buffer.length) {
      const live = this.end - this.start;
      const grown = Buffer.allocUnsafe(Math.max(live + chunk.length, this.buffer.length * 2, 4096));
      this.buffer.copy(grown, 0, this.start, this.end);
      this.buffer = grown;
      this.start = 0;
      this.end = live;
    }
    this.buffer.set(chunk, this.end);
    this.end += chunk.length;
  }

  next(): RespValue | RespProtocolError | undefined {
    if (this.failed !== undefined) return this.failed;
    if (this.end - this.start < this.neededBytes) return undefined;
    const parsed = this.parse(this.start, 0);
    if (parsed instanceof RespProtocolError) {
      this.failed = parsed;
      return parsed;
    }
    if (parsed === undefined) return undefined;
    this.start = parsed.end;
    this.neededBytes = 1;
    return parsed.value;
  }

  private incomplete(needEnd: number): undefined {
    this.neededBytes = Math.max(needEnd - this.start, 1);
    return undefined;
  }

  private parse(at: number, depth: number): Parsed {
    if (depth > this.limits.depthMax) return new RespProtocolError("Protocol error: reply nested too deeply");
    if (at >= this.end) return this.incomplete(at + 1);
    const lf = this.buffer.subarray(0, this.end).indexOf(0x0a, at + 1);
    if (lf === -1 || lf >= this.end) return this.incomplete(this.end + 1);
    if (this.buffer[lf - 1] !== 0x0d) return new RespProtocolError("Protocol error: expected CRLF");
    const type = this.buffer[at] as number;
    const line = this.buffer.subarray(at + 1, lf - 1);
    const text = (): string => line.toString("utf8");
    const next = lf + 1;
    switch (type) {
      case 0x2b: // +
        return { value: { type: "simple", value: text() }, end: next };
      case 0x2d: // -
        return { value: { type: "error", value: text() }, end: next };
      case 0x3a: // :
      case 0x28: {
        // (
        const value = parseBigInt(text());
        if (value === undefined) return new RespProtocolError("Protocol error: invalid integer");
        return { value: { type: type === 0x3a ? "integer" : "bignum", value }, end: next };
      }
      case 0x2c: {
        // ,
        const value = parseDouble(text());
        if (value === undefined) return new RespProtocolError("Protocol error: invalid double");
        return { value: { type: "double", value }, end: next };
      }
      case 0x23: // #
        if (line.length !== 1 || (line[0] !== 0x74 && line[0] !== 0x66)) {
          return new RespProtocolError("Protocol error: invalid boolean");
        }
        return { value: { type: "boolean", value: line[0] === 0x74 }, end: next };
      case 0x5f: // _
        return { value: { type: "null" }, end: next };
      case 0x24: // $
      case 0x21: // !
      case 0x3d: // =
        return this.parseBlob(type, line, next);
      case 0x2a: // *
      case 0x7e: // ~
      case 0x3e: // >
      case 0x25: // %
      case 0x7c: // |
        return this.parseAggregate(type, line, next, depth);
      default:
        return new RespProtocolError(`Protocol error: unknown reply type '${String.fromCharCode(type)}'`);
    }
  }

  private parseBlob(type: number, line: Uint8Array, next: number): Parsed {
    const length = parseStrictInteger(line);
    if (length === -1 && type === 0x24) return { value: { type: "null" }, end: next };
    if (length === undefined || length < 0 || length > this.limits.bulkLengthBytesMax) {
      return new RespProtocolError("Protocol error: invalid bulk length");
    }
    if (next + length + 2 > this.end) return this.incomplete(next + length + 2);
    if (this.buffer[next + length] !== 0x0d || this.buffer[next + length + 1] !== 0x0a) {
      return new RespProtocolError("Protocol error: expected CRLF");
    }
    // Copy: the buffer is reused and compacted.
    const body = new Uint8Array(this.buffer.subarray(next, next + length));
    const end = next + length + 2;
    if (type === 0x24) return { value: { type: "bulk", value: body }, end };
    if (type === 0x21) return { value: { type: "error", value: Buffer.from(body).toString("utf8") }, end };
    if (length < 4 || body[3] !== 0x3a) return new RespProtocolError("Protocol error: invalid verbatim string");
    const format = Buffer.from(body.subarray(0, 3)).toString("latin1");
    return { value: { type: "verbatim", format, value: body.subarray(4) }, end };
  }

  private parseAggregate(type: number, line: Uint8Array, next: number, depth: number): Parsed {
    const count = parseStrictInteger(line);
    if (count === -1 && type === 0x2a) return { value: { type: "null" }, end: next };
    if (count === undefined || count < 0 || count > this.limits.aggregateLengthMax) {
      return new RespProtocolError("Protocol error: invalid multibulk length");
    }
    const paired = type === 0x25 || type === 0x7c;
    const items: RespValue[] = [];
    let at = next;
    for (let i = 0; i < (paired ? count * 2 : count); i++) {
      const item = this.parse(at, depth + 1);
      if (item === undefined || item instanceof RespProtocolError) return item;
      items.push(item.value);
      at = item.end;
    }
    if (type === 0x2a) return { value: { type: "array", value: items }, end: at };
    if (type === 0x7e) return { value: { type: "set", value: items }, end: at };
    if (type === 0x3e) return { value: { type: "push", value: items }, end: at };
    const pairs: Array<[RespValue, RespValue]> = [];
    for (let i = 0; i < items.length; i += 2) pairs.push([items[i] as RespValue, items[i + 1] as RespValue]);
    if (type === 0x25) return { value: { type: "map", value: pairs }, end: at };
    const target = this.parse(at, depth + 1); // an attribute annotates the reply that follows it
    if (target === undefined || target instanceof RespProtocolError) return target;
    return { value: { type: "attribute", attributes: pairs, value: target.value }, end: target.end };
  }
}

function parseBigInt(text: string): bigint | undefined {
  return /^-?[0-9]+$/.test(text) ? BigInt(text) : undefined;
}

function parseDouble(text: string): number | undefined {
  if (text === "inf" || text === "+inf") return Number.POSITIVE_INFINITY;
  if (text === "-inf") return Number.NEGATIVE_INFINITY;
  if (text === "nan" || text === "-nan") return Number.NaN;
  if (!/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(text)) return undefined;
  return Number(text);
}
