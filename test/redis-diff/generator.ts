/**
 * @module Seeded random command sequences for the differential test. The key, field and value spaces are tiny so
 * that commands collide: a key is written, renamed, expired, read as the wrong type. A sequence depends only on
 * the seed, never on replies, so the same seed replays the same commands against any server.
 *
 * Values are chosen so that an exact comparison is fair:
 * - INCRBYFLOAT/HINCRBYFLOAT only ever see magnitudes far below 2^53 and increments that are exact in binary, so
 *   Redis's long double arithmetic and a double-based implementation give the same digits. The int64 edge values
 *   (for INCRBY overflow errors) live only in the key "big" and the hash field "hbig"/"c", which the float commands,
 *   RENAME and the "any key" picks never touch. APPEND/SETRANGE only add non-digits, so they never grow a number.
 * - Every relative TTL is unique in the run (a bucket plus 3 s × a per-command counter) and the buckets are 10^5 s
 *   and more apart, so EXPIRE ... GT/LT outcomes do not depend on how many milliseconds passed between commands,
 *   and nothing expires during a run. Absolute times are fixed dates around 2100, except that EXPIREAT/PEXPIREAT
 *   sometimes name a past time (Redis deletes the key at once); SET's EXAT/PXAT never do (see #setExpiry).
 */

export type Command = readonly string[];

/** mulberry32: small, fast, and the same on every platform. */
export class Random {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lowInclusive: number, highInclusive: number): number {
    return lowInclusive + Math.floor(this.next() * (highInclusive - lowInclusive + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
  chance(probability: number): boolean {
    return this.next() < probability;
  }
}

const STRING_KEYS = ["s1", "s2", "s3", "n1", "n2"];
const HASH_KEYS = ["h1", "h2", "h3"];
const RARE_KEYS = ["x", "y"];
const ANY_KEYS = [...STRING_KEYS, ...HASH_KEYS, ...RARE_KEYS];
const BIG_KEY = "big";
const BIG_HASH = "hbig";
const FIELDS = ["f1", "f2", "f3", "f4"];
/** Plain values: small numbers, a float, odd numerals (leading zero, hex, sign, space), text, CRLF inside a bulk. */
const VALUES = [
  "",
  "0",
  "1",
  "-3",
  "42",
  "100",
  "3.5",
  "1e3",
  "007",
  "0x10",
  "+5",
  " 2",
  "abc",
  "hello world",
  "a\r\nb",
];
const BIG_VALUES = ["9223372036854775806", "-9223372036854775807", "9223372036854775807", "-9223372036854775808", "12"];
const INCREMENTS = ["1", "5", "-3", "0", "17", "-100", "abc", "1.5", "", "+3", "007"];
const BIG_INCREMENTS = ["1", "-1", "9223372036854775807", "-9223372036854775808", "2", "99999999999999999999"];
const FLOAT_INCREMENTS = ["0.5", "-1.25", "2", "10.75", "3e2", "-0.5", "0", "abc", "inf", "+1.5", "1.", ".5"];
/** APPEND/SETRANGE values: never only digits, so appends never grow a number past the float-safe range. */
const SUFFIXES = ["x", "-tail", "ab", " ", "", "é"];
const KEY_PATTERNS = ["*", "s*", "h?", "*1", "[sh]1", "n*", "x*", "*[0-9]", "[^s]*", "?", "h\\*"];
const TTL_BUCKETS_S = [100_000, 1_000_000, 10_000_000];
const FAR_FUTURE_S = 4102444800; // 2100-01-01
const PAST_S = 1000;

export class CommandGenerator {
  readonly #random: Random;
  /** Counts generated commands; makes every relative TTL unique (see the module comment). */
  #counter = 0;

  constructor(seed: number) {
    this.#random = new Random(seed);
  }

  /** The next group: usually one command, sometimes a MULTI ... EXEC/DISCARD block. */
  nextGroup(): Command[] {
    const r = this.#random;
    if (r.chance(0.05)) return this.#transaction();
    return [this.#maybeMangled(this.#command())];
  }

  #transaction(): Command[] {
    const r = this.#random;
    const group: Command[] = [[this.#name("MULTI")]];
    const count = r.int(0, 5);
    for (let i = 0; i < count; i++) {
      if (r.chance(0.04)) group.push([this.#name(r.pick(["MULTI", "WATCH"])), ...(r.chance(0.5) ? ["s1"] : [])]);
      else group.push(this.#maybeMangled(this.#command(false)));
    }
    group.push([this.#name(r.chance(0.85) ? "EXEC" : "DISCARD")]);
    return group;
  }

  #maybeMangled(command: Command): Command {
    const r = this.#random;
    if (!r.chance(0.05)) return command;
    // Wrong arity (or a syntax error when the arity is variable): drop the last argument or add one.
    if (command.length > 1 && r.chance(0.5)) return command.slice(0, -1);
    return [...command, "extra"];
  }

  /** Command names arrive in any case; Redis matches them case-insensitively. */
  #name(name: string): string {
    const r = this.#random;
    const roll = r.next();
    if (roll < 0.8) return name;
    if (roll < 0.95) return name.toLowerCase();
    return [...name].map((c, i) => (i % 2 === 0 ? c.toLowerCase() : c)).join("");
  }

  #stringKey(): string {
    return this.#random.chance(0.8) ? this.#random.pick(STRING_KEYS) : this.#random.pick(ANY_KEYS);
  }

  #hashKey(): string {
    return this.#random.chance(0.8) ? this.#random.pick(HASH_KEYS) : this.#random.pick(ANY_KEYS);
  }

  #anyKey(): string {
    return this.#random.pick(ANY_KEYS);
  }

  #keys(pick: () => string, min: number, max: number): string[] {
    return Array.from({ length: this.#random.int(min, max) }, pick);
  }

  #value(): string {
    return this.#random.pick(VALUES);
  }

  /** A relative TTL in seconds, unique in the run. */
  #ttlSeconds(): number {
    return this.#random.pick(TTL_BUCKETS_S) + 3 * this.#counter;
  }

  /** A TTL argument for `unit` ("s" or "ms"), sometimes non-positive (deletes the key) or invalid. */
  #ttlArgument(unit: "s" | "ms", allowInvalid: boolean): string {
    const r = this.#random;
    const roll = r.next();
    if (allowInvalid && roll < 0.04) return r.pick(["abc", "1.5", "", "9223372036854775807"]);
    if (allowInvalid && roll < 0.1) return r.pick(["0", "-5"]);
    const seconds = this.#ttlSeconds();
    return unit === "s" ? String(seconds) : String(seconds * 1000 + 500);
  }

  /** SET's expiry options (EX/PX/EXAT/PXAT/KEEPTTL), none, or an invalid one. */
  #setExpiry(): string[] {
    const r = this.#random;
    switch (r.int(0, 9)) {
      case 0:
        return ["EX", this.#ttlArgument("s", true)];
      case 1:
        return ["PX", this.#ttlArgument("ms", true)];
      // Never a past EXAT/PXAT: redis-server 7.0 then stores an already-dead key that DBSIZE counts until its
      // active expiry cycle reclaims it (and whose lazy deletion aborts a WATCH) — timing, not behaviour.
      case 2:
        return ["EXAT", String(FAR_FUTURE_S + this.#counter)];
      case 3:
        return ["PXAT", String((FAR_FUTURE_S + this.#counter) * 1000 + 7)];
      case 4:
        return ["KEEPTTL"];
      case 5:
        return r.chance(0.3) ? ["EX", "10", "PX", "10000"] : [];
      default:
        return [];
    }
  }

  #set(): Command {
    const r = this.#random;
    const args = [this.#name("SET"), this.#stringKey(), this.#value(), ...this.#setExpiry()];
    if (r.chance(0.3)) args.push(r.pick(["NX", "XX"]));
    if (r.chance(0.03)) args.push("NX", "XX");
    if (r.chance(0.2)) args.push("GET");
    const valued = args.some((a) => ["EX", "PX", "EXAT", "PXAT"].includes(a));
    if (!valued && r.chance(0.2)) {
      // Options are accepted in any order (only shuffled when none takes a value, to keep EX next to its number).
      const options = args.slice(3);
      for (let i = options.length - 1; i > 0; i--) {
        const j = r.int(0, i);
        [options[i], options[j]] = [options[j] as string, options[i] as string];
      }
      return [...args.slice(0, 3), ...options];
    }
    return args;
  }

  #expire(): Command {
    const r = this.#random;
    const ms = r.chance(0.4);
    const absolute = r.chance(0.15);
    let name: string;
    let when: string;
    if (absolute) {
      name = ms ? "PEXPIREAT" : "EXPIREAT";
      const seconds = r.chance(0.85) ? FAR_FUTURE_S + 3 * this.#counter : PAST_S;
      when = ms ? String(seconds * 1000 + 250) : String(seconds);
    } else {
      name = ms ? "PEXPIRE" : "EXPIRE";
      when = this.#ttlArgument(ms ? "ms" : "s", true);
    }
    const args = [this.#name(name), this.#anyKey(), when];
    if (r.chance(0.5)) args.push(r.pick(["NX", "XX", "GT", "LT", "nx", "gt"]));
    if (r.chance(0.04)) args.push(r.pick(["NX", "GT", "LT", "BOGUS"]));
    return args;
  }

  #scan(): Command {
    const r = this.#random;
    const args = [this.#name("SCAN"), "0"];
    if (r.chance(0.5)) args.push("MATCH", r.pick(KEY_PATTERNS));
    if (r.chance(0.5)) args.push("COUNT", String(r.pick([1, 2, 5, 100])));
    if (r.chance(0.3)) args.push("TYPE", r.pick(["string", "hash", "list", "STRING"]));
    if (r.chance(0.03)) args.push("COUNT", r.pick(["0", "abc", "-1"]));
    return args;
  }

  /** One command of any family; `topLevel` false inside MULTI (no SCAN: its cursor loop needs the replies). */
  #command(topLevel = true): Command {
    this.#counter++;
    const r = this.#random;
    const n = (name: string) => this.#name(name);
    const choices: Array<[number, () => Command]> = [
      // strings
      [8, () => this.#set()],
      [6, () => [n("GET"), this.#stringKey()]],
      [2, () => [n("GETSET"), this.#stringKey(), this.#value()]],
      [2, () => [n("GETDEL"), this.#stringKey()]],
      [3, () => [n("MGET"), ...this.#keys(() => this.#anyKey(), 1, 4)]],
      [2, () => [n("MSET"), ...this.#keys(() => this.#stringKey(), 1, 3).flatMap((k) => [k, this.#value()])]],
      [2, () => [n("MSETNX"), ...this.#keys(() => this.#stringKey(), 1, 3).flatMap((k) => [k, this.#value()])]],
      [1, () => [n("SETNX"), this.#stringKey(), this.#value()]],
      [1, () => [n("SETEX"), this.#stringKey(), this.#ttlArgument("s", true), this.#value()]],
      [1, () => [n("PSETEX"), this.#stringKey(), this.#ttlArgument("ms", true), this.#value()]],
      [2, () => [n("APPEND"), this.#stringKey(), r.pick(SUFFIXES)]],
      [2, () => [n("STRLEN"), this.#stringKey()]],
      [2, () => [n("GETRANGE"), this.#stringKey(), String(r.int(-12, 12)), String(r.int(-12, 20))]],
      [2, () => [n("SETRANGE"), this.#stringKey(), r.chance(0.05) ? "-1" : String(r.int(0, 20)), r.pick(SUFFIXES)]],
      [3, () => [n(r.pick(["INCR", "DECR"])), this.#stringKey()]],
      [3, () => [n(r.pick(["INCRBY", "DECRBY"])), this.#stringKey(), r.pick(INCREMENTS)]],
      [2, () => [n("INCRBYFLOAT"), this.#stringKey(), r.pick(FLOAT_INCREMENTS)]],
      [1, () => [n("SET"), BIG_KEY, r.pick(BIG_VALUES)]],
      [2, () => [n(r.pick(["INCRBY", "DECRBY"])), BIG_KEY, r.pick(BIG_INCREMENTS)]],
      [1, () => [n(r.pick(["INCR", "DECR", "GET"])), BIG_KEY]],
      // keys
      [3, () => [n(r.pick(["DEL", "UNLINK"])), ...this.#keys(() => this.#anyKey(), 1, 3)]],
      [3, () => [n("EXISTS"), ...this.#keys(() => this.#anyKey(), 1, 3)]],
      [2, () => [n("TYPE"), this.#anyKey()]],
      [2, () => [n(r.pick(["RENAME", "RENAMENX"])), this.#anyKey(), this.#anyKey()]],
      [5, () => this.#expire()],
      [3, () => [n(r.pick(["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"])), this.#anyKey()]],
      [2, () => [n("PERSIST"), this.#anyKey()]],
      [1, () => [n("DBSIZE")]],
      [1, () => [n("KEYS"), r.pick(KEY_PATTERNS)]],
      [topLevel ? 1 : 0, () => this.#scan()],
      [0.2, () => [n(r.pick(["FLUSHDB", "FLUSHALL"]))]],
      // hashes
      [
        6,
        () => [n(r.pick(["HSET", "HMSET"])), this.#hashKey(), ...this.#fields(1, 3).flatMap((f) => [f, this.#value()])],
      ],
      [5, () => [n("HGET"), this.#hashKey(), r.pick(FIELDS)]],
      [2, () => [n("HMGET"), this.#hashKey(), ...this.#fields(1, 3)]],
      [3, () => [n("HDEL"), this.#hashKey(), ...this.#fields(1, 3)]],
      [3, () => [n(r.pick(["HGETALL", "HKEYS", "HVALS", "HLEN"])), this.#hashKey()]],
      [2, () => [n(r.pick(["HEXISTS", "HSTRLEN"])), this.#hashKey(), r.pick(FIELDS)]],
      [3, () => [n("HINCRBY"), this.#hashKey(), r.pick(FIELDS), r.pick(INCREMENTS)]],
      [2, () => [n("HINCRBYFLOAT"), this.#hashKey(), r.pick(FIELDS), r.pick(FLOAT_INCREMENTS)]],
      [2, () => [n("HSETNX"), this.#hashKey(), r.pick(FIELDS), this.#value()]],
      [1, () => [n("HSET"), BIG_HASH, "c", r.pick(BIG_VALUES)]],
      [1, () => [n("HINCRBY"), BIG_HASH, "c", r.pick(BIG_INCREMENTS)]],
      // transactions outside MULTI, and an unknown command
      [1, () => [n("WATCH"), ...this.#keys(() => this.#anyKey(), 1, 2)]],
      [0.5, () => [n("UNWATCH")]],
      [0.3, () => [n(r.pick(["EXEC", "DISCARD"]))]],
      [0.2, () => [r.pick(["NOSUCHCMD", "hgetx"]), ...this.#keys(() => this.#anyKey(), 0, 2)]],
    ];
    const total = choices.reduce((sum, [weight]) => sum + weight, 0);
    let roll = r.next() * total;
    for (const [weight, make] of choices) {
      roll -= weight;
      if (roll < 0) return make();
    }
    return [n("PING")];
  }

  #fields(min: number, max: number): string[] {
    return Array.from({ length: this.#random.int(min, max) }, () => this.#random.pick(FIELDS));
  }
}

/** The first `count` commands (whole groups: a transaction is never cut) of the sequence for `seed`. */
export function generateCommands(seed: number, count: number): Command[] {
  const generator = new CommandGenerator(seed);
  const commands: Command[] = [];
  while (commands.length < count) commands.push(...generator.nextGroup());
  return commands;
}
