/**
 * @module The string commands (Redis's t_string.c): values are byte strings; the counters read and write them
 * as decimal text, as Redis does. Metadata is redis-server 7.0's COMMAND INFO / COMMAND DOCS.
 */
import { ShoalError } from "../../../lib/errors.js";
import type { Keyspace } from "../../keyspace/keyspace.js";
import { checkValueLength } from "../../limits.js";
import { fitsInt64, floatArg, int64Arg, NOT_A_FLOAT, NOT_AN_INTEGER, parseFloatArg, parseInt64 } from "../args.js";
import type { DataCommand, DataHandler, KeyPositions } from "../command-spec.js";
import { ALL_KEYS, commandFamily, ONE_KEY, withDifferences } from "../command-spec.js";
import { formatHumanFloat } from "../float-format.js";
import { array, bulk, bulkOrNull, integer, NULL, OK, type Reply } from "../reply.js";
import { type ExpireUnit, parseStringOptions, setExpiryAtMs } from "./expiry-args.js";

const textEncoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
const INT64_MIN = -(2n ** 63n);
const PAIRS: KeyPositions = { first: 1, last: -1, step: 2 };

function key(argv: readonly Uint8Array[]): Uint8Array {
  return argv[1] as Uint8Array;
}

function arg(argv: readonly Uint8Array[], index: number): Uint8Array {
  return argv[index] as Uint8Array;
}

/** An integer reply: a number when it is exact in a double, the bigint otherwise. */
function int64Reply(value: bigint): Reply {
  return integer(Number.isSafeInteger(Number(value)) ? Number(value) : value);
}

/** Redis checks a string's resulting length against `proto-max-bulk-len` (512 MiB by default), before it
 * allocates; our bound is the replicated value limit (16 MiB, `shoal-value-max-bytes`). A documented difference.
 * The keyspace checks the value it writes again; this only spares building one that cannot be written. */
const checkStringLength = (total: number): void => checkValueLength(total);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

// ---- handlers ---------------------------------------------------------------------------------------------

const get: DataHandler = ({ keyspace }, argv) => bulkOrNull(keyspace.getString(key(argv)));

/** SET: the expiry is validated first, then GET reads the old value (WRONGTYPE aborts), then NX/XX decide. */
const set: DataHandler = ({ keyspace }, argv) => {
  const options = parseStringOptions(argv, "set");
  const expiresAtMs = options.expire === undefined ? undefined : setExpiryAtMs(options.expire, keyspace.nowMs, "set");
  const old = options.get ? bulkOrNull(keyspace.getString(key(argv))) : undefined;
  const found = keyspace.exists(key(argv));
  if ((options.nx && found) || (options.xx && !found)) return old ?? NULL;
  keyspace.setString(key(argv), arg(argv, 2), expiresAtMs ?? (options.keepTtl ? "keep" : 0));
  return old ?? OK;
};

const setnx: DataHandler = ({ keyspace }, argv) => {
  if (keyspace.exists(key(argv))) return integer(0);
  keyspace.setString(key(argv), arg(argv, 2), 0);
  return integer(1);
};

function setWithExpiry(unit: ExpireUnit, command: string): DataHandler {
  return ({ keyspace }, argv) => {
    const expiresAtMs = setExpiryAtMs({ unit, arg: arg(argv, 2) }, keyspace.nowMs, command);
    keyspace.setString(key(argv), arg(argv, 3), expiresAtMs);
    return OK;
  };
}

/** GETSET: like SET … GET, and like SET it clears the TTL. */
const getset: DataHandler = ({ keyspace }, argv) => {
  const old = keyspace.getString(key(argv));
  keyspace.setString(key(argv), arg(argv, 2), 0);
  return bulkOrNull(old);
};

const getdel: DataHandler = ({ keyspace }, argv) => {
  const value = keyspace.getString(key(argv));
  if (value !== undefined) keyspace.delete(key(argv));
  return bulkOrNull(value);
};

/** GETEX: options first (syntax), then the key (nil when absent, before the expiry's value is checked), then
 * the expiry. PERSIST touches the key only when it has an expiry (Redis's removeExpire). */
const getex: DataHandler = ({ keyspace }, argv) => {
  const options = parseStringOptions(argv, "getex");
  const value = keyspace.getString(key(argv));
  if (value === undefined) return NULL;
  if (options.expire !== undefined) {
    // An EXAT/PXAT at or before now deletes the key (the keyspace does so for a past expiry).
    keyspace.setExpiry(key(argv), setExpiryAtMs(options.expire, keyspace.nowMs, "getex"));
  } else if (options.persist && (keyspace.expiresAtMs(key(argv)) ?? 0) !== 0) {
    keyspace.setExpiry(key(argv), 0);
  }
  return bulk(value);
};

/** MGET: a key of another type answers nil, not WRONGTYPE. */
const mget: DataHandler = ({ keyspace }, argv) =>
  array(
    argv.slice(1).map((name) => {
      const record = keyspace.lookup(name);
      return record?.type === "string" ? bulk(record.value) : NULL;
    }),
  );

function checkPairs(argv: readonly Uint8Array[], command: string): void {
  if ((argv.length - 1) % 2 !== 0) {
    throw new ShoalError("BAD_REQUEST", `wrong number of arguments for '${command}' command`);
  }
}

function setPairs(keyspace: Keyspace, argv: readonly Uint8Array[]): void {
  for (let i = 1; i < argv.length; i += 2) keyspace.setString(arg(argv, i), arg(argv, i + 1), 0);
}

const mset: DataHandler = ({ keyspace }, argv) => {
  checkPairs(argv, "mset");
  setPairs(keyspace, argv);
  return OK;
};

/** MSETNX: nothing is set when any key exists, whatever its type. */
const msetnx: DataHandler = ({ keyspace }, argv) => {
  checkPairs(argv, "msetnx");
  for (let i = 1; i < argv.length; i += 2) if (keyspace.exists(arg(argv, i))) return integer(0);
  setPairs(keyspace, argv);
  return integer(1);
};

/** APPEND keeps the TTL; on a missing key it creates one without expiry. */
const append: DataHandler = ({ keyspace }, argv) => {
  const current = keyspace.getString(key(argv)) ?? EMPTY;
  const addition = arg(argv, 2);
  checkStringLength(current.byteLength + addition.byteLength);
  const value = concat(current, addition);
  keyspace.setString(key(argv), value, "keep");
  return integer(value.byteLength);
};

const strlen: DataHandler = ({ keyspace }, argv) => integer(keyspace.getString(key(argv))?.byteLength ?? 0);

/** GETRANGE: both bounds are parsed before the key is read; negative bounds count from the end. */
const getrange: DataHandler = ({ keyspace }, argv) => {
  let start = int64Arg(arg(argv, 2));
  let end = int64Arg(arg(argv, 3));
  const value = keyspace.getString(key(argv)) ?? EMPTY;
  const length = BigInt(value.byteLength);
  if (start < 0n && end < 0n && start > end) return bulk(EMPTY);
  if (start < 0n) start += length;
  if (end < 0n) end += length;
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= length) end = length - 1n;
  if (start > end || length === 0n) return bulk(EMPTY);
  return bulk(value.subarray(Number(start), Number(end) + 1));
};

/** SETRANGE: pads with zero bytes; an empty value writes nothing and answers the current length. */
const setrange: DataHandler = ({ keyspace }, argv) => {
  const offset = int64Arg(arg(argv, 2));
  if (offset < 0n) throw new ShoalError("BAD_REQUEST", "offset is out of range");
  const patch = arg(argv, 3);
  const current = keyspace.getString(key(argv));
  if (patch.byteLength === 0) return integer(current?.byteLength ?? 0);
  const end = offset + BigInt(patch.byteLength);
  checkStringLength(end > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(end));
  const value = new Uint8Array(Math.max(current?.byteLength ?? 0, Number(end)));
  if (current !== undefined) value.set(current, 0);
  value.set(patch, Number(offset));
  keyspace.setString(key(argv), value, "keep");
  return integer(value.byteLength);
};

/** INCR and friends: the stored string must read as an int64 (Redis's string2ll); the TTL is kept. */
function incrementBy(keyspace: Keyspace, name: Uint8Array, delta: bigint): Reply {
  const current = keyspace.getString(name);
  const value = current === undefined ? 0n : parseInt64(current);
  if (value === undefined) throw new ShoalError("BAD_REQUEST", NOT_AN_INTEGER);
  const result = value + delta;
  if (!fitsInt64(result)) throw new ShoalError("BAD_REQUEST", "increment or decrement would overflow");
  keyspace.setString(name, textEncoder.encode(result.toString()), "keep");
  return int64Reply(result);
}

const incr: DataHandler = ({ keyspace }, argv) => incrementBy(keyspace, key(argv), 1n);
const decr: DataHandler = ({ keyspace }, argv) => incrementBy(keyspace, key(argv), -1n);
const incrby: DataHandler = ({ keyspace }, argv) => incrementBy(keyspace, key(argv), int64Arg(arg(argv, 2)));
const decrby: DataHandler = ({ keyspace }, argv) => {
  const decrement = int64Arg(arg(argv, 2));
  // Negating int64's minimum overflows: Redis refuses it before reading the key.
  if (decrement === INT64_MIN) throw new ShoalError("BAD_REQUEST", "decrement would overflow");
  return incrementBy(keyspace, key(argv), -decrement);
};

/** INCRBYFLOAT: the key is type-checked and read before the increment is parsed (Redis's order). We compute in
 * double where Redis uses long double: see float-format.ts. */
const incrbyfloat: DataHandler = ({ keyspace }, argv) => {
  const current = keyspace.getString(key(argv));
  const value = current === undefined ? 0 : parseFloatArg(current);
  if (value === undefined) throw new ShoalError("BAD_REQUEST", NOT_A_FLOAT);
  const result = value + floatArg(arg(argv, 2));
  if (!Number.isFinite(result)) throw new ShoalError("BAD_REQUEST", "increment would produce NaN or Infinity");
  const printed = textEncoder.encode(formatHumanFloat(result));
  keyspace.setString(key(argv), printed, "keep");
  return bulk(printed);
};

// ---- the table --------------------------------------------------------------------------------------------

const command = commandFamily<DataHandler>("string");

const RANGE_COMPLEXITY =
  "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.";
const O1 = "O(1)";

const commands: readonly DataCommand[] = [
  command(
    "get",
    2,
    ["readonly", "fast"],
    ONE_KEY,
    { summary: "Get the value of a key", since: "1.0.0", complexity: O1, syntax: "key" },
    get,
  ),
  command(
    "set",
    -3,
    ["write", "denyoom"],
    ONE_KEY,
    {
      summary: "Set the string value of a key",
      since: "1.0.0",
      complexity: O1,
      syntax:
        "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]",
    },
    set,
  ),
  command(
    "setnx",
    3,
    ["write", "denyoom", "fast"],
    ONE_KEY,
    {
      summary: "Set the value of a key, only if the key does not exist",
      since: "1.0.0",
      complexity: O1,
      syntax: "key value",
    },
    setnx,
  ),
  command(
    "setex",
    4,
    ["write", "denyoom"],
    ONE_KEY,
    { summary: "Set the value and expiration of a key", since: "2.0.0", complexity: O1, syntax: "key seconds value" },
    setWithExpiry("EX", "setex"),
  ),
  command(
    "psetex",
    4,
    ["write", "denyoom"],
    ONE_KEY,
    {
      summary: "Set the value and expiration in milliseconds of a key",
      since: "2.6.0",
      complexity: O1,
      syntax: "key milliseconds value",
    },
    setWithExpiry("PX", "psetex"),
  ),
  command(
    "getset",
    3,
    ["write", "denyoom", "fast"],
    ONE_KEY,
    {
      summary: "Set the string value of a key and return its old value",
      since: "1.0.0",
      complexity: O1,
      syntax: "key value",
    },
    getset,
  ),
  command(
    "getdel",
    2,
    ["write", "fast"],
    ONE_KEY,
    { summary: "Get the value of a key and delete the key", since: "6.2.0", complexity: O1, syntax: "key" },
    getdel,
  ),
  command(
    "getex",
    -2,
    ["write", "fast"],
    ONE_KEY,
    {
      summary: "Get the value of a key and optionally set its expiration",
      since: "6.2.0",
      complexity: O1,
      syntax: "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]",
    },
    getex,
  ),
  command(
    "mget",
    -2,
    ["readonly", "fast"],
    ALL_KEYS,
    {
      summary: "Get the values of all the given keys",
      since: "1.0.0",
      complexity: "O(N) where N is the number of keys to retrieve.",
      syntax: "key [key ...]",
    },
    mget,
  ),
  command(
    "mset",
    -3,
    ["write", "denyoom"],
    PAIRS,
    {
      summary: "Set multiple keys to multiple values",
      since: "1.0.1",
      complexity: "O(N) where N is the number of keys to set.",
      syntax: "key value [key value ...]",
    },
    mset,
  ),
  command(
    "msetnx",
    -3,
    ["write", "denyoom"],
    PAIRS,
    {
      summary: "Set multiple keys to multiple values, only if none of the keys exist",
      since: "1.0.1",
      complexity: "O(N) where N is the number of keys to set.",
      syntax: "key value [key value ...]",
    },
    msetnx,
  ),
  command(
    "append",
    3,
    ["write", "denyoom", "fast"],
    ONE_KEY,
    {
      summary: "Append a value to a key",
      since: "2.0.0",
      complexity:
        "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
      syntax: "key value",
    },
    append,
  ),
  command(
    "strlen",
    2,
    ["readonly", "fast"],
    ONE_KEY,
    { summary: "Get the length of the value stored in a key", since: "2.2.0", complexity: O1, syntax: "key" },
    strlen,
  ),
  command(
    "getrange",
    4,
    ["readonly"],
    ONE_KEY,
    {
      summary: "Get a substring of the string stored at a key",
      since: "2.4.0",
      complexity: RANGE_COMPLEXITY,
      syntax: "key start end",
    },
    getrange,
  ),
  command(
    "substr",
    4,
    ["readonly"],
    ONE_KEY,
    {
      summary: "Get a substring of the string stored at a key",
      since: "1.0.0",
      complexity: RANGE_COMPLEXITY,
      syntax: "key start end",
    },
    getrange,
  ),
  command(
    "setrange",
    4,
    ["write", "denyoom"],
    ONE_KEY,
    {
      summary: "Overwrite part of a string at key starting at the specified offset",
      since: "2.2.0",
      complexity:
        "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
      syntax: "key offset value",
    },
    setrange,
  ),
  command(
    "incr",
    2,
    ["write", "denyoom", "fast"],
    ONE_KEY,
    { summary: "Increment the integer value of a key by one", since: "1.0.0", complexity: O1, syntax: "key" },
    incr,
  ),
  command(
    "decr",
    2,
    ["write", "denyoom", "fast"],
    ONE_KEY,
    { summary: "Decrement the integer value of a key by one", since: "1.0.0", complexity: O1, syntax: "key" },
    decr,
  ),
  command(
    "incrby",
    3,
    ["write", "denyoom", "fast"],
    ONE_KEY,
    {
      summary: "Increment the integer value of a key by the given amount",
      since: "1.0.0",
      complexity: O1,
      syntax: "key increment",
    },
    incrby,
  ),
  command(
    "decrby",
    3,
    ["write", "denyoom", "fast"],
    ONE_KEY,
    {
      summary: "Decrement the integer value of a key by the given number",
      since: "1.0.0",
      complexity: O1,
      syntax: "key decrement",
    },
    decrby,
  ),
  command(
    "incrbyfloat",
    3,
    ["write", "denyoom", "fast"],
    ONE_KEY,
    {
      summary: "Increment the float value of a key by the given amount",
      since: "2.6.0",
      complexity: O1,
      syntax: "key increment",
    },
    incrbyfloat,
  ),
];

export const stringCommands: readonly DataCommand[] = withDifferences(commands, {
  incrbyfloat:
    "Computes in double, not long double: ordinary results print alike (10.5 + 0.1 = 10.6); results that need the extra precision may differ in the last digits (10.6 + 5000 prints 5010.6, Redis 5010.60000000000000009), and sums beyond the double range are refused.",
  setrange: "Values are limited to 16 MiB (Redis: 512 MiB); the error names `shoal-value-max-bytes`.",
  append: "Values are limited to 16 MiB (Redis: 512 MiB); the error names `shoal-value-max-bytes`.",
});
