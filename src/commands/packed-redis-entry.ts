/**
 * @module Entry format 2: every Redis entry, as its argument bytes back to back behind a table of lengths, instead
 * of msgpack. msgpack decodes an MSET of 100,000 keys in one call — 200,000 byte strings, then their garbage — which
 * held every replica's event loop 70–130 ms (issue 10); this layout is written and read a bounded number of
 * arguments per step (lib/steps.ts), so apply pauses inside it like anywhere else, and each argument comes back as
 * a view of the entry rather than a copy. For a one-key SET it is also cheaper: writing every Redis entry this way
 * raised a node's SET throughput by ~18 % (issue 14; format 1, msgpack, is still read for entries logged before).
 *
 * Layout (every integer an unsigned 32-bit big-endian):
 *   format byte (2) · H · msgpack map of H bytes: the command without its argvs ({op: "redis", nowMs, watches?}) ·
 *   C (commands) · A (arguments in all) · C argument counts · A argument lengths · the arguments' bytes
 * Decoding checks every count and length against the entry's own size before it trusts it: the bytes come from a
 * log that any client's command reached, and a malformed entry must be refused alike on every replica.
 */
import { ShoalError } from "../lib/errors.js";
import type { Steps } from "../lib/steps.js";
import { entryTooLarge } from "./limits.js";

export const COMMAND_FORMAT_PACKED_ARGVS = 2;

/** A Redis entry with at least this many arguments in all is encoded a slice per event-loop turn by a proposer
 * (client-operations.ts); a smaller one at once. */
export const PACKED_ARGUMENTS_MIN = 4096;

/** Arguments written or read between pauses (~50 ns each: well under a millisecond per step). */
const ARGUMENTS_PER_STEP = 8192;

const U32 = 4;

/** Whether `argvs` hold enough arguments to be encoded in slices. */
export function manyArguments(argvs: readonly (readonly Uint8Array[])[]): boolean {
  let count = 0;
  for (const argv of argvs) {
    count += argv.length;
    if (count >= PACKED_ARGUMENTS_MIN) return true;
  }
  return false;
}

/** An argument left for the caller to copy into the entry (in slices, off the hot turn). */
export interface DeferredArgument {
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/** The entry's bytes: `header` (the msgpack of the command without argvs) and `argvs` in format 2; throws
 * entryTooLarge (TOO_LARGE) before writing anything when they would take more than `sizeMax` bytes. With
 * `deferred`, arguments of `deferBytesMin` or more are not copied but listed there for the caller to copy. */
export function* encodePackedArgvsSteps(
  header: Uint8Array,
  argvs: readonly (readonly Uint8Array[])[],
  sizeMax: number,
  deferred?: { readonly list: DeferredArgument[]; readonly bytesMin: number },
): Steps<Uint8Array> {
  let argumentCount = 0;
  let argumentBytes = 0;
  for (const argv of argvs) {
    argumentCount += argv.length;
    for (const arg of argv) argumentBytes += arg.byteLength;
  }
  const tableAt = 1 + U32 + header.byteLength;
  const size = tableAt + 2 * U32 + U32 * argvs.length + U32 * argumentCount + argumentBytes;
  if (size > sizeMax) throw entryTooLarge();
  const data = new Uint8Array(size);
  const view = new DataView(data.buffer);
  data[0] = COMMAND_FORMAT_PACKED_ARGVS;
  view.setUint32(1, header.byteLength);
  data.set(header, 1 + U32);
  view.setUint32(tableAt, argvs.length);
  view.setUint32(tableAt + U32, argumentCount);
  let countAt = tableAt + 2 * U32;
  let lengthAt = countAt + U32 * argvs.length;
  let bytesAt = lengthAt + U32 * argumentCount;
  let written = 0;
  for (const argv of argvs) {
    view.setUint32(countAt, argv.length);
    countAt += U32;
    for (const arg of argv) {
      view.setUint32(lengthAt, arg.byteLength);
      lengthAt += U32;
      if (deferred !== undefined && arg.byteLength >= deferred.bytesMin) {
        deferred.list.push({ offset: bytesAt, bytes: arg });
      } else data.set(arg, bytesAt);
      bytesAt += arg.byteLength;
      if (++written % ARGUMENTS_PER_STEP === 0) yield;
    }
  }
  return data;
}

export interface PackedRedisEntry {
  /** The msgpack bytes of the command without argvs. */
  readonly header: Uint8Array;
  /** Views of the entry's bytes (plain Uint8Arrays). */
  readonly argvs: Uint8Array[][];
}

/** Reads a format-2 entry; throws ShoalError BAD_REQUEST when a count or length does not fit the entry. The
 * arguments are views of `data`, so `data` must not be reused (the caller copies an entry that shares a larger
 * buffer). `commandsMax` bounds C before anything is allocated for it. */
export function* decodePackedArgvsSteps(data: Uint8Array, commandsMax: number): Steps<PackedRedisEntry> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const need = (at: number, bytes: number, what: string): void => {
    if (at + bytes > data.byteLength) throw malformed(`${what} runs past the entry's end`);
  };
  need(1, U32, "the header length");
  const headerBytes = view.getUint32(1);
  need(1 + U32, headerBytes, "the header");
  const header = new Uint8Array(data.buffer, data.byteOffset + 1 + U32, headerBytes);
  const tableAt = 1 + U32 + headerBytes;
  need(tableAt, 2 * U32, "the argument table");
  const commandCount = view.getUint32(tableAt);
  const argumentCount = view.getUint32(tableAt + U32);
  if (commandCount > commandsMax) {
    throw new ShoalError("TOO_LARGE", `Cannot run redis commands: more than ${commandsMax} in one entry`);
  }
  let countAt = tableAt + 2 * U32;
  let lengthAt = countAt + U32 * commandCount;
  need(lengthAt, U32 * argumentCount, "the argument lengths");
  let bytesAt = lengthAt + U32 * argumentCount;
  const argvs: Uint8Array[][] = [];
  let read = 0;
  for (let c = 0; c < commandCount; c++) {
    const count = view.getUint32(countAt);
    countAt += U32;
    if (read + count > argumentCount) throw malformed("the argument counts exceed the argument total");
    const argv: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const length = view.getUint32(lengthAt);
      lengthAt += U32;
      need(bytesAt, length, "an argument");
      argv.push(new Uint8Array(data.buffer, data.byteOffset + bytesAt, length));
      bytesAt += length;
      if (++read % ARGUMENTS_PER_STEP === 0) yield;
    }
    argvs.push(argv);
  }
  if (read !== argumentCount) throw malformed("the argument counts fall short of the argument total");
  if (bytesAt !== data.byteLength) throw malformed("bytes follow the last argument");
  return { header, argvs };
}

function malformed(what: string): ShoalError {
  return new ShoalError("BAD_REQUEST", `Cannot decode command: ${what}`);
}
