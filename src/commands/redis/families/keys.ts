/**
 * @module The generic key commands (Redis's db.c and expire.c): deletion, existence, renaming, expiry, listing
 * and flushing, for keys of any type. Metadata is redis-server 7.0's COMMAND INFO / COMMAND DOCS.
 */

import { compareBytes } from "../../../lib/bytes.js";
import { ShoalError } from "../../../lib/errors.js";
import type { Keyspace } from "../../keyspace/keyspace.js";
import { isKeyword, syntaxError } from "../args.js";
import type { DataCommand, DataHandler, KeyPositions } from "../command-spec.js";
import { ALL_KEYS, commandFamily, NO_KEYS, ONE_KEY, withDifferences } from "../command-spec.js";
import { globMatch } from "../glob.js";
import { array, bulk, integer, NULL, OK, simple } from "../reply.js";
import { type ExpireUnit, expireCommandAtMs, parseExpireConditions, storedExpiry } from "./expiry-args.js";
import { parseScanCursor, parseScanOptions } from "./scan-args.js";

const TWO_KEYS: KeyPositions = { first: 1, last: 2, step: 1 };

function key(argv: readonly Uint8Array[]): Uint8Array {
  return argv[1] as Uint8Array;
}

// ---- deletion and existence -------------------------------------------------------------------------------

/** DEL and UNLINK: a key named twice is deleted (and counted) once. */
const del: DataHandler = ({ keyspace }, argv) => {
  let deleted = 0;
  for (const name of argv.slice(1)) if (keyspace.delete(name)) deleted++;
  return integer(deleted);
};

/** EXISTS counts a key named twice twice, as Redis does. */
const exists: DataHandler = ({ keyspace }, argv) =>
  integer(argv.slice(1).filter((name) => keyspace.exists(name)).length);

const type: DataHandler = ({ keyspace }, argv) => simple(keyspace.typeOf(key(argv)));

/** RENAME / RENAMENX: the value and its TTL move; a destination of any type is replaced (RENAME) or kept
 * (RENAMENX answers 0). A missing source is an error even when both names are the same. */
function rename(nx: boolean): DataHandler {
  return ({ keyspace }, argv) => {
    const source = key(argv);
    const target = argv[2] as Uint8Array;
    const record = keyspace.lookup(source);
    if (record === undefined) throw new ShoalError("BAD_REQUEST", "no such key");
    if (compareBytes(source, target) === 0) return nx ? integer(0) : OK;
    if (nx && keyspace.exists(target)) return integer(0);
    keyspace.delete(source);
    keyspace.putRaw(target, record.type, record.value, record.expiresAtMs);
    return nx ? integer(1) : OK;
  };
}

// ---- expiry -----------------------------------------------------------------------------------------------

/**
 * EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (Redis 7): options first, then the time (with its overflow checks), then
 * the key (0 when absent), then NX/XX/GT/LT against the current expiry — no expiry counting as infinite — and a
 * time at or before now deletes the key (answering 1).
 */
function expire(unit: ExpireUnit, command: string): DataHandler {
  return ({ keyspace }, argv) => {
    const conditions = parseExpireConditions(argv);
    const when = expireCommandAtMs(argv[2] as Uint8Array, unit, keyspace.nowMs, command);
    const current = keyspace.expiresAtMs(key(argv));
    if (current === undefined) return integer(0);
    const hasExpiry = current !== 0;
    if (conditions.nx && hasExpiry) return integer(0);
    if (conditions.xx && !hasExpiry) return integer(0);
    if (conditions.gt && (!hasExpiry || when <= BigInt(current))) return integer(0);
    if (conditions.lt && hasExpiry && when >= BigInt(current)) return integer(0);
    if (when <= BigInt(keyspace.nowMs)) keyspace.delete(key(argv));
    else keyspace.setExpiry(key(argv), storedExpiry(when));
    return integer(1);
  };
}

/** TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 absent, -1 no expiry; seconds are rounded to the nearest. */
function timeToLive(absolute: boolean, milliseconds: boolean): DataHandler {
  return ({ keyspace }, argv) => {
    const expiresAtMs = keyspace.expiresAtMs(key(argv));
    if (expiresAtMs === undefined) return integer(-2);
    if (expiresAtMs === 0) return integer(-1);
    const ms = absolute ? expiresAtMs : Math.max(0, expiresAtMs - keyspace.nowMs);
    return integer(milliseconds ? ms : Math.floor((ms + 500) / 1000));
  };
}

const persist: DataHandler = ({ keyspace }, argv) => {
  if ((keyspace.expiresAtMs(key(argv)) ?? 0) === 0) return integer(0);
  keyspace.setExpiry(key(argv), 0);
  return integer(1);
};

// ---- listing ----------------------------------------------------------------------------------------------

/** KEYS: we answer in bytewise key order; Redis answers in hash-table order (a documented difference). */
const keys: DataHandler = ({ keyspace }, argv) => {
  const pattern = key(argv);
  // Redis lists every key for a lone "*" without matching (so the empty key too, which "*" does not match).
  const all = pattern.byteLength === 1 && pattern[0] === 0x2a;
  return array(
    keyspace
      .allKeys()
      .filter((name) => all || globMatch(pattern, name))
      .map((name) => bulk(name)),
  );
};

function hasType(keyspace: Keyspace, name: Uint8Array, wanted: string): boolean {
  return keyspace.typeOf(name).toLowerCase() === wanted.toLowerCase();
}

/**
 * SCAN: the cursor names the key to resume after (context.cursors keeps the table, scan-cursor-table.ts says how a
 * cursor stays valid on every node); COUNT keys are examined per
 * call, as in Redis, and MATCH and TYPE filter the examined ones, so a call may answer fewer keys, even none,
 * with a non-zero cursor. Keys are visited in bytewise order, so every key present for the whole iteration is
 * returned exactly once; a key added or deleted meanwhile may or may not be — Redis's guarantee.
 */
const scan: DataHandler = ({ keyspace, cursors }, argv) => {
  const cursor = parseScanCursor(argv[1] as Uint8Array);
  const options = parseScanOptions(argv, 2, true);
  const after = cursors.resume(cursor);
  // One more than COUNT tells whether the iteration is over, so a COUNT covering the rest answers cursor 0.
  const examined = keyspace.keysAfter(after, options.count + 1);
  const done = examined.length <= options.count;
  const page = done ? examined : examined.slice(0, options.count);
  const found = page.filter(
    (name) =>
      (options.match === undefined || globMatch(options.match, name)) &&
      (options.type === undefined || hasType(keyspace, name, options.type)),
  );
  const next = done ? 0n : cursors.issue(page[page.length - 1] as Uint8Array);
  return array([bulk(next.toString()), array(found.map((name) => bulk(name)))]);
};

/** RANDOMKEY: drawn from the context's random source (seeded by the entry when replicated). O(keys). */
const randomkey: DataHandler = ({ keyspace, random }) => {
  const all = keyspace.allKeys();
  return all.length === 0 ? NULL : bulk(all[random.int(all.length)] as Uint8Array);
};

/** Redis's DBSIZE counts every stored key, those past their TTL that expiry has not removed yet included. */
const dbsize: DataHandler = ({ keyspace }) => integer(keyspace.storedKeyCount());

/** FLUSHDB / FLUSHALL [ASYNC | SYNC]: one database, so both delete every key; the mode changes nothing here. */
const flush: DataHandler = ({ keyspace }, argv) => {
  if (argv.length > 2) throw syntaxError();
  const mode = argv[1];
  if (mode !== undefined && !isKeyword(mode, "ASYNC") && !isKeyword(mode, "SYNC")) throw syntaxError();
  keyspace.deleteAll();
  return OK;
};

// ---- the table --------------------------------------------------------------------------------------------

const command = commandFamily<DataHandler>("generic");

const O1 = "O(1)";
const EXPIRE_CONDITIONS = "[NX | XX | GT | LT]";

function readOnlyKeyCommand(name: string, summary: string, since: string, handler: DataHandler): DataCommand {
  return command(name, 2, ["readonly", "fast"], ONE_KEY, { summary, since, complexity: O1, syntax: "key" }, handler);
}

const commands: readonly DataCommand[] = [
  command(
    "del",
    -2,
    ["write"],
    ALL_KEYS,
    {
      summary: "Delete a key",
      since: "1.0.0",
      complexity:
        "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
      syntax: "key [key ...]",
    },
    del,
  ),
  command(
    "unlink",
    -2,
    ["write", "fast"],
    ALL_KEYS,
    {
      summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
      since: "4.0.0",
      complexity:
        "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
      syntax: "key [key ...]",
    },
    del,
  ),
  command(
    "exists",
    -2,
    ["readonly", "fast"],
    ALL_KEYS,
    {
      summary: "Determine if a key exists",
      since: "1.0.0",
      complexity: "O(N) where N is the number of keys to check.",
      syntax: "key [key ...]",
    },
    exists,
  ),
  readOnlyKeyCommand("type", "Determine the type stored at key", "1.0.0", type),
  command(
    "rename",
    3,
    ["write"],
    TWO_KEYS,
    { summary: "Rename a key", since: "1.0.0", complexity: O1, syntax: "key newkey" },
    rename(false),
  ),
  command(
    "renamenx",
    3,
    ["write", "fast"],
    TWO_KEYS,
    {
      summary: "Rename a key, only if the new key does not exist",
      since: "1.0.0",
      complexity: O1,
      syntax: "key newkey",
    },
    rename(true),
  ),
  command(
    "expire",
    -3,
    ["write", "fast"],
    ONE_KEY,
    {
      summary: "Set a key's time to live in seconds",
      since: "1.0.0",
      complexity: O1,
      syntax: `key seconds ${EXPIRE_CONDITIONS}`,
    },
    expire("EX", "expire"),
  ),
  command(
    "pexpire",
    -3,
    ["write", "fast"],
    ONE_KEY,
    {
      summary: "Set a key's time to live in milliseconds",
      since: "2.6.0",
      complexity: O1,
      syntax: `key milliseconds ${EXPIRE_CONDITIONS}`,
    },
    expire("PX", "pexpire"),
  ),
  command(
    "expireat",
    -3,
    ["write", "fast"],
    ONE_KEY,
    {
      summary: "Set the expiration for a key as a UNIX timestamp",
      since: "1.2.0",
      complexity: O1,
      syntax: `key unix-time-seconds ${EXPIRE_CONDITIONS}`,
    },
    expire("EXAT", "expireat"),
  ),
  command(
    "pexpireat",
    -3,
    ["write", "fast"],
    ONE_KEY,
    {
      summary: "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
      since: "2.6.0",
      complexity: O1,
      syntax: `key unix-time-milliseconds ${EXPIRE_CONDITIONS}`,
    },
    expire("PXAT", "pexpireat"),
  ),
  readOnlyKeyCommand("ttl", "Get the time to live for a key in seconds", "1.0.0", timeToLive(false, false)),
  readOnlyKeyCommand("pttl", "Get the time to live for a key in milliseconds", "2.6.0", timeToLive(false, true)),
  readOnlyKeyCommand("expiretime", "Get the expiration Unix timestamp for a key", "7.0.0", timeToLive(true, false)),
  readOnlyKeyCommand(
    "pexpiretime",
    "Get the expiration Unix timestamp for a key in milliseconds",
    "7.0.0",
    timeToLive(true, true),
  ),
  command(
    "persist",
    2,
    ["write", "fast"],
    ONE_KEY,
    { summary: "Remove the expiration from a key", since: "2.2.0", complexity: O1, syntax: "key" },
    persist,
  ),
  command(
    "keys",
    2,
    ["readonly"],
    NO_KEYS,
    {
      summary: "Find all keys matching the given pattern",
      since: "1.0.0",
      complexity:
        "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
      syntax: "pattern",
    },
    keys,
  ),
  command(
    "scan",
    -2,
    ["readonly"],
    NO_KEYS,
    {
      summary: "Incrementally iterate the keys space",
      since: "2.8.0",
      complexity:
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
      syntax: "cursor [MATCH pattern] [COUNT count] [TYPE type]",
    },
    scan,
  ),
  command(
    "randomkey",
    1,
    ["readonly"],
    NO_KEYS,
    { summary: "Return a random key from the keyspace", since: "1.0.0", complexity: O1, syntax: "" },
    randomkey,
  ),
  command(
    "dbsize",
    1,
    ["readonly", "fast"],
    NO_KEYS,
    {
      summary: "Return the number of keys in the selected database",
      since: "1.0.0",
      complexity: O1,
      syntax: "",
      group: "server",
    },
    dbsize,
  ),
  command(
    "flushdb",
    -1,
    ["write"],
    NO_KEYS,
    {
      summary: "Remove all keys from the current database",
      since: "1.0.0",
      complexity: "O(N) where N is the number of keys in the selected database",
      syntax: "[ASYNC | SYNC]",
      group: "server",
    },
    flush,
  ),
  command(
    "flushall",
    -1,
    ["write"],
    NO_KEYS,
    {
      summary: "Remove all keys from all databases",
      since: "1.0.0",
      complexity: "O(N) where N is the total number of keys in all databases",
      syntax: "[ASYNC | SYNC]",
      group: "server",
    },
    flush,
  ),
];

export const keyCommands: readonly DataCommand[] = withDifferences(commands, {
  keys: "Answers in bytewise key order (Redis: hash-table order).",
  scan: "Bytewise key order; the cursor names the issuing node and a position in its cursor table (10,000 newest kept), valid on every node (another node asks the issuer); a cursor never issued, evicted, or whose node is down answers -ERR invalid cursor. Inside MULTI a SCAN must finish in one call.",
  randomkey: "Reads every key (O(keys)).",
  flushall:
    "One log entry, O(1) on every replica whatever the key count (the store swaps in an empty state); SYNC and ASYNC alike. HTTP watchers get one `flush` event and the watch history restarts at it.",
  flushdb:
    "One log entry, O(1) on every replica whatever the key count (the store swaps in an empty state); SYNC and ASYNC alike. HTTP watchers get one `flush` event and the watch history restarts at it.",
  pexpireat: "Times above 2^53-1 ms are capped there (PEXPIRETIME then answers 9007199254740991).",
  expireat: "Times above 2^53-1 ms are capped there.",
});
