/**
 * @module Encodes replies for one connection into one growing buffer; `flush` hands the bytes over (the caller
 * owns them, e.g. for socket.write) and the next reply starts a fresh buffer. The protocol version (2 or 3,
 * switched by HELLO) decides how RESP3-only types degrade: null → `$-1`, map → flat array, set/push → array,
 * double → bulk string, boolean → integer 1/0, verbatim → bulk string, big number → bulk string.
 * Aggregates are written as a header followed by their elements (`arrayHeader(2); bulk(a); bulk(b)`).
 *
 * A bulk value or an encoded reply of ATTACH_BYTES_MIN or more is not copied into the buffer: it is kept as a part
 * of its own between the bytes before and after it (`flushParts`), so a 16 MiB GET or a 20 MB HGETALL reply from
 * a read worker costs no copy on the event loop (one fresh multi-megabyte copy is ~50–100 ms here, issue 10).
 * Such bytes must not change once written; store reads and worker replies are fresh buffers nobody else holds.
 */

import { formatDouble } from "./format-double.js";
import type { RespValue, RespVersion } from "./resp-value.js";

const CRLF = 0x0d0a;
const CAPACITY_BYTES_MIN = 256;
/** Bulk values and encoded replies this large are kept as parts of their own (see the module comment). */
const ATTACH_BYTES_MIN = 64 * 1024;

export class RespWriter {
  version: RespVersion;
  private buffer: Buffer;
  private lengthBytesValue = 0;
  /** Output before the current buffer, in order: closed buffer segments and attached bytes. */
  private parts: Uint8Array[] = [];
  private partsBytes = 0;

  constructor(version: RespVersion = 2, capacityBytes = 4096) {
    this.version = version;
    this.buffer = Buffer.allocUnsafe(Math.max(capacityBytes, CAPACITY_BYTES_MIN));
  }

  /** Bytes written since the last flush. */
  get lengthBytes(): number {
    return this.partsBytes + this.lengthBytesValue;
  }

  /** Returns everything written since the last flush in one buffer (owned by the caller) and starts anew. */
  flush(): Buffer {
    if (this.parts.length === 0) return this.takeBuffer();
    const length = this.lengthBytes;
    return Buffer.concat(this.flushParts(), length);
  }

  /** Returns everything written since the last flush as parts to write in order (attached bytes uncopied). */
  flushParts(): Uint8Array[] {
    const parts = this.parts;
    if (this.lengthBytesValue > 0 || parts.length === 0) parts.push(this.takeBuffer());
    this.parts = [];
    this.partsBytes = 0;
    return parts;
  }

  private takeBuffer(): Buffer {
    const out = this.buffer.subarray(0, this.lengthBytesValue);
    this.buffer = Buffer.allocUnsafe(Math.max(CAPACITY_BYTES_MIN, Math.min(this.buffer.length, 64 * 1024)));
    this.lengthBytesValue = 0;
    return out;
  }

  /** Appends `bytes` as a part of its own, after what the buffer holds. */
  private attach(bytes: Uint8Array): void {
    if (this.lengthBytesValue > 0) {
      const segment = this.takeBuffer();
      this.parts.push(segment);
      this.partsBytes += segment.length;
    }
    this.parts.push(bytes);
    this.partsBytes += bytes.length;
  }

  simple(text: string): this {
    return this.line(0x2b, text);
  }

  /** `text` is the full error, e.g. "ERR unknown command" or "WRONGTYPE Operation against a key ...". */
  error(text: string): this {
    return this.line(0x2d, text.replace(/[\r\n]/g, " "));
  }

  integer(value: number | bigint): this {
    return this.line(0x3a, typeof value === "number" ? String(Math.trunc(value)) : value.toString());
  }

  bulk(value: Uint8Array | string | null): this {
    if (value === null) return this.null();
    const length = typeof value === "string" ? Buffer.byteLength(value) : value.length;
    this.line(0x24, String(length));
    if (typeof value !== "string" && length >= ATTACH_BYTES_MIN) {
      this.attach(value);
      this.reserve(2);
      this.buffer.writeUInt16BE(CRLF, this.lengthBytesValue);
      this.lengthBytesValue += 2;
      return this;
    }
    this.reserve(length + 2);
    if (typeof value === "string") this.buffer.write(value, this.lengthBytesValue, "utf8");
    else this.buffer.set(value, this.lengthBytesValue);
    this.lengthBytesValue += length;
    this.buffer.writeUInt16BE(CRLF, this.lengthBytesValue);
    this.lengthBytesValue += 2;
    return this;
  }

  /** The null reply: `_` in RESP3, the null bulk `$-1` in RESP2. */
  null(): this {
    return this.version === 3 ? this.line(0x5f, "") : this.line(0x24, "-1");
  }

  /** The RESP2 null array `*-1` (RESP3: `_`). */
  nullArray(): this {
    return this.version === 3 ? this.line(0x5f, "") : this.line(0x2a, "-1");
  }

  arrayHeader(count: number): this {
    return this.line(0x2a, String(count));
  }

  /** A map of `pairs` entries: `%` in RESP3, a flat array of 2·pairs elements in RESP2. */
  mapHeader(pairs: number): this {
    return this.version === 3 ? this.line(0x25, String(pairs)) : this.line(0x2a, String(pairs * 2));
  }

  setHeader(count: number): this {
    return this.line(this.version === 3 ? 0x7e : 0x2a, String(count));
  }

  /** Out-of-band data (pub/sub messages): `>` in RESP3, an array in RESP2. */
  pushHeader(count: number): this {
    return this.line(this.version === 3 ? 0x3e : 0x2a, String(count));
  }

  double(value: number): this {
    return this.version === 3 ? this.line(0x2c, formatDouble(value)) : this.bulk(formatDouble(value));
  }

  boolean(value: boolean): this {
    return this.version === 3 ? this.line(0x23, value ? "t" : "f") : this.line(0x3a, value ? "1" : "0");
  }

  /** A verbatim string (`=`) with a three-character format such as "txt" or "mkd"; a bulk string in RESP2. */
  verbatim(format: string, text: Uint8Array | string): this {
    if (this.version === 2) return this.bulk(text);
    const body = typeof text === "string" ? Buffer.from(text) : text;
    this.line(0x3d, String(body.length + 4));
    this.raw(Buffer.from(`${format.padEnd(3).slice(0, 3)}:`));
    this.raw(body);
    return this.raw(Buffer.from("\r\n"));
  }

  bigNumber(value: bigint): this {
    return this.version === 3 ? this.line(0x28, value.toString()) : this.bulk(value.toString());
  }

  /** Encodes a whole typed value (degraded per the version as above; attributes are dropped in RESP2). */
  value(v: RespValue): this {
    switch (v.type) {
      case "simple":
        return this.simple(v.value);
      case "error":
        return this.error(v.value);
      case "integer":
        return this.integer(v.value);
      case "bulk":
        return this.bulk(v.value);
      case "null":
        return this.null();
      case "array":
        this.arrayHeader(v.value.length);
        return this.values(v.value);
      case "set":
        this.setHeader(v.value.length);
        return this.values(v.value);
      case "push":
        this.pushHeader(v.value.length);
        return this.values(v.value);
      case "map":
        this.mapHeader(v.value.length);
        for (const [key, item] of v.value) this.value(key).value(item);
        return this;
      case "double":
        return this.double(v.value);
      case "boolean":
        return this.boolean(v.value);
      case "verbatim":
        return this.verbatim(v.format, v.value);
      case "bignum":
        return this.bigNumber(v.value);
      case "attribute":
        if (this.version === 3) {
          this.line(0x7c, String(v.attributes.length));
          for (const [key, item] of v.attributes) this.value(key).value(item);
        }
        return this.value(v.value);
    }
  }

  private values(items: RespValue[]): this {
    for (const item of items) this.value(item);
    return this;
  }

  /** Appends a reply already encoded in this writer's protocol version (one computed on a read worker). */
  encoded(bytes: Uint8Array): this {
    if (bytes.length < ATTACH_BYTES_MIN) return this.raw(bytes);
    this.attach(bytes);
    return this;
  }

  /** Writes `<prefix><text>\r\n`; `text` is ASCII or UTF-8 without CR/LF. */
  private line(prefix: number, text: string): this {
    this.reserve(1 + Buffer.byteLength(text) + 2);
    this.buffer[this.lengthBytesValue++] = prefix;
    this.lengthBytesValue += this.buffer.write(text, this.lengthBytesValue, "utf8");
    this.buffer.writeUInt16BE(CRLF, this.lengthBytesValue);
    this.lengthBytesValue += 2;
    return this;
  }

  private raw(bytes: Uint8Array): this {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.lengthBytesValue);
    this.lengthBytesValue += bytes.length;
    return this;
  }

  private reserve(extraBytes: number): void {
    const needed = this.lengthBytesValue + extraBytes;
    if (needed <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
    this.buffer.copy(grown, 0, 0, this.lengthBytesValue);
    this.buffer = grown;
  }
}

/** Encodes one value into a fresh buffer (convenience for tests and one-off replies). */
export function encodeReply(v: RespValue, version: RespVersion): Buffer {
  return new RespWriter(version, 256).value(v).flush();
}
