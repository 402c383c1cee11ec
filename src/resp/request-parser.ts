/**
 * @module The server side of RESP: a streaming parser of client requests, both multibulk
 * (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline (`GET k\r\n`), following Redis's `processMultibulkBuffer` and
 * `processInlineBuffer` byte for byte, including their error messages.
 *
 * Contract: `feed` chunks as they arrive, then call `next` until it returns undefined. A returned
 * `RespProtocolError` is final: like Redis, the caller replies `-ERR <message>` (see `replyText`) and closes
 * the connection; the parser drops all further input and keeps returning the same error.
 * Arguments are views when an argument lies inside one buffered chunk (a fed chunk over 512 bytes, or the
 * queue's own buffer that small chunks are coalesced into), else copies; either way their bytes never change
 * afterwards, and a view keeps its chunk alive. The caller owns the returned array.
 *
 * Memory: buffered bytes are the unparsed input; a declared array or bulk length over the limits is rejected
 * when its header is read, before its body arrives; a header or inline line longer than `inlineLengthBytesMax`
 * without a terminator is rejected. Work is linear in the input: line searches resume where they stopped.
 */

import { ByteQueue } from "./byte-queue.js";
import { splitInlineArgs } from "./split-inline-args.js";

export interface RequestParserOptions {
  /** Largest accepted bulk argument (Redis proto-max-bulk-len). */
  bulkLengthBytesMax?: number;
  /** Largest accepted multibulk argument count. */
  arrayLengthMax?: number;
  /** Largest inline request or header line (Redis PROTO_INLINE_MAX_SIZE). */
  inlineLengthBytesMax?: number;
}

export const REQUEST_LIMITS_DEFAULT = {
  bulkLengthBytesMax: 512 * 1024 * 1024,
  arrayLengthMax: 1024 * 1024,
  inlineLengthBytesMax: 64 * 1024,
} as const;

/** A protocol violation; `message` is Redis's text, e.g. "Protocol error: invalid bulk length". */
export class RespProtocolError {
  constructor(readonly message: string) {}
  /** The reply Redis sends before closing the connection. */
  get replyText(): string {
    return `ERR ${this.message}`;
  }
}

const UNAUTHENTICATED_ARRAY_LENGTH_MAX = 10;
const UNAUTHENTICATED_BULK_LENGTH_BYTES_MAX = 16 * 1024;
const CR = 0x0d;
const LF = 0x0a;

/**
 * Parses a decimal integer as Redis's string2ll does: optional '-', no '+', no leading zeros, no blanks,
 * within the signed 64-bit range (checked here against Number's safe range, beyond which every limit lies).
 */
export function parseStrictInteger(bytes: Uint8Array): number | undefined {
  const n = bytes.length;
  if (n === 0 || n > 20) return undefined;
  if (n === 1 && bytes[0] === 0x30) return 0;
  let i = 0;
  let negative = false;
  if (bytes[0] === 0x2d) {
    negative = true;
    i = 1;
    if (n === 1) return undefined;
  }
  const first = bytes[i] as number;
  if (first < 0x31 || first > 0x39) return undefined;
  let value = 0;
  for (; i < n; i++) {
    const d = (bytes[i] as number) - 0x30;
    if (d < 0 || d > 9) return undefined;
    value = value * 10 + d;
  }
  if (!Number.isSafeInteger(value)) return negative ? -Number.MAX_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
  return negative ? -value : value;
}

/** Bulk arguments this large are assembled chunk by chunk as they arrive (RequestParser.readBulkBody). */
const BULK_ASSEMBLE_BYTES_MIN = 256 * 1024;

export class RequestParser {
  private readonly queue = new ByteQueue();
  private readonly limits: Required<RequestParserOptions>;
  /** Arguments still expected by the current multibulk request; 0 when between requests. */
  private argsLeft = 0;
  private args: Uint8Array[] = [];
  /** Declared length of the bulk being read, or -1 while its `$` header is awaited. */
  private bulkLengthBytes = -1;
  /** A big bulk being copied into its own buffer as its bytes arrive, and how much of it is filled (see step). */
  private bulkAssembly: Buffer | undefined;
  private bulkAssembled = 0;
  /** Bytes a big bulk's assembly may still copy before the next chunk arrives (set by feed). */
  private assemblyBudgetBytes = 0;
  /** Where the search for the current line's terminator resumes (linear work on byte-by-byte input). */
  private scanFrom = 0;
  private failed: RespProtocolError | undefined;
  /** The arguments the last `next` call may read, and has read. */
  private argsBudget = Number.POSITIVE_INFINITY;
  argsParsed = 0;
  /**
   * While true (the server sets it when a password is required and clears it after AUTH), Redis's stricter
   * pre-authentication limits apply: at most 10 arguments and 16 KiB per argument.
   */
  unauthenticated = false;

  constructor(options: RequestParserOptions = {}) {
    this.limits = { ...REQUEST_LIMITS_DEFAULT, ...options };
  }

  /** Unparsed bytes held (a big bulk being assembled included). */
  get bufferedBytes(): number {
    return this.queue.lengthBytes + (this.bulkAssembly === undefined ? 0 : this.bulkAssembled);
  }

  feed(chunk: Uint8Array): void {
    // What a big bulk's assembly may copy until the next chunk (readBulkBody).
    this.assemblyBudgetBytes = 2 * chunk.length;
    if (this.failed === undefined) this.queue.push(chunk);
  }

  /**
   * The next complete request, a protocol error (final), or undefined when more input is needed — or when
   * `argsMax` arguments were read in this call without completing a request (`argsParsed` says how many were
   * read; the rest stays buffered for the next call). Each argument costs about a microsecond, so an MGET of
   * 100,000 keys parsed at once held the event loop ~100 ms (issue 10); the connection bounds it per turn.
   */
  next(argsMax = Number.POSITIVE_INFINITY): Uint8Array[] | RespProtocolError | undefined {
    this.argsParsed = 0;
    this.argsBudget = argsMax;
    if (this.failed !== undefined) return this.failed;
    for (;;) {
      const result = this.step();
      if (result instanceof RespProtocolError) {
        this.failed = result;
        this.queue.clear();
        this.args = [];
        this.bulkAssembly = undefined;
        return result;
      }
      if (result === "more") return undefined;
      if (result !== "again") return result;
    }
  }

  private step(): Uint8Array[] | RespProtocolError | "more" | "again" {
    if (this.argsLeft === 0) {
      if (this.queue.lengthBytes === 0) return "more";
      return this.queue.byteAt(0) === 0x2a ? this.readArrayHeader() : this.readInline();
    }
    while (this.argsLeft > 0) {
      if (this.argsParsed >= this.argsBudget) return "more";
      if (this.bulkLengthBytes < 0) {
        const header = this.readBulkHeader();
        if (header !== undefined) return header;
      }
      const body = this.readBulkBody();
      if (body === undefined) return "more";
      this.args.push(body);
      this.queue.skip(2); // like Redis, the two bytes after the body are not checked
      this.bulkLengthBytes = -1;
      this.argsLeft--;
      this.argsParsed++;
    }
    const args = this.args;
    this.args = [];
    return args;
  }

  /** Finds the line terminator Redis looks for; -2 when the line is too long, -1 when incomplete. */
  private findLineEnd(byte: number): number {
    const at = this.queue.indexOf(byte, this.scanFrom);
    if (at === -1) {
      this.scanFrom = this.queue.lengthBytes;
      return this.queue.lengthBytes > this.limits.inlineLengthBytesMax ? -2 : -1;
    }
    return at;
  }

  private readArrayHeader(): RespProtocolError | "more" | "again" {
    const cr = this.findLineEnd(CR);
    if (cr === -2) return new RespProtocolError("Protocol error: too big mbulk count string");
    if (cr === -1 || this.queue.lengthBytes < cr + 2) return "more";
    this.scanFrom = 0;
    this.queue.skip(1);
    const count = parseStrictInteger(this.queue.take(cr - 1));
    this.queue.skip(2);
    if (count === undefined || count > this.limits.arrayLengthMax) {
      return new RespProtocolError("Protocol error: invalid multibulk length");
    }
    if (count > UNAUTHENTICATED_ARRAY_LENGTH_MAX && this.unauthenticated) {
      return new RespProtocolError("Protocol error: unauthenticated multibulk length");
    }
    if (count <= 0) return "again";
    this.argsLeft = count;
    this.args = [];
    return "again";
  }

  /**
   * The current bulk's body once it and its CRLF are buffered, else undefined. A body of BULK_ASSEMBLE_BYTES_MIN
   * or more gets its own buffer once half of it has arrived, and each later chunk is copied in as it arrives: one
   * 16 MiB copy (and the page faults of a fresh 16 MiB buffer, ~50 ms here) when the last chunk lands would hold
   * the event loop in one piece (issue 10); spread over the reads it costs the same and stalls nothing.
   */
  private readBulkBody(): Uint8Array | undefined {
    const length = this.bulkLengthBytes;
    if (this.bulkAssembly === undefined) {
      if (this.queue.lengthBytes >= length + 2) return this.queue.take(length);
      // Only once half the body is here: a client declaring 512 MiB and sending nothing reserves nothing, and
      // what is held stays within twice what was received.
      if (length < BULK_ASSEMBLE_BYTES_MIN || this.queue.lengthBytes * 2 < length) return undefined;
      this.bulkAssembly = Buffer.allocUnsafe(length);
      this.bulkAssembled = 0;
    }
    const assembly = this.bulkAssembly;
    // The half held when the assembly began is copied at most twice a chunk's size per chunk, so no read copies
    // megabytes at once; once the whole body is here, the rest goes at once.
    const remaining = length - this.bulkAssembled;
    const available = Math.min(this.queue.lengthBytes, remaining);
    const count = available === remaining ? available : Math.min(available, this.assemblyBudgetBytes);
    this.assemblyBudgetBytes -= count;
    this.queue.takeInto(assembly, this.bulkAssembled, count);
    this.bulkAssembled += count;
    if (this.bulkAssembled < length || this.queue.lengthBytes < 2) return undefined;
    this.bulkAssembly = undefined;
    return assembly;
  }

  /** Reads `$<len>\r\n`; returns an error or "more", or undefined once bulkLengthBytes is set. */
  private readBulkHeader(): RespProtocolError | "more" | undefined {
    const cr = this.findLineEnd(CR);
    if (cr === -2) return new RespProtocolError("Protocol error: too big bulk count string");
    if (cr === -1 || this.queue.lengthBytes < cr + 2) return "more";
    this.scanFrom = 0;
    const first = this.queue.byteAt(0);
    if (first !== 0x24) {
      return new RespProtocolError(`Protocol error: expected '$', got '${String.fromCharCode(first)}'`);
    }
    this.queue.skip(1);
    const length = parseStrictInteger(this.queue.take(cr - 1));
    this.queue.skip(2);
    if (length === undefined || length < 0 || length > this.limits.bulkLengthBytesMax) {
      return new RespProtocolError("Protocol error: invalid bulk length");
    }
    if (length > UNAUTHENTICATED_BULK_LENGTH_BYTES_MAX && this.unauthenticated) {
      return new RespProtocolError("Protocol error: unauthenticated bulk length");
    }
    this.bulkLengthBytes = length;
    return undefined;
  }

  private readInline(): Uint8Array[] | RespProtocolError | "more" | "again" {
    const lf = this.findLineEnd(LF);
    if (lf === -2) return new RespProtocolError("Protocol error: too big inline request");
    if (lf === -1) return "more";
    this.scanFrom = 0;
    const withCr = lf > 0 && this.queue.byteAt(lf - 1) === CR;
    const line = this.queue.take(withCr ? lf - 1 : lf);
    this.queue.skip(withCr ? 2 : 1);
    const args = splitInlineArgs(line);
    if (args === undefined) return new RespProtocolError("Protocol error: unbalanced quotes in request");
    return args.length === 0 ? "again" : args;
  }
}
