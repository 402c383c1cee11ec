import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "../../lib/prng.js";
import { WriteSet } from "../../store/write-set.js";
import { applyEntryData } from "../apply-command.js";
import { encodeCommand } from "../command-codec.js";
import { COMMAND_LIMITS } from "../limits.js";
import { MapStateMachine } from "../testing/map-state-machine.js";
import { encodeUnchecked } from "../testing/unchecked-entry.js";
import { checkArgvLimits } from "./command-limits.js";
import type { CommandSpec } from "./command-spec.js";
import { executeCommands } from "./execute.js";
import type { Reply } from "./reply.js";
import { commandKeys, DATA_COMMAND_TABLE } from "./table.js";

const { keySizeBytesMax, valueSizeBytesMax } = COMMAND_LIMITS;
const b = (text: string): Uint8Array => new TextEncoder().encode(text);
const KEY_ERROR = `key is longer than ${keySizeBytesMax} bytes (shoal-key-max-bytes)`;
const VALUE_ERROR = `value is longer than ${valueSizeBytesMax} bytes (shoal-value-max-bytes)`;

/** An argv of `spec`'s arity (the bounds are checked right after the arity), every argument "1". */
function argvOf(spec: CommandSpec): Uint8Array[] {
  const length = spec.arity > 0 ? spec.arity : Math.max(-spec.arity, 5);
  return [b(spec.name), ...Array.from({ length: length - 1 }, () => b("1"))];
}

/** Runs `argv` the two ways commands run: inside apply (a write set) and as a read. */
function runBothWays(argv: Uint8Array[]): { writes: Reply; read: Reply | undefined; written: number } {
  const machine = new MapStateMachine();
  const writes = new WriteSet(machine);
  const execution = { nowMs: 1, revision: 1, random: new Prng(1), cursors: NO_CURSORS };
  const [inApply] = executeCommands(machine, writes, [argv], execution);
  const spec = DATA_COMMAND_TABLE.entries.find((s) => s.name === new TextDecoder().decode(argv[0]));
  const read = spec?.flags.includes("readonly") ? executeCommands(machine, undefined, [argv], execution)[0] : undefined;
  return { writes: inApply as Reply, read, written: writes.mutations.length };
}

/** Where commandKeys finds `spec`'s keys in `argv`. */
function keyIndexes(spec: CommandSpec, argv: readonly Uint8Array[]): number[] {
  return commandKeys(spec, argv).map((_, i) => spec.keys.first + i * spec.keys.step);
}

const NO_CURSORS = {
  resume: () => undefined,
  issue: () => 1n,
};

const dataCommands = DATA_COMMAND_TABLE.entries;

describe("the store's bounds on Redis commands", () => {
  it("refuses an over-long key in every key position of every command, in apply and in reads, writing nothing", () => {
    let positions = 0;
    for (const spec of dataCommands) {
      const argv = argvOf(spec);
      for (const index of keyIndexes(spec, argv)) {
        for (const length of [keySizeBytesMax + 1, 1979, 4096]) {
          const long = [...argv];
          long[index] = new Uint8Array(length).fill(0x6b);
          const { writes, read, written } = runBothWays(long);
          assert.deepEqual(writes, { kind: "error", code: "TOO_LARGE", message: KEY_ERROR }, `${spec.name} @${index}`);
          if (read !== undefined) assert.deepEqual(read, writes, `${spec.name} @${index} as a read`);
          assert.equal(written, 0);
          assert.throws(() => checkArgvLimits(long), /shoal-key-max-bytes/);
        }
        const atLimit = [...argv];
        atLimit[index] = new Uint8Array(keySizeBytesMax).fill(0x6b);
        const { writes } = runBothWays(atLimit);
        assert.ok(writes.kind !== "error" || !writes.message.includes("shoal-key-max"), `${spec.name} at the limit`);
        positions++;
      }
    }
    assert.ok(positions >= 50, `checked ${positions} key positions`);
  });

  it("refuses a write whose argument is over the value bound, before running it", () => {
    const over = new Uint8Array(valueSizeBytesMax + 1);
    let writes = 0;
    for (const spec of dataCommands.filter((s) => s.flags.includes("write"))) {
      const argv = argvOf(spec);
      const last = argv.length - 1;
      argv[last] = over;
      const expected = keyIndexes(spec, argv).includes(last) ? KEY_ERROR : VALUE_ERROR; // DEL's last is a key
      assert.deepEqual(runBothWays(argv).writes, { kind: "error", code: "TOO_LARGE", message: expected }, spec.name);
      writes++;
    }
    assert.ok(writes >= 25);
  });

  it("refuses an entry holding an over-long key (from any proposer) alike everywhere, changing nothing", () => {
    const long = new Uint8Array(70_000).fill(0x6b);
    const command = {
      op: "redis",
      nowMs: 5,
      argvs: [
        [b("SET"), b("a"), b("1")],
        [b("SET"), long, b("v")],
        [b("GET"), long],
        [b("GET"), b("a")],
      ],
    };
    assert.throws(() => encodeCommand(command as never), /shoal-key-max-bytes/, "refused before proposing");
    const data = encodeUnchecked(command);
    const outcomes = [new MapStateMachine(), new MapStateMachine()].map((machine) =>
      applyEntryData(machine, data, machine.state),
    );
    assert.deepEqual(outcomes[0], outcomes[1]);
    assert.deepEqual(outcomes[0]?.result, { kind: "error", revision: 0, code: "TOO_LARGE", message: KEY_ERROR });
    assert.equal(outcomes[0]?.mutations.length, 0);
  });

  it("refuses a whole entry whose put, txn, expire or watch names an over-long key, changing nothing", () => {
    const long = new Uint8Array(keySizeBytesMax + 1);
    const commands = [
      { op: "put", key: long, value: b("v"), nowMs: 1 },
      { op: "delete", key: long, nowMs: 1 },
      { op: "expire", keys: [b("a"), long], nowMs: 1 },
      { op: "txn", nowMs: 1, compares: [], success: [{ op: "get", key: long }], failure: [] },
      { op: "redis", nowMs: 1, argvs: [[b("GET"), b("a")]], watches: [{ key: long, modRevision: 0 }] },
    ];
    for (const command of commands) {
      const machine = new MapStateMachine();
      const outcome = applyEntryData(machine, encodeUnchecked(command), machine.state);
      assert.deepEqual(outcome.result, { kind: "error", revision: 0, code: "TOO_LARGE", message: KEY_ERROR });
      assert.equal(outcome.mutations.length, 0);
    }
  });
});
