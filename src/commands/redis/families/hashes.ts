/**
 * @module The hash commands (HSET … HSCAN), with redis-server 7.0.15's metadata, replies and error texts.
 *
 * Handlers work on a hash through Keyspace.hash (stored-hash.ts) and never see its encoding. Field order: like
 * redis-server, a hash keeps its fields in insertion order (an update keeps a field in place, HDEL closes the
 * gap) while it is compact: at most 128 fields (`hash-max-listpack-entries`) and no field or value longer than
 * 64 bytes (`hash-max-listpack-value`). Beyond that it converts, as Redis does to a hashtable, to one row per
 * field, and answers in its row order, a hash order of its own (hash-value.ts, docs/redis-compat.md).
 *
 * Each handler parses and validates all of its arguments, in Redis's order (so the same bad command gets the
 * same error), before it writes anything.
 */

import { keyId } from "../../../lib/bytes.js";
import { ShoalError } from "../../../lib/errors.js";
import type { Random } from "../../../lib/prng.js";
import type { Keyspace } from "../../keyspace/keyspace.js";
import type { HashEntry, StoredHash } from "../../keyspace/stored-hash.js";
import { fitsInt64, int64Arg, isKeyword, parseFloatArg, parseInt64, syntaxError } from "../args.js";
import { commandFamily, type DataCommand, type DataHandler, ONE_KEY, withDifferences } from "../command-spec.js";
import { formatHumanFloat } from "../float-format.js";
import { globMatch } from "../glob.js";
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

/** HRANDFIELD with repeats reads the whole hash once when it draws at least 1/16 as many fields as it holds. */
const WHOLE_HASH_READ_FACTOR = 16;

const emptyArray = array([]);
const textEncoder = new TextEncoder();

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
  const hash = keyspace.hash(arg(argv, 1));
  const pairs: [Uint8Array, Uint8Array][] = [];
  for (let i = 2; i < argv.length; i += 2) pairs.push([arg(argv, i), arg(argv, i + 1)]);
  return hash.set(pairs);
}

function hget(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  return bulkOrNull(keyspace.hash(arg(argv, 1)).get(arg(argv, 2)));
}

function hmget(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  const hash = keyspace.hash(arg(argv, 1));
  return array(argv.slice(2).map((field) => bulkOrNull(hash.get(field))));
}

function hdel(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  return integer(keyspace.hash(arg(argv, 1)).delete(argv.slice(2)));
}

function hgetall(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  const entries = [...keyspace.hash(arg(argv, 1)).entries()];
  return { kind: "map", entries: entries.map(({ field, value }) => [bulk(field), bulk(value)] as const) };
}

function hkeys(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  return array([...keyspace.hash(arg(argv, 1)).entries()].map(({ field }) => bulk(field)));
}

function hvals(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  return array([...keyspace.hash(arg(argv, 1)).entries()].map(({ value }) => bulk(value)));
}

function hincrby(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  const field = arg(argv, 2);
  const increment = int64Arg(arg(argv, 3)); // Redis parses the increment before looking at the key
  const hash = keyspace.hash(arg(argv, 1));
  const current = hash.get(field);
  let base = 0n;
  if (current !== undefined) {
    const parsed = parseInt64(current);
    if (parsed === undefined) throw notInteger();
    base = parsed;
  }
  const result = base + increment;
  if (!fitsInt64(result)) throw overflow();
  hash.set([[field, textEncoder.encode(result.toString())]]);
  return integer(result);
}

function hincrbyfloat(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  const field = arg(argv, 2);
  const increment = parseFloatArg(arg(argv, 3));
  if (increment === undefined) throw new ShoalError("BAD_REQUEST", "value is not a valid float");
  // Redis 7.0 refuses an infinite increment before it looks at the key.
  if (!Number.isFinite(increment)) throw new ShoalError("BAD_REQUEST", "value is NaN or Infinity");
  const hash = keyspace.hash(arg(argv, 1));
  const current = hash.get(field);
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
  hash.set([[field, formatted]]);
  return bulk(formatted);
}

function hsetnx(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  const hash = keyspace.hash(arg(argv, 1));
  if (hash.get(arg(argv, 2)) !== undefined) return integer(0); // no write: Redis leaves the key (and its WATCHers) untouched
  hash.set([[arg(argv, 2), arg(argv, 3)]]);
  return integer(1);
}

/** HRANDFIELD key [count [WITHVALUES]], Redis 7 semantics (see hrandfieldCommand in t_hash.c). */
function hrandfield(keyspace: Keyspace, random: Random, argv: readonly Uint8Array[]): Reply {
  const key = arg(argv, 1);
  if (argv.length === 2) {
    const hash = keyspace.hash(key);
    return hash.size === 0 ? NULL : bulk(hash.randomEntry(random).field);
  }
  const count = parseRandomCount(argv);
  const withValues = argv.length === 4;
  const hash = keyspace.hash(key);
  if (hash.size === 0 || count === 0n) return emptyArray;
  let picked: HashEntry[];
  if (count < 0n) {
    // Negative: -count independent draws, repeats allowed, in draw order.
    if (-count > BigInt(RANDOM_FIELDS_WITH_REPEATS_MAX)) {
      throw new ShoalError(
        "BAD_REQUEST",
        `value is out of range, Shoal draws at most ${RANDOM_FIELDS_WITH_REPEATS_MAX} fields with repeats`,
      );
    }
    picked = drawWithRepeats(hash, Number(-count), random);
  } else if (count >= BigInt(hash.size)) {
    picked = [...hash.entries()]; // the whole hash, in its order (Redis iterates the hash)
  } else {
    picked = drawDistinct(hash, Number(count), random);
  }
  // WITHVALUES: RESP3 answers [field, value] pairs, RESP2 one flat array (the "pairs" reply does both).
  if (withValues) return { kind: "pairs", pairs: picked.map(({ field, value }) => [bulk(field), bulk(value)]) };
  return array(picked.map(({ field }) => bulk(field)));
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

/** `draws` independent random fields. Many draws against the hash's size read the hash once and pick from it;
 * few draw one at a time (O(log n) each on a table hash), so a small sample of a huge hash stays cheap. */
function drawWithRepeats(hash: StoredHash, draws: number, random: Random): HashEntry[] {
  const picked: HashEntry[] = [];
  if (draws * WHOLE_HASH_READ_FACTOR >= hash.size) {
    const all = [...hash.entries()];
    for (let i = 0; i < draws; i++) picked.push(all[random.int(all.length)] as HashEntry);
  } else {
    for (let i = 0; i < draws; i++) picked.push(hash.randomEntry(random));
  }
  return picked;
}

/**
 * `count` (below the size) distinct fields. Like Redis (hrandfieldWithCountCommand's cases 3 and 4): a count
 * near the size samples from the whole hash, kept in hash order like `lpRandomPairsUnique`; a small count draws
 * random fields until it has that many distinct ones, in draw order.
 */
function drawDistinct(hash: StoredHash, count: number, random: Random): HashEntry[] {
  if (count * 3 > hash.size || hash.encoding === "compact") return distinctSample([...hash.entries()], count, random);
  const picked = new Map<string, HashEntry>();
  while (picked.size < count) {
    const entry = hash.randomEntry(random);
    const id = keyId(entry.field);
    if (!picked.has(id)) picked.set(id, entry);
  }
  return [...picked.values()];
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
 * HSCAN key cursor [MATCH pattern] [COUNT count]. A compact hash answers every matching field in one reply with
 * cursor 0, as redis-server does for a listpack (COUNT validated and otherwise ignored, any cursor Redis accepts
 * accepted). A table hash examines COUNT rows from the cursor, which names a 64-bit position in the hash's row
 * order (stored-hash.ts): valid on every node and across writes. Redis's order of checks: the cursor, then the
 * key (a missing key answers an empty scan before the options are read), then the options.
 */
function hscan(keyspace: Keyspace, argv: readonly Uint8Array[]): Reply {
  const cursor = parseScanCursor(arg(argv, 2));
  const hash = keyspace.hash(arg(argv, 1));
  if (hash.size === 0) return array([bulk("0"), emptyArray]);
  const { match, count } = parseScanOptions(argv, 3, false);
  const step = hash.scan(cursor, count);
  const items: Reply[] = [];
  for (const { field, value } of step.entries) {
    if (match !== undefined && !globMatch(match, field)) continue;
    items.push(bulk(field), bulk(value));
  }
  return array([bulk(step.cursor.toString()), array(items)]);
}

// ---------------------------------------------------------------------------------------------------------
// The table: metadata from redis-server 7.0.15's COMMAND INFO and COMMAND DOCS.

const command = commandFamily<DataHandler>("hash");

const commands: readonly DataCommand[] = [
  command(
    "hset",
    -4,
    ["write", "denyoom", "fast"],
    ONE_KEY,
    {
      summary: "Set the string value of a hash field",
      since: "2.0.0",
      complexity:
        "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
      syntax: "key field value [field value ...]",
    },
    ({ keyspace }, argv) => integer(setFields("hset", keyspace, argv)),
  ),
  command(
    "hget",
    3,
    ["readonly", "fast"],
    ONE_KEY,
    { summary: "Get the value of a hash field", since: "2.0.0", complexity: "O(1)", syntax: "key field" },
    ({ keyspace }, argv) => hget(keyspace, argv),
  ),
  command(
    "hmget",
    -3,
    ["readonly", "fast"],
    ONE_KEY,
    {
      summary: "Get the values of all the given hash fields",
      since: "2.0.0",
      complexity: "O(N) where N is the number of fields being requested.",
      syntax: "key field [field ...]",
    },
    ({ keyspace }, argv) => hmget(keyspace, argv),
  ),
  // Deprecated since 4.0.0 (HSET takes several pairs); COMMAND DOCS says so, our spec has no field for it.
  command(
    "hmset",
    -4,
    ["write", "denyoom", "fast"],
    ONE_KEY,
    {
      summary: "Set multiple hash fields to multiple values",
      since: "2.0.0",
      complexity: "O(N) where N is the number of fields being set.",
      syntax: "key field value [field value ...]",
    },
    ({ keyspace }, argv) => {
      setFields("hmset", keyspace, argv);
      return OK;
    },
  ),
  command(
    "hdel",
    -3,
    ["write", "fast"],
    ONE_KEY,
    {
      summary: "Delete one or more hash fields",
      since: "2.0.0",
      complexity: "O(N) where N is the number of fields to be removed.",
      syntax: "key field [field ...]",
    },
    ({ keyspace }, argv) => hdel(keyspace, argv),
  ),
  command(
    "hgetall",
    2,
    ["readonly"],
    ONE_KEY,
    {
      summary: "Get all the fields and values in a hash",
      since: "2.0.0",
      complexity: "O(N) where N is the size of the hash.",
      syntax: "key",
    },
    ({ keyspace }, argv) => hgetall(keyspace, argv),
  ),
  command(
    "hkeys",
    2,
    ["readonly"],
    ONE_KEY,
    {
      summary: "Get all the fields in a hash",
      since: "2.0.0",
      complexity: "O(N) where N is the size of the hash.",
      syntax: "key",
    },
    ({ keyspace }, argv) => hkeys(keyspace, argv),
  ),
  command(
    "hvals",
    2,
    ["readonly"],
    ONE_KEY,
    {
      summary: "Get all the values in a hash",
      since: "2.0.0",
      complexity: "O(N) where N is the size of the hash.",
      syntax: "key",
    },
    ({ keyspace }, argv) => hvals(keyspace, argv),
  ),
  command(
    "hlen",
    2,
    ["readonly", "fast"],
    ONE_KEY,
    { summary: "Get the number of fields in a hash", since: "2.0.0", complexity: "O(1)", syntax: "key" },
    ({ keyspace }, argv) => integer(keyspace.hash(arg(argv, 1)).size),
  ),
  command(
    "hexists",
    3,
    ["readonly", "fast"],
    ONE_KEY,
    { summary: "Determine if a hash field exists", since: "2.0.0", complexity: "O(1)", syntax: "key field" },
    ({ keyspace }, argv) => integer(keyspace.hash(arg(argv, 1)).get(arg(argv, 2)) === undefined ? 0 : 1),
  ),
  command(
    "hstrlen",
    3,
    ["readonly", "fast"],
    ONE_KEY,
    { summary: "Get the length of the value of a hash field", since: "3.2.0", complexity: "O(1)", syntax: "key field" },
    ({ keyspace }, argv) => integer(keyspace.hash(arg(argv, 1)).get(arg(argv, 2))?.byteLength ?? 0),
  ),
  command(
    "hincrby",
    4,
    ["write", "denyoom", "fast"],
    ONE_KEY,
    {
      summary: "Increment the integer value of a hash field by the given number",
      since: "2.0.0",
      complexity: "O(1)",
      syntax: "key field increment",
    },
    ({ keyspace }, argv) => hincrby(keyspace, argv),
  ),
  command(
    "hincrbyfloat",
    4,
    ["write", "denyoom", "fast"],
    ONE_KEY,
    {
      summary: "Increment the float value of a hash field by the given amount",
      since: "2.6.0",
      complexity: "O(1)",
      syntax: "key field increment",
    },
    ({ keyspace }, argv) => hincrbyfloat(keyspace, argv),
  ),
  command(
    "hsetnx",
    4,
    ["write", "denyoom", "fast"],
    ONE_KEY,
    {
      summary: "Set the value of a hash field, only if the field does not exist",
      since: "2.0.0",
      complexity: "O(1)",
      syntax: "key field value",
    },
    ({ keyspace }, argv) => hsetnx(keyspace, argv),
  ),
  command(
    "hrandfield",
    -2,
    ["readonly"],
    ONE_KEY,
    {
      summary: "Get one or multiple random fields from a hash",
      since: "6.2.0",
      complexity: "O(N) where N is the number of fields returned",
      syntax: "key [count [WITHVALUES]]",
    },
    ({ keyspace, random }, argv) => hrandfield(keyspace, random, argv),
  ),
  command(
    "hscan",
    -3,
    ["readonly"],
    ONE_KEY,
    {
      summary: "Incrementally iterate hash fields and associated values",
      since: "2.8.0",
      complexity:
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
      syntax: "key cursor [MATCH pattern] [COUNT count]",
    },
    ({ keyspace }, argv) => hscan(keyspace, argv),
  ),
];

export const hashCommands: readonly DataCommand[] = withDifferences(commands, {
  hgetall:
    "Beyond 128 fields or 64-byte values, fields come in Shoal's hash order, not redis-server's hashtable order.",
  hincrbyfloat: "Computes in double, not long double (see INCRBYFLOAT).",
  hrandfield: "Negative counts beyond 1,048,576 are refused (they crash redis-server 7.0.15).",
});
