/**
 * @module The hash commands (HSET … HSCAN), with redis-server 7.0.15's metadata, replies and error texts.
 *
 * Field order: a hash keeps its fields in insertion order (an update keeps a field in place, HDEL closes the
 * gap), which is the order redis-server answers in while a hash is listpack-encoded: at most 128 fields
 * (`hash-max-listpack-entries`) and no field or value longer than 64 bytes (`hash-max-listpack-value`). Beyond
 * that Redis converts to a hashtable and answers in hash order; we keep insertion order (docs/redis-compat.md).
 *
 * Each handler parses and validates all of its arguments, in Redis's order (so the same bad command gets the
 * same error), before it writes anything.
 */
import { ShoalError } from "../../../lib/errors.js";
import type { Random } from "../../../lib/prng.js";
import { keyFromId, keyId } from "../../bytes.js";
import { fitsInt64, int64Arg, isKeyword, parseFloatArg, parseInt64, syntaxError } from "../args.js";
import { type CommandSpec, ONE_KEY } from "../command-spec.js";
import { formatHumanFloat } from "../float-format.js";
import { globMatch } from "../glob.js";
import type { HashFields } from "../hash-value.js";
import type { Keyspace } from "../keyspace.js";
import { array, bulk, bulkOrNull, integer, NULL, OK, type Reply } from "../reply.js";
import { parseScanCursor, parseScanOptions } from "./scan-args.js";

const INT64_MAX = 2n ** 63n - 1n;
/** Redis's `-LONG_MAX/2` and `LONG_MAX/2` (C division truncates), HRANDFIELD's bounds with WITHVALUES. */
const WITHVALUES_COUNT_MIN = -(INT64_MAX / 2n);
const WITHVALUES_COUNT_MAX = INT64_MAX / 2n;
/**
 * Deliberate difference: redis-server tries to answer any negative HRANDFIELD count (-9223372036854775807
 * exhausts its memory and kills it). A reply must fit a node, so we refuse more than this many draws.
 */
export const RANDOM_FIELDS_WITH_REPEATS_MAX = 1_048_576;

const emptyArray = array([]);
const textEncoder = new TextEncoder();

function newHash(): HashFields {
  return new Map();
}

// ---------------------------------------------------------------------------------------------------------
// Argument helpers

function arg(argv: readonly Uint8Array[], index: number): Uint8Array {
  const value = argv[index];
  if (value === undefined) throw new ShoalError("INTERNAL", `argument ${index} missing after the arity check`);
  return value;
}

/** Redis's `addReplyErrorArity` for HSET/HMSET with a field and no value: the command's name in lower case. */
function arityError(name: string): ShoalError {
  return new ShoalError("BAD_REQUEST", `wrong number of arguments for '${name}' command`);
}

function notInteger(): ShoalError {
  return new ShoalError("BAD_REQUEST", "hash value is not an integer");
}

function overflow(): ShoalError {
  return new ShoalError("BAD_REQUEST", "increment or decrement would overflow");
}

// ---------------------------------------------------------------------------------------------------------
// Handlers

/** HSET and HMSET: field/value pairs after the key; the count of new fields (HSET) or OK (HMSET). */
function setFields(name: string, keyspace: Keyspace, argv: readonly Uint8Array[]): number {
  if (argv.length % 2 !== 0) throw arityError(name);
  const key = arg(argv, 1);
  const fields = keyspace.getHash(key) ?? newHash();
  let added = 0;
  for (let i = 2; i < argv.length; i += 2) {
    const id = keyId(arg(argv, i));
    if (!fields.has(id)) added++;
    fields.set(id, arg(argv, i + 1)); // Map.set on an existing id keeps its place, as the listpack does
  }
  keyspace.setHash(key, fields);
  return added;
}

function hget(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  return bulkOrNull(keyspace.getHash(arg(argv, 1))?.get(keyId(arg(argv, 2))));
}

function hmget(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  const fields = keyspace.getHash(arg(argv, 1));
  return array(argv.slice(2).map((field) => bulkOrNull(fields?.get(keyId(field)))));
}

function hdel(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  const key = arg(argv, 1);
  const fields = keyspace.getHash(key);
  if (fields === undefined) return integer(0);
  let deleted = 0;
  for (const field of argv.slice(2)) if (fields.delete(keyId(field))) deleted++;
  // Redis writes (and touches WATCHed keys) only when something was deleted.
  if (deleted > 0) keyspace.setHash(key, fields);
  return integer(deleted);
}

function hgetall(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  const fields = keyspace.getHash(arg(argv, 1)) ?? newHash();
  return { kind: "map", entries: [...fields].map(([id, value]) => [bulk(keyFromId(id)), bulk(value)] as const) };
}

function hkeys(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  const fields = keyspace.getHash(arg(argv, 1));
  return array([...(fields?.keys() ?? [])].map((id) => bulk(keyFromId(id))));
}

function hvals(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  const fields = keyspace.getHash(arg(argv, 1));
  return array([...(fields?.values() ?? [])].map((value) => bulk(value)));
}

function hincrby(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  const key = arg(argv, 1);
  const id = keyId(arg(argv, 2));
  const increment = int64Arg(arg(argv, 3)); // Redis parses the increment before looking at the key
  const fields = keyspace.getHash(key) ?? newHash();
  const current = fields.get(id);
  let base = 0n;
  if (current !== undefined) {
    const parsed = parseInt64(current);
    if (parsed === undefined) throw notInteger();
    base = parsed;
  }
  const result = base + increment;
  if (!fitsInt64(result)) throw overflow();
  fields.set(id, textEncoder.encode(result.toString()));
  keyspace.setHash(key, fields);
  return integer(result);
}

function hincrbyfloat(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  const key = arg(argv, 1);
  const id = keyId(arg(argv, 2));
  const increment = parseFloatArg(arg(argv, 3));
  if (increment === undefined) throw new ShoalError("BAD_REQUEST", "value is not a valid float");
  // Redis 7.0 refuses an infinite increment before it looks at the key.
  if (!Number.isFinite(increment)) throw new ShoalError("BAD_REQUEST", "value is NaN or Infinity");
  const fields = keyspace.getHash(key) ?? newHash();
  const current = fields.get(id);
  let base = 0;
  if (current !== undefined) {
    const parsed = parseFloatArg(current);
    if (parsed === undefined) throw new ShoalError("BAD_REQUEST", "hash value is not a float");
    base = parsed;
  }
  const result = base + increment;
  if (!Number.isFinite(result)) {
    throw new ShoalError("BAD_REQUEST", "increment would produce NaN or Infinity");
  }
  const formatted = textEncoder.encode(formatHumanFloat(result));
  fields.set(id, formatted);
  keyspace.setHash(key, fields);
  return bulk(formatted);
}

function hsetnx(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  const key = arg(argv, 1);
  const id = keyId(arg(argv, 2));
  const fields = keyspace.getHash(key) ?? newHash();
  if (fields.has(id)) return integer(0); // no write: Redis leaves the key (and its WATCHers) untouched
  fields.set(id, arg(argv, 3));
  keyspace.setHash(key, fields);
  return integer(1);
}

/** HRANDFIELD key [count [WITHVALUES]], Redis 7 semantics (see hrandfieldCommand in t_hash.c). */
function hrandfield(keyspace: Keyspace, random: Random, argv: readonly Uint8Array[]): Reply {
  const key = arg(argv, 1);
  if (argv.length === 2) {
    const fields = keyspace.getHash(key);
    if (fields === undefined) return NULL;
    const ids = [...fields.keys()];
    return bulk(keyFromId(ids[random.int(ids.length)] as string));
  }
  const count = parseRandomCount(argv);
  const withValues = argv.length === 4;
  const fields = keyspace.getHash(key);
  if (fields === undefined || count === 0n) return emptyArray;
  const entries = [...fields];
  let picked: (readonly [string, Uint8Array])[];
  if (count < 0n) {
    // Negative: -count independent draws, repeats allowed, in draw order.
    if (-count > BigInt(RANDOM_FIELDS_WITH_REPEATS_MAX)) {
      throw new ShoalError(
        "BAD_REQUEST",
        `value is out of range, Shoal draws at most ${RANDOM_FIELDS_WITH_REPEATS_MAX} fields with repeats`,
      );
    }
    picked = [];
    for (let i = 0n; i < -count; i++) picked.push(entries[random.int(entries.length)] as [string, Uint8Array]);
  } else if (count >= BigInt(entries.length)) {
    picked = entries; // the whole hash, in its order (Redis iterates the hash)
  } else {
    picked = distinctSample(entries, Number(count), random);
  }
  // WITHVALUES: RESP3 answers [field, value] pairs, RESP2 one flat array (the "pairs" reply does both).
  if (withValues) return { kind: "pairs", pairs: picked.map(([id, value]) => [bulk(keyFromId(id)), bulk(value)]) };
  return array(picked.map(([id]) => bulk(keyFromId(id))));
}

/** HRANDFIELD's count as Redis checks it: an integer in ±LONG_MAX, then WITHVALUES, then its tighter range. */
function parseRandomCount(argv: readonly Uint8Array[]): bigint {
  const count = int64Arg(arg(argv, 2));
  if (count < -INT64_MAX) {
    throw new ShoalError("BAD_REQUEST", `value is out of range, value must between ${-INT64_MAX} and ${INT64_MAX}`);
  }
  if (argv.length > 4 || (argv.length === 4 && !isKeyword(arg(argv, 3), "WITHVALUES"))) throw syntaxError();
  if (argv.length === 4 && (count < WITHVALUES_COUNT_MIN || count > WITHVALUES_COUNT_MAX)) {
    throw new ShoalError("BAD_REQUEST", "value is out of range");
  }
  return count;
}

/** `count` distinct entries chosen uniformly (a partial Fisher–Yates over positions), kept in hash order like
 * Redis's listpack sampling (`lpRandomPairsUnique`). */
function distinctSample<T>(entries: readonly T[], count: number, random: Random): T[] {
  const positions = entries.map((_, index) => index);
  for (let i = 0; i < count; i++) {
    const j = i + random.int(positions.length - i);
    [positions[i], positions[j]] = [positions[j] as number, positions[i] as number];
  }
  return positions
    .slice(0, count)
    .sort((a, b) => a - b)
    .map((index) => entries[index] as T);
}

/**
 * HSCAN key cursor [MATCH pattern] [COUNT count]. Like redis-server for a listpack-encoded hash, we answer
 * every matching field in one reply with cursor 0 — for hashes of every size (a hash is one record, already
 * read whole), so COUNT is validated and otherwise ignored and any cursor Redis accepts is accepted. Redis's
 * order of checks: the cursor, then the key (a missing key answers an empty scan before the options are read),
 * then the options.
 */
function hscan(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  parseScanCursor(arg(argv, 2));
  const fields = keyspace.getHash(arg(argv, 1));
  if (fields === undefined) return array([bulk("0"), emptyArray]);
  const { match } = parseScanOptions(argv, 3, false);
  const items: Reply[] = [];
  for (const [id, value] of fields) {
    const field = keyFromId(id);
    if (match !== undefined && !globMatch(match, field)) continue;
    items.push(bulk(field), bulk(value));
  }
  return array([bulk("0"), array(items)]);
}

// ---------------------------------------------------------------------------------------------------------
// The table: metadata from redis-server 7.0.15's COMMAND INFO and COMMAND DOCS.

export const hashCommands: readonly CommandSpec[] = [
  {
    name: "hset",
    arity: -4,
    flags: ["write", "denyoom", "fast"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Set the string value of a hash field",
    since: "2.0.0",
    complexity:
      "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
    syntax: "key field value [field value ...]",
    handler: ({ keyspace }, argv) => integer(setFields("hset", keyspace, argv)),
  },
  {
    name: "hget",
    arity: 3,
    flags: ["readonly", "fast"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Get the value of a hash field",
    since: "2.0.0",
    complexity: "O(1)",
    syntax: "key field",
    handler: ({ keyspace }, argv) => hget(keyspace, argv),
  },
  {
    name: "hmget",
    arity: -3,
    flags: ["readonly", "fast"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Get the values of all the given hash fields",
    since: "2.0.0",
    complexity: "O(N) where N is the number of fields being requested.",
    syntax: "key field [field ...]",
    handler: ({ keyspace }, argv) => hmget(keyspace, argv),
  },
  {
    // Deprecated since 4.0.0 (HSET takes several pairs); COMMAND DOCS says so, our spec has no field for it.
    name: "hmset",
    arity: -4,
    flags: ["write", "denyoom", "fast"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Set multiple hash fields to multiple values",
    since: "2.0.0",
    complexity: "O(N) where N is the number of fields being set.",
    syntax: "key field value [field value ...]",
    handler: ({ keyspace }, argv) => {
      setFields("hmset", keyspace, argv);
      return OK;
    },
  },
  {
    name: "hdel",
    arity: -3,
    flags: ["write", "fast"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Delete one or more hash fields",
    since: "2.0.0",
    complexity: "O(N) where N is the number of fields to be removed.",
    syntax: "key field [field ...]",
    handler: ({ keyspace }, argv) => hdel(keyspace, argv),
  },
  {
    name: "hgetall",
    arity: 2,
    flags: ["readonly"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Get all the fields and values in a hash",
    since: "2.0.0",
    complexity: "O(N) where N is the size of the hash.",
    syntax: "key",
    differences: "Fields in insertion order at every size (Redis: only below 128 fields / 64-byte values).",
    handler: ({ keyspace }, argv) => hgetall(keyspace, argv),
  },
  {
    name: "hkeys",
    arity: 2,
    flags: ["readonly"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Get all the fields in a hash",
    since: "2.0.0",
    complexity: "O(N) where N is the size of the hash.",
    syntax: "key",
    handler: ({ keyspace }, argv) => hkeys(keyspace, argv),
  },
  {
    name: "hvals",
    arity: 2,
    flags: ["readonly"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Get all the values in a hash",
    since: "2.0.0",
    complexity: "O(N) where N is the size of the hash.",
    syntax: "key",
    handler: ({ keyspace }, argv) => hvals(keyspace, argv),
  },
  {
    name: "hlen",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Get the number of fields in a hash",
    since: "2.0.0",
    complexity: "O(1)",
    syntax: "key",
    handler: ({ keyspace }, argv) => integer(keyspace.getHash(arg(argv, 1))?.size ?? 0),
  },
  {
    name: "hexists",
    arity: 3,
    flags: ["readonly", "fast"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Determine if a hash field exists",
    since: "2.0.0",
    complexity: "O(1)",
    syntax: "key field",
    handler: ({ keyspace }, argv) => integer(keyspace.getHash(arg(argv, 1))?.has(keyId(arg(argv, 2))) ? 1 : 0),
  },
  {
    name: "hstrlen",
    arity: 3,
    flags: ["readonly", "fast"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Get the length of the value of a hash field",
    since: "3.2.0",
    complexity: "O(1)",
    syntax: "key field",
    handler: ({ keyspace }, argv) => integer(keyspace.getHash(arg(argv, 1))?.get(keyId(arg(argv, 2)))?.byteLength ?? 0),
  },
  {
    name: "hincrby",
    arity: 4,
    flags: ["write", "denyoom", "fast"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Increment the integer value of a hash field by the given number",
    since: "2.0.0",
    complexity: "O(1)",
    syntax: "key field increment",
    handler: ({ keyspace }, argv) => hincrby(keyspace, argv),
  },
  {
    name: "hincrbyfloat",
    arity: 4,
    flags: ["write", "denyoom", "fast"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Increment the float value of a hash field by the given amount",
    since: "2.6.0",
    complexity: "O(1)",
    syntax: "key field increment",
    differences: "Computes in double, not long double (see INCRBYFLOAT).",
    handler: ({ keyspace }, argv) => hincrbyfloat(keyspace, argv),
  },
  {
    name: "hsetnx",
    arity: 4,
    flags: ["write", "denyoom", "fast"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Set the value of a hash field, only if the field does not exist",
    since: "2.0.0",
    complexity: "O(1)",
    syntax: "key field value",
    handler: ({ keyspace }, argv) => hsetnx(keyspace, argv),
  },
  {
    name: "hrandfield",
    arity: -2,
    flags: ["readonly"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Get one or multiple random fields from a hash",
    since: "6.2.0",
    complexity: "O(N) where N is the number of fields returned",
    syntax: "key [count [WITHVALUES]]",
    differences: "Negative counts beyond 1,048,576 are refused (they crash redis-server 7.0.15).",
    handler: ({ keyspace, random }, argv) => hrandfield(keyspace, random, argv),
  },
  {
    name: "hscan",
    arity: -3,
    flags: ["readonly"],
    keys: ONE_KEY,
    group: "hash",
    summary: "Incrementally iterate hash fields and associated values",
    since: "2.8.0",
    complexity:
      "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
    syntax: "key cursor [MATCH pattern] [COUNT count]",
    differences:
      "Answers every matching field in one reply with cursor 0, for hashes of any size (Redis does so for small hashes only).",
    handler: ({ keyspace }, argv) => hscan(keyspace, argv),
  },
];
