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
import { runSteps, type Steps } from "../lib/steps.js";
import type {
  Command,
  Compare,
  CompareOp,
  ExpiryOptions,
  RedisCommand,
  SlotAction,
  SlotCommand,
  TxnOp,
} from "./command.js";
import { COMMAND_LIMITS, entryTooLarge } from "./limits.js";
import {
  COMMAND_FORMAT_PACKED_ARGVS,
  type DeferredArgument,
  decodePackedArgvsSteps,
  encodePackedArgvsSteps,
  manyArguments,
} from "./packed-redis-entry.js";
import { validateCommand, validateCommandSteps } from "./validate-command.js";

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
  if (command.op === "redis") return runSteps(encodeCommandSteps(command));
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

/** Whether encodeCommandSteps pauses while it encodes `command`: a Redis command with many arguments. */
export function encodesInSteps(command: Command): boolean {
  return command.op === "redis" && manyArguments(command.argvs);
}

/** encodeCommand as steps (lib/steps.ts): a Redis command is validated and written in format 2
 * (packed-redis-entry.ts), a bounded number of arguments per step — msgpack packed an MSET of 100,000 keys in one
 * call that held the leader's loop (issue 10), and for small commands its per-argument byte strings cost ~18 % of
 * a node's SET throughput (issue 14). Any other command is encoded at once. */
export function* encodeCommandSteps(command: Command, deferred?: DeferredArgument[]): Steps<Uint8Array> {
  if (command.op !== "redis") return encodeCommand(command);
  yield* validateCommandSteps(command);
  const { argvs, ...rest } = command;
  const header = Uint8Array.from(packr.pack(rest, RESET_BUFFER_MODE)); // msgpackr's shared buffer: copy it now
  const defer = deferred === undefined ? undefined : { list: deferred, bytesMin: SLICED_FIELD_BYTES_MIN };
  return yield* encodePackedArgvsSteps(header, argvs, COMMAND_LIMITS.entrySizeBytesMax, defer);
}

/** A byte field at least this big is spliced into the entry by encodeCommandInSlices instead of packed. */
export const SLICED_FIELD_BYTES_MIN = 1024 * 1024;
/** Bytes of a big field copied per turn by encodeCommandInSlices. */
const SLICE_BYTES = 1024 * 1024;
/** msgpack's bin 8 header of a 16-byte placeholder, and the bin 32 header that replaces it. */
const BIN8 = 0xc4;
const BIN32 = 0xc6;
const PLACEHOLDER_BYTES = 16;
/** Placeholders start with these bytes; a counter makes each one of a command unique. */
const PLACEHOLDER_MAGIC = Uint8Array.from([0x53, 0x48, 0x4f, 0x41, 0x4c, 0x2d, 0x42, 0x49, 0x47, 0x2d, 0x76, 0x31]);

/** True when `command` holds a byte field that encodeCommandInSlices would splice in. */
export function holdsBigField(command: Command): boolean {
  return someBigField(command);
}

/** Whether `value` (a command) holds a byte field substituteBigFields would replace: a walk that allocates nothing,
 * since every write asks it. */
function someBigField(value: unknown): boolean {
  if (value instanceof Uint8Array) return value.byteLength >= SLICED_FIELD_BYTES_MIN;
  if (Array.isArray(value)) return value.some(someBigField);
  if (value !== null && typeof value === "object") {
    for (const name in value) if (someBigField((value as Record<string, unknown>)[name])) return true;
  }
  return false;
}

/**
 * encodeCommand for a command holding big byte fields (a 16 MiB SET), the same bytes without holding the event
 * loop: the command is packed with each big field replaced by a unique 16-byte placeholder, and the entry is then
 * assembled around them — the small parts at once, each big field a SLICE_BYTES slice per `nextTurn`. msgpackr
 * copying a 16 MiB value, then the copy into the entry, held the leader's loop ~160 ms (issue 10). If a
 * placeholder's bytes also occur elsewhere in the packed command (a client's key made to look like one), it falls
 * back to encodeCommand.
 */
export async function encodeCommandInSlices(command: Command, nextTurn: () => Promise<void>): Promise<Uint8Array> {
  if (command.op === "redis") {
    // Format 2 leaves each big argument's bytes to copy here, a slice per turn.
    const deferred: DeferredArgument[] = [];
    const data = runSteps(encodeCommandSteps(command, deferred));
    await copyInSlices(data, deferred, nextTurn);
    return data;
  }
  validateCommand(command);
  const bigFields: { readonly placeholder: Uint8Array; readonly bytes: Uint8Array }[] = [];
  const substituted = substituteBigFields(command, (bytes) => {
    const placeholder = new Uint8Array(PLACEHOLDER_BYTES);
    placeholder.set(PLACEHOLDER_MAGIC);
    new DataView(placeholder.buffer).setUint32(PLACEHOLDER_MAGIC.length, bigFields.length);
    bigFields.push({ placeholder, bytes });
    return placeholder;
  });
  if (bigFields.length === 0) return encodeCommand(command);
  const body = Buffer.from(packr.pack(substituted, RESET_BUFFER_MODE)); // msgpackr's shared buffer: read it now
  const at: number[] = [];
  for (const { placeholder } of bigFields) {
    const found = body.indexOf(placeholder);
    const unique = found >= 2 && body.indexOf(placeholder, found + 1) === -1;
    if (!unique || body[found - 2] !== BIN8 || body[found - 1] !== PLACEHOLDER_BYTES) return encodeCommand(command);
    at.push(found);
  }
  let size = 1 + body.length;
  for (const { bytes } of bigFields) size += bytes.byteLength + 5 - (2 + PLACEHOLDER_BYTES);
  if (size > COMMAND_LIMITS.entrySizeBytesMax) throw entryTooLarge();
  const data = new Uint8Array(size);
  data[0] = COMMAND_FORMAT_V1;
  // The small parts first: `body` is ours, but the big fields are copied across turns.
  const copies: { readonly offset: number; readonly bytes: Uint8Array }[] = [];
  let from = 0;
  let offset = 1;
  bigFields.forEach(({ bytes }, i) => {
    const headerAt = (at[i] as number) - 2;
    data.set(body.subarray(from, headerAt), offset);
    offset += headerAt - from;
    data[offset] = BIN32;
    new DataView(data.buffer).setUint32(offset + 1, bytes.byteLength);
    offset += 5;
    copies.push({ offset, bytes });
    offset += bytes.byteLength;
    from = headerAt + 2 + PLACEHOLDER_BYTES;
  });
  data.set(body.subarray(from), offset);
  await copyInSlices(data, copies, nextTurn);
  return data;
}

/** Copies each of `copies` into `data` at its offset, SLICE_BYTES per turn. */
async function copyInSlices(
  data: Uint8Array,
  copies: readonly DeferredArgument[],
  nextTurn: () => Promise<void>,
): Promise<void> {
  for (const copy of copies) {
    for (let done = 0; done < copy.bytes.byteLength; done += SLICE_BYTES) {
      await nextTurn();
      data.set(copy.bytes.subarray(done, done + SLICE_BYTES), copy.offset + done);
    }
  }
}

/** A copy of `value` (a command) with every byte field of SLICED_FIELD_BYTES_MIN or more replaced by `replace`'s
 * answer; smaller fields and other values are kept as they are. */
function substituteBigFields(value: unknown, replace: (bytes: Uint8Array) => Uint8Array): unknown {
  if (value instanceof Uint8Array) return value.byteLength >= SLICED_FIELD_BYTES_MIN ? replace(value) : value;
  if (Array.isArray(value)) return value.map((item) => substituteBigFields(item, replace));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(value)) out[name] = substituteBigFields(field, replace);
    return out;
  }
  return value;
}

/** Decodes and validates an entry's data. Throws ShoalError (BAD_REQUEST, TOO_LARGE) when it is not a valid
 * command; apply turns that into an `error` result, identically on every replica. */
export function decodeCommand(data: Uint8Array): Command {
  return runSteps(decodeCommandSteps(data));
}

/** decodeCommand as steps: an entry in format 2 (many arguments) is read and validated a bounded number of
 * arguments per step. */
export function* decodeCommandSteps(data: Uint8Array): Steps<Command> {
  if (data.length === 0) throw new ShoalError("BAD_REQUEST", "Cannot decode command: entry is empty");
  if (data.length > COMMAND_LIMITS.entrySizeBytesMax) throw entryTooLarge();
  if (data[0] === COMMAND_FORMAT_PACKED_ARGVS) return yield* decodePackedCommandSteps(data);
  if (data[0] !== COMMAND_FORMAT_V1) {
    throw new ShoalError("BAD_REQUEST", `Cannot decode command: unknown format ${data[0]}`);
  }
  // Views only when the entry owns its buffer (not a slice of, say, a WAL segment read whole).
  const view = data.length >= VIEW_BYTES_MIN && ownsBuffer(data);
  // A plain Uint8Array over the body, not a Buffer: msgpackr's byte fields then come out plain too (it slices its
  // input), so `plainBytes` has nothing to wrap — one object per field instead of two, 200,000 fewer for an MSET
  // of 100,000 keys (issue 10: their garbage collection held a replica's loop for ~150 ms).
  const body = new Uint8Array(data.buffer, data.byteOffset + 1, data.byteLength - 1);
  const command = readCommand(new Fields(unpackOrRefuse(view ? viewingUnpackr : unpackr, body), "command"));
  yield* validateCommandSteps(command);
  return command;
}

function* decodePackedCommandSteps(data: Uint8Array): Steps<Command> {
  // The arguments stay views of the entry: copy it first if it is a slice of a bigger buffer, which they would pin.
  const own = ownsBuffer(data) ? data : Uint8Array.prototype.slice.call(data);
  const { header, argvs } = yield* decodePackedArgvsSteps(own, COMMAND_LIMITS.redisCommandsCountMax);
  const f = new Fields(unpackOrRefuse(unpackr, header), "command");
  if (f.string("op") !== "redis") throw f.error("format 2 holds only redis commands");
  const command: RedisCommand = { op: "redis", nowMs: f.number("nowMs"), argvs, ...readWatches(f) };
  yield* validateCommandSteps(command);
  return command;
}

function ownsBuffer(data: Uint8Array): boolean {
  return data.byteLength * 2 >= data.buffer.byteLength;
}

function unpackOrRefuse(unpacker: Unpackr, bytes: Uint8Array): unknown {
  try {
    return unpacker.unpack(bytes);
  } catch (error) {
    throw new ShoalError("BAD_REQUEST", `Cannot decode command: ${(error as Error).message}`);
  }
}

function readWatches(f: Fields): Pick<RedisCommand, "watches"> {
  const watches = f.optionalArray("watches")?.map((w, i) => {
    const watch = new Fields(w, `watches[${i}]`);
    return { key: watch.bytes("key"), modRevision: watch.number("modRevision") };
  });
  return optional("watches", watches);
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
    case "evict":
      return {
        op,
        keys: f.array("keys").map((key, i) => bytesOf(key, `keys[${i}]`)),
        modRevisions: f.array("modRevisions").map((revision, i) => {
          if (typeof revision !== "number") throw f.error(`modRevisions[${i}] is not a number`);
          return revision;
        }),
        nowMs,
      };
    case "txn":
      return {
        op,
        nowMs,
        compares: f.array("compares").map((c, i) => readCompare(new Fields(c, `compares[${i}]`))),
        success: f.array("success").map((o, i) => readTxnOp(new Fields(o, `success[${i}]`))),
        failure: f.array("failure").map((o, i) => readTxnOp(new Fields(o, `failure[${i}]`))),
      };
    case "redis": {
      // In place and without a label per argument: an MSET of 100,000 keys decodes 200,000 of them on every
      // replica, and a template string for each (made only for an error that never comes) cost tens of ms.
      const argvs = f.array("argvs") as unknown[][];
      for (let i = 0; i < argvs.length; i++) {
        const argv = argvs[i];
        if (!Array.isArray(argv)) throw f.error(`argvs[${i}] is not an array`);
        for (let j = 0; j < argv.length; j++) {
          const arg: unknown = argv[j];
          if (!(arg instanceof Uint8Array)) throw notBytes(`argvs[${i}][${j}]`);
          argv[j] = plainBytes(arg);
        }
      }
      // Every element was checked (and made plain bytes) above.
      return { op, nowMs, argvs: argvs as Uint8Array[][], ...readWatches(f) };
    }
    case "slot":
      return readSlotCommand(f, nowMs);
    default:
      throw new ShoalError("BAD_REQUEST", `Cannot decode command: unknown op ${JSON.stringify(op)}`);
  }
}

const SLOT_ACTIONS: readonly string[] = [
  "freeze",
  "importStart",
  "import",
  "importDone",
  "handOff",
  "drop",
] satisfies SlotAction[];

function readSlotCommand(f: Fields, nowMs: number): SlotCommand {
  const action = f.string("action");
  if (!SLOT_ACTIONS.includes(action)) throw f.error(`unknown slot action ${JSON.stringify(action)}`);
  const argvs = f.optionalArray("argvs")?.map((argv, i) => {
    if (!Array.isArray(argv)) throw f.error(`argvs[${i}] is not an array`);
    return argv.map((arg: unknown, j) => bytesOf(arg, `argvs[${i}][${j}]`));
  });
  const keys = f.optionalArray("keys")?.map((key, i) => bytesOf(key, `keys[${i}]`));
  return {
    op: "slot",
    nowMs,
    action: action as SlotAction,
    move: f.number("move"),
    slots: f.array("slots").map((slot, i) => {
      if (typeof slot !== "number") throw f.error(`slots[${i}] is not a number`);
      return slot;
    }),
    ...optional("shard", f.optionalNumber("shard")),
    ...optional("argvs", argvs),
    ...optional("revisionFloor", f.optionalNumber("revisionFloor")),
    ...optional("keys", keys),
  };
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
  if (!(value instanceof Uint8Array)) throw notBytes(what);
  return plainBytes(value);
}

function notBytes(what: string): ShoalError {
  return new ShoalError("BAD_REQUEST", `Cannot decode command: ${what} is not bytes`);
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
