/**
 * @module The bytes of a command inside a Raft entry: one format byte, then the command as a msgpack map with
 * the field names of `Command` (absent optional fields are left out). Decoding rebuilds the command field by
 * field, so nothing but the declared fields (with their declared types) reaches apply, and then validates it.
 *
 * An EMPTY entry is not a command (a new leader's no-op); `decodeCommand` is only for non-empty data.
 */
import { type Options, Packr, RESET_BUFFER_MODE, Unpackr } from "msgpackr";
import { plainBytes } from "../lib/bytes.js";
import { ShoalError } from "../lib/errors.js";
import type { Command, Compare, CompareOp, ExpiryOptions, TxnOp } from "./command.js";
import { COMMAND_LIMITS, entryTooLarge } from "./limits.js";
import { validateCommand } from "./validate-command.js";

/** Bumped when the encoding changes incompatibly; apply rejects formats it does not know. */
export const COMMAND_FORMAT_V1 = 1;

// `skipValues` drops undefined fields (msgpackr supports it; its typings do not list it).
const packOptions: Options & { skipValues: unknown[] } = { useRecords: false, skipValues: [undefined] };
const packr = new Packr(packOptions);
// copyBuffers: decoded keys and values own their memory, so a store may keep them after the entry's buffer is
// reused. int64AsType: times above 2^32 come back as numbers, never BigInt.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, copyBuffers: true, int64AsType: "number" });
/** For big entries, byte fields stay views of the entry's data: copying a 16 MiB value costs tens of milliseconds
 * of page faults here (issue 10), and the view pins nothing but an entry of about its own size. */
const viewingUnpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  copyBuffers: false,
  int64AsType: "number",
});
const VIEW_BYTES_MIN = 64 * 1024;

/** Validates `command` (throws ShoalError BAD_REQUEST / TOO_LARGE) and encodes it for a Raft entry; an encoding
 * over COMMAND_LIMITS.entrySizeBytesMax is refused (TOO_LARGE), so every proposal fits the Raft proposal limit. */
export function encodeCommand(command: Command): Uint8Array {
  validateCommand(command);
  // Packed into msgpackr's shared buffer, which the next pack reuses (RESET_BUFFER_MODE), and copied out once with
  // the format byte: one fresh allocation per entry, not two.
  const body = packr.pack(command, RESET_BUFFER_MODE);
  if (body.length + 1 > COMMAND_LIMITS.entrySizeBytesMax) throw entryTooLarge();
  const data = new Uint8Array(body.length + 1);
  data[0] = COMMAND_FORMAT_V1;
  data.set(body, 1);
  return data;
}

/** Decodes and validates an entry's data. Throws ShoalError (BAD_REQUEST, TOO_LARGE) when it is not a valid
 * command; apply turns that into an `error` result, identically on every replica. */
export function decodeCommand(data: Uint8Array): Command {
  if (data.length === 0) throw new ShoalError("BAD_REQUEST", "Cannot decode command: entry is empty");
  if (data.length > COMMAND_LIMITS.entrySizeBytesMax) throw entryTooLarge();
  if (data[0] !== COMMAND_FORMAT_V1) {
    throw new ShoalError("BAD_REQUEST", `Cannot decode command: unknown format ${data[0]}`);
  }
  let raw: unknown;
  try {
    // Views only when the entry owns its buffer (not a slice of, say, a WAL segment read whole).
    const view = data.length >= VIEW_BYTES_MIN && data.byteLength * 2 >= data.buffer.byteLength;
    raw = (view ? viewingUnpackr : unpackr).unpack(data.subarray(1));
  } catch (error) {
    throw new ShoalError("BAD_REQUEST", `Cannot decode command: ${(error as Error).message}`);
  }
  const command = readCommand(new Fields(raw, "command"));
  validateCommand(command);
  return command;
}

function readCommand(f: Fields): Command {
  const op = f.string("op");
  const nowMs = f.number("nowMs");
  switch (op) {
    case "put":
      return {
        op,
        key: f.bytes("key"),
        value: f.bytes("value"),
        nowMs,
        ...readExpiry(f),
        ...optional("ifModRevision", f.optionalNumber("ifModRevision")),
        ...optional("ifAbsent", f.optionalBoolean("ifAbsent")),
        ...optional("ifPresent", f.optionalBoolean("ifPresent")),
      };
    case "delete":
      return { op, key: f.bytes("key"), nowMs };
    case "expire":
      return { op, keys: f.array("keys").map((key, i) => bytesOf(key, `keys[${i}]`)), nowMs };
    case "txn":
      return {
        op,
        nowMs,
        compares: f.array("compares").map((c, i) => readCompare(new Fields(c, `compares[${i}]`))),
        success: f.array("success").map((o, i) => readTxnOp(new Fields(o, `success[${i}]`))),
        failure: f.array("failure").map((o, i) => readTxnOp(new Fields(o, `failure[${i}]`))),
      };
    case "redis": {
      const argvs = f.array("argvs").map((argv, i) => {
        if (!Array.isArray(argv)) throw f.error(`argvs[${i}] is not an array`);
        return argv.map((arg, j) => bytesOf(arg, `argvs[${i}][${j}]`));
      });
      const watches = f.optionalArray("watches")?.map((w, i) => {
        const watch = new Fields(w, `watches[${i}]`);
        return { key: watch.bytes("key"), modRevision: watch.number("modRevision") };
      });
      return { op, nowMs, argvs, ...optional("watches", watches) };
    }
    default:
      throw new ShoalError("BAD_REQUEST", `Cannot decode command: unknown op ${JSON.stringify(op)}`);
  }
}

function readExpiry(f: Fields): ExpiryOptions {
  return {
    ...optional("ttlMs", f.optionalNumber("ttlMs")),
    ...optional("expiresAtMs", f.optionalNumber("expiresAtMs")),
    ...optional("keepTtl", f.optionalBoolean("keepTtl")),
  };
}

const COMPARE_OPS: readonly string[] = ["==", "!=", "<", ">"] satisfies CompareOp[];

function readCompare(f: Fields): Compare {
  const key = f.bytes("key");
  const op = f.string("op");
  if (!COMPARE_OPS.includes(op)) throw f.error(`unknown compare op ${JSON.stringify(op)}`);
  const compareOp = op as CompareOp;
  const target = f.string("target");
  switch (target) {
    case "value":
      return { key, target, op: compareOp, value: f.bytes("value") };
    case "version":
    case "createRevision":
    case "modRevision":
      return { key, target, op: compareOp, value: f.number("value") };
    default:
      throw f.error(`unknown compare target ${JSON.stringify(target)}`);
  }
}

function readTxnOp(f: Fields): TxnOp {
  const op = f.string("op");
  switch (op) {
    case "put":
      return { op, key: f.bytes("key"), value: f.bytes("value"), ...readExpiry(f) };
    case "delete":
    case "get":
      return { op, key: f.bytes("key") };
    default:
      throw f.error(`unknown txn op ${JSON.stringify(op)}`);
  }
}

function optional<N extends string, T>(name: N, value: T | undefined): { [K in N]?: T } {
  return (value === undefined ? {} : { [name]: value }) as { [K in N]?: T };
}

function bytesOf(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array))
    throw new ShoalError("BAD_REQUEST", `Cannot decode command: ${what} is not bytes`);
  return plainBytes(value);
}

/** Typed access to one decoded msgpack map; every failure is a BAD_REQUEST naming the field. */
class Fields {
  readonly #map: Readonly<Record<string, unknown>>;
  readonly #what: string;

  constructor(raw: unknown, what: string) {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) {
      throw new ShoalError("BAD_REQUEST", `Cannot decode command: ${what} is not a map`);
    }
    this.#map = raw as Readonly<Record<string, unknown>>;
    this.#what = what;
  }

  error(message: string): ShoalError {
    return new ShoalError("BAD_REQUEST", `Cannot decode command: ${this.#what}: ${message}`);
  }

  string(name: string): string {
    const value = this.#map[name];
    if (typeof value !== "string") throw this.error(`${name} is not a string`);
    return value;
  }

  number(name: string): number {
    const value = this.optionalNumber(name);
    if (value === undefined) throw this.error(`${name} is missing`);
    return value;
  }

  optionalNumber(name: string): number | undefined {
    const value = this.#map[name];
    if (value === undefined) return undefined;
    if (typeof value !== "number") throw this.error(`${name} is not a number`);
    return value;
  }

  optionalBoolean(name: string): boolean | undefined {
    const value = this.#map[name];
    if (value === undefined) return undefined;
    if (typeof value !== "boolean") throw this.error(`${name} is not a boolean`);
    return value;
  }

  bytes(name: string): Uint8Array {
    return bytesOf(this.#map[name], `${this.#what}.${name}`);
  }

  optionalArray(name: string): readonly unknown[] | undefined {
    return this.#map[name] === undefined ? undefined : this.array(name);
  }

  array(name: string): readonly unknown[] {
    const value = this.#map[name];
    if (!Array.isArray(value)) throw this.error(`${name} is not an array`);
    return value;
  }
}
