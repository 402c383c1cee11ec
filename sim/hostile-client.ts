/**
 * @module SimHostileClient: the client that sends what no node may choke on. Now and then it proposes an entry
 * that the command checks refuse — keys over the key limit in every command shape (Redis SET/GET/MSET/DEL/
 * RENAME/WATCH, put, delete, txn, expire), malformed encodings (garbage, an unknown format, truncated msgpack,
 * fields of the wrong type, an unknown op) — straight into the log, as a buggy or older proposer could. Every
 * replica then applies it through the real command semantics (state-machine.ts), which must refuse it without
 * throwing and without writing anything. Before proposing a command-shaped entry it checks that the proposer's
 * own check (encodeCommand) refuses it too, so the entry could only have reached the log by skipping that check.
 *
 * Values over the value limit and entries over the entry limit (16–17 MiB) are left to the store's property test
 * (src/store/lmdb/limits.test.ts): at thousands of seeds they would cost more than they find here.
 */
import { encodeCommand } from "../src/commands/command-codec.js";
import { COMMAND_LIMITS } from "../src/commands/limits.js";
import { encodeUnchecked } from "../src/commands/testing/unchecked-entry.js";
import { AssertionError } from "../src/lib/assert.js";
import { ShoalError } from "../src/lib/errors.js";
import type { Prng } from "../src/lib/prng.js";
import { isWriteData } from "./state-machine.js";

/** Where hostile entries go: a live member chosen with `random`, as a function that proposes one entry there and
 * says whether the member took it; undefined when no member is up. Each tier supplies its own (the core tier's
 * model hosts, the node tier's real `RaftHost`s). */
export interface HostileTarget {
  pickProposer(random: Prng): ((data: Uint8Array) => boolean) | undefined;
}

/** The one key every hostile command also writes beside its bad part: it must never exist on any replica. */
export const HOSTILE_SHORT_KEY = "k";

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Over the key limit by one, past LMDB's own key limit (1978), at and past lmdb-js's key buffer (4096), and far past. */
const LONG_KEY_BYTES = [COMMAND_LIMITS.keySizeBytesMax + 1, 1979, 4096, 70_000] as const;

export interface HostileStats {
  proposed: number;
  accepted: number;
}

export class SimHostileClient {
  readonly #target: HostileTarget;
  readonly #random: Prng;
  /** Chance per tick of one hostile proposal (drawn per seed: some runs have none, some many). */
  readonly #chance: number;
  draining = false;
  readonly stats: HostileStats = { proposed: 0, accepted: 0 };

  constructor(target: HostileTarget, random: Prng) {
    this.#target = target;
    this.#random = random;
    this.#chance = random.pick([0, 0.01, 0.03]);
  }

  step(): void {
    if (this.draining || !this.#random.chance(this.#chance)) return;
    const propose = this.#target.pickProposer(this.#random);
    if (propose === undefined) return;
    const data = this.#entry();
    this.stats.proposed++;
    if (propose(data)) this.stats.accepted++;
  }

  #entry(): Uint8Array {
    return this.#random.chance(0.6) ? this.#command() : this.#malformed();
  }

  /** A command over the key limit, checked to be refused by the proposer's own validation first. */
  #command(): Uint8Array {
    const long = new Uint8Array(this.#random.pick(LONG_KEY_BYTES)).fill(0x6b);
    const short = enc(HOSTILE_SHORT_KEY);
    const redis = (argv: Uint8Array[], watched?: Uint8Array) => ({
      op: "redis",
      nowMs: 1,
      argvs: [[enc("SET"), short, enc("v")], argv],
      ...(watched === undefined ? {} : { watches: [{ key: watched, modRevision: 0 }] }),
    });
    const commands = [
      () => redis([enc("SET"), long, enc("v")]),
      () => redis([enc("GET"), long]),
      () => redis([enc("MSET"), short, enc("1"), long, enc("2")]),
      () => redis([enc("DEL"), short, long]),
      () => redis([enc("RENAME"), short, long]),
      () => redis([enc("GET"), short], long),
      () => ({ op: "put", key: long, value: enc("v"), nowMs: 1 }),
      () => ({ op: "delete", key: long, nowMs: 1 }),
      () => ({ op: "expire", keys: [short, long], nowMs: 1 }),
      () => ({ op: "txn", nowMs: 1, compares: [], success: [{ op: "put", key: long, value: enc("v") }], failure: [] }),
    ];
    const command = this.#random.pick(commands)();
    assertRefusedBeforeProposing(command);
    return encodeUnchecked(command);
  }

  /** Bytes that are not a valid command at all. Never a register write (those are the workload's). */
  #malformed(): Uint8Array {
    const valid = encodeUnchecked({ op: "put", key: enc("k"), value: enc("v"), nowMs: 1 });
    const shapes = [
      () => this.#garbage(),
      () => Uint8Array.from([9, ...valid.subarray(1)]), // an unknown format
      () => valid.subarray(0, 1 + this.#random.int(valid.length - 1)), // truncated
      () => encodeUnchecked({ op: "put", key: "k", value: enc("v"), nowMs: 1 }), // a key that is not bytes
      () => encodeUnchecked({ op: "redis", nowMs: 1, argvs: [[enc("SET"), 7, enc("v")]] }),
      () => encodeUnchecked({ op: "redis", nowMs: 1, argvs: [[]] }),
      () => encodeUnchecked({ op: "launch", nowMs: 1 }),
      () => encodeUnchecked({ op: "delete", key: enc("k"), nowMs: -5 }),
      () => encodeUnchecked([1, 2, 3]),
    ];
    return this.#random.pick(shapes)();
  }

  #garbage(): Uint8Array {
    for (;;) {
      const bytes = Uint8Array.from({ length: 1 + this.#random.int(24) }, () => this.#random.int(256));
      if (!isWriteData(bytes)) return bytes;
    }
  }
}

function assertRefusedBeforeProposing(command: unknown): void {
  try {
    encodeCommand(command as Parameters<typeof encodeCommand>[0]);
  } catch (error) {
    if (error instanceof ShoalError) return;
    throw error;
  }
  throw new AssertionError(`The proposer's checks let a hostile command through: ${describe(command)}`);
}

/** The command's shape with byte strings as their lengths (a key here may be 70,000 bytes long). */
function describe(command: unknown): string {
  return JSON.stringify(command, (_name, value: unknown) =>
    value instanceof Uint8Array ? `<${value.byteLength} bytes>` : value,
  );
}
