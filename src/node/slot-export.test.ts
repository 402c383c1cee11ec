import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import type { Command, SlotCommand } from "../commands/command.js";
import { encodeCommand } from "../commands/command-codec.js";
import { hashSlot } from "../slots/hash-slot.js";
import { isTableEncoded } from "../store/collection.js";
import { type CommandStore, memoryCommandStore, openLmdbCommandStore } from "./command-store.js";
import { EXPORT_PAGE_KEYS, IMPORT_ENTRY_BYTES, importEntries, importUnits, recreateCommands } from "./slot-export.js";
import { applyCommands, bytes, text } from "./testing/command-store-helpers.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-slot-export-"));
let storeCount = 0;
after(() => fs.rmSync(root, { recursive: true, force: true }));

const factories: [string, () => CommandStore][] = [
  ["MemoryStore", () => memoryCommandStore()],
  ["LmdbStore", () => openLmdbCommandStore(path.join(root, `store-${++storeCount}`), { syncCommits: false })],
];

const SLOT = hashSlot(bytes("s"));
const WRITTEN_MS = 1_000;
const EXPORT_MS = 2_000;

const argv = (line: string): Uint8Array[] => line.split(" ").map(bytes);
const redis = (nowMs: number, ...argvs: Uint8Array[][]): Command => ({ op: "redis", nowMs, argvs });
const lines = (commands: Uint8Array[][]): string[] => commands.map((command) => command.map(text).join(" "));

function run(store: CommandStore, command: Command): void {
  const [result] = applyCommands(store, command);
  assert.ok(result !== undefined && result.kind !== "error", JSON.stringify(result));
}

const step = (action: SlotCommand["action"], extra: Partial<SlotCommand> = {}): SlotCommand => ({
  op: "slot",
  nowMs: EXPORT_MS,
  move: 1,
  action,
  slots: [SLOT],
  ...extra,
});

/** The slot's keys of `source` rebuilt in `destination` as a move does: importStart, import entries, importDone. */
function importSlot(source: CommandStore, destination: CommandStore, move = 1): void {
  const commands: Uint8Array[][] = [];
  let from: Uint8Array | undefined;
  for (let pages = 0; ; pages++) {
    assert.ok(pages <= source.countKeysInSlot(SLOT), "each page moves on");
    const keys = source.keysInSlot(SLOT, EXPORT_PAGE_KEYS, from);
    if (keys.length === 0) break;
    for (const key of keys) commands.push(...recreateCommands(source, key, EXPORT_MS));
    from = keys.at(-1);
  }
  run(destination, step("importStart", { shard: 1, move }));
  for (const argvs of importEntries(commands)) {
    const command = step("import", { argvs, move });
    encodeCommand(command); // what the mover proposes must fit one entry
    run(destination, command);
  }
  run(destination, step("importDone", { move }));
}

/** Every live key of the slot (an expired one not yet removed is left out), as the commands that rebuild it: equal
 * exactly when the data is. */
function slotImage(store: CommandStore): Map<string, string[]> {
  const image = new Map<string, string[]>();
  for (const key of store.keysInSlot(SLOT, 100_000)) {
    const commands = recreateCommands(store, key, EXPORT_MS);
    if (commands.length > 0) image.set(text(key) ?? "", normalized(commands));
  }
  return image;
}

/** `commands` as text, a hash's HSETs as one sorted list of its fields (a table hash lists them in its own order). */
function normalized(commands: Uint8Array[][]): string[] {
  const fields = [...hashFields(commands)].map(([field, value]) => `${field}=${text(value)}`);
  const others = lines(commands.filter((command) => text(command[0]) !== "HSET"));
  return fields.length === 0 ? others : [...others, `HSET ${fields.sort().join(" ")}`];
}

/** The fields and values the HSETs of `commands` set. */
function hashFields(commands: Uint8Array[][]): Map<string, Uint8Array> {
  const fields = new Map<string, Uint8Array>();
  for (const command of commands) {
    if (text(command[0]) !== "HSET") continue;
    for (let i = 2; i < command.length; i += 2) fields.set(text(command[i]) ?? "", command[i + 1] as Uint8Array);
  }
  return fields;
}

function bigHashArgv(key: string, fields: number): Uint8Array[] {
  const args = [bytes("HSET"), bytes(key)];
  for (let i = 0; i < fields; i++) args.push(bytes(`field-${i}`), bytes(`value-${i}-${"x".repeat(i % 50)}`));
  return args;
}

describe("recreateCommands", () => {
  const source = memoryCommandStore();
  run(
    source,
    redis(
      WRITTEN_MS,
      argv("SET {s}plain v1"),
      argv("SET {s}ttl v2 PX 100000"),
      [bytes("SET"), bytes("{s}binary"), Uint8Array.of(0, 255, 32, 10)],
      argv("HSET {s}small f1 a f2 b f0 c"),
      argv("HSET {s}small-ttl f v"),
      argv("PEXPIRE {s}small-ttl 50000"),
      bigHashArgv("{s}big", 1500),
      argv("PEXPIRE {s}big 70000"),
      argv("SET {s}expired x PX 500"),
      argv("SET other-slot y"),
    ),
  );

  it("rebuilds a string by SET, with PXAT when it expires", () => {
    assert.deepEqual(lines(recreateCommands(source, bytes("{s}plain"), EXPORT_MS)), ["SET {s}plain v1"]);
    assert.deepEqual(lines(recreateCommands(source, bytes("{s}ttl"), EXPORT_MS)), [
      `SET {s}ttl v2 PXAT ${WRITTEN_MS + 100_000}`,
    ]);
    assert.deepEqual(recreateCommands(source, bytes("{s}binary"), EXPORT_MS), [
      [bytes("SET"), bytes("{s}binary"), Uint8Array.of(0, 255, 32, 10)],
    ]);
  });

  it("rebuilds a compact hash by DEL and one HSET in its field order, then its expiry", () => {
    assert.deepEqual(lines(recreateCommands(source, bytes("{s}small"), EXPORT_MS)), [
      "DEL {s}small",
      "HSET {s}small f1 a f2 b f0 c",
    ]);
    assert.deepEqual(lines(recreateCommands(source, bytes("{s}small-ttl"), EXPORT_MS)), [
      "DEL {s}small-ttl",
      "HSET {s}small-ttl f v",
      `PEXPIREAT {s}small-ttl ${WRITTEN_MS + 50_000}`,
    ]);
  });

  it("rebuilds a table-encoded hash in HSETs of at most 1000 fields", () => {
    assert.equal(isTableEncoded(source.get(bytes("{s}big"), EXPORT_MS)?.value ?? new Uint8Array(0)), true);
    const commands = recreateCommands(source, bytes("{s}big"), EXPORT_MS);
    assert.equal(text(commands[0]?.[0]), "DEL");
    assert.deepEqual(lines([commands.at(-1) ?? []]), [`PEXPIREAT {s}big ${WRITTEN_MS + 70_000}`]);
    const hsets = commands.slice(1, -1);
    assert.ok(hsets.length >= 2, "more than one HSET");
    const fields = new Map<string, string>();
    for (const hset of hsets) {
      assert.equal(text(hset[0]), "HSET");
      assert.equal(text(hset[1]), "{s}big");
      assert.ok((hset.length - 2) / 2 <= 1000, "at most 1000 fields per HSET");
      for (let i = 2; i < hset.length; i += 2) fields.set(text(hset[i]) ?? "", text(hset[i + 1]) ?? "");
    }
    assert.equal(fields.size, 1500);
    assert.equal(fields.get("field-1499"), `value-1499-${"x".repeat(1499 % 50)}`);
  });

  it("rebuilds nothing for a key that is absent or expired", () => {
    assert.deepEqual(recreateCommands(source, bytes("{s}missing"), EXPORT_MS), []);
    assert.deepEqual(recreateCommands(source, bytes("{s}expired"), EXPORT_MS), []);
    assert.equal(lines(recreateCommands(source, bytes("{s}expired"), WRITTEN_MS)).length, 1, "live before");
  });

  for (const [name, factory] of factories) {
    it(`rebuilds identical data in a fresh ${name} through import entries`, async () => {
      const destination = factory();
      try {
        importSlot(source, destination);
        const expected = slotImage(source);
        assert.deepEqual([...expected.keys()].sort(), [
          "{s}big",
          "{s}binary",
          "{s}plain",
          "{s}small",
          "{s}small-ttl",
          "{s}ttl",
        ]);
        assert.deepEqual(slotImage(destination), expected);
        for (const key of expected.keys()) {
          const [want, got] = [source, destination].map((store) => store.get(bytes(key), EXPORT_MS));
          assert.equal(got?.type, want?.type, key);
          assert.equal(got?.expiresAtMs, want?.expiresAtMs, key);
          // A compact hash and a string are one record: the same bytes (a table hash's header names its own table).
          if (want !== undefined && !isTableEncoded(want.value)) assert.deepEqual(got?.value, want.value, key);
        }
        assert.equal(destination.get(bytes("other-slot"), EXPORT_MS), undefined, "nothing of another slot");
        assert.equal(destination.get(bytes("{s}expired"), EXPORT_MS), undefined);
        assert.deepEqual(
          [...destination.slotStates().values()].map((state) => state.phase),
          ["owned"],
        );
        // The same move again (a deposed mover's late steps) changes nothing; a later move of the slot back here (after
        // it left: here taken as imported over itself) rebuilds the same data.
        importSlot(source, destination); // accepted, writes nothing
        assert.deepEqual(slotImage(destination), expected);
        importSlot(source, destination, 2);
        assert.deepEqual(slotImage(destination), expected);
      } finally {
        await destination.close();
      }
    });
  }

  it("rebuilds a hash of big fields in commands that each fit an entry", async () => {
    const big = memoryCommandStore();
    const field = (i: number): Uint8Array => new Uint8Array(1024 * 1024).fill(i);
    for (let i = 0; i < 20; i++)
      run(big, redis(WRITTEN_MS, [bytes("HSET"), bytes("{s}huge"), bytes(`f${i}`), field(i)]));
    const medium = [bytes("HSET"), bytes("{s}huge")];
    for (let i = 0; i < 30; i++) medium.push(bytes(`m${i}`), new Uint8Array(100 * 1024).fill(i));
    run(big, redis(WRITTEN_MS, medium));
    for (const hset of recreateCommands(big, bytes("{s}huge"), EXPORT_MS).slice(1)) {
      const payload = hset.slice(2).reduce((sum, part) => sum + part.byteLength, 0);
      assert.ok(hset.length === 4 || payload <= IMPORT_ENTRY_BYTES, `an HSET of ${payload} bytes`);
    }
    const destination = memoryCommandStore();
    importSlot(big, destination);
    const rebuilt = recreateCommands(destination, bytes("{s}huge"), EXPORT_MS);
    const fields = hashFields(rebuilt);
    assert.equal(fields.size, 50);
    assert.deepEqual(fields, hashFields(recreateCommands(big, bytes("{s}huge"), EXPORT_MS)));
    assert.deepEqual(fields.get("f7"), field(7));
    await destination.close();
    await big.close();
  });
});

describe("importEntries", () => {
  const size = (command: Uint8Array[]): number => command.reduce((sum, part) => sum + part.byteLength + 8, 0);

  it("packs nothing into no entry", () => {
    assert.deepEqual(importEntries([]), []);
  });

  it("keeps every command, in order, each entry within its byte budget", () => {
    const commands = Array.from({ length: 3000 }, (_, i) => [
      bytes("SET"),
      bytes(`{s}k${i}`),
      new Uint8Array(100 + ((i * 37) % 900)),
    ]);
    const entries = importEntries(commands);
    assert.ok(entries.length > 1);
    assert.deepEqual(entries.flat(), commands);
    for (const entry of entries) {
      assert.ok(entry.length > 0);
      assert.ok(entry.reduce((sum, command) => sum + size(command), 0) <= IMPORT_ENTRY_BYTES);
    }
    // Full entries: the next command would not have fitted.
    for (let i = 0; i + 1 < entries.length; i++) {
      const entry = entries[i] as Uint8Array[][];
      const next = (entries[i + 1] as Uint8Array[][])[0] as Uint8Array[];
      const used = entry.reduce((sum, command) => sum + size(command), 0);
      assert.ok(used + size(next) > IMPORT_ENTRY_BYTES || entry.length >= 2000, `entry ${i} was closed early`);
    }
  });

  it("gives a command bigger than the budget an entry of its own", () => {
    const small = [bytes("SET"), bytes("a"), bytes("1")];
    const huge = [bytes("SET"), bytes("b"), new Uint8Array(IMPORT_ENTRY_BYTES + 1)];
    assert.deepEqual(importEntries([small, huge, small]), [[small], [huge], [small]]);
    assert.deepEqual(importEntries([huge, huge]), [[huge], [huge]]);
  });

  it("bounds the commands per entry", () => {
    const tiny = Array.from({ length: 4500 }, () => [bytes("DEL"), bytes("k")]);
    const entries = importEntries(tiny);
    assert.deepEqual(
      entries.map((entry) => entry.length),
      [2000, 2000, 500],
    );
  });
});

describe("importUnits", () => {
  const key = (name: string): Uint8Array => bytes(name);
  const set = (name: string, size: number): Uint8Array[] => [bytes("SET"), key(name), new Uint8Array(size)];

  it("packs whole keys into entries of any order, and a key bigger than an entry alone, in order", () => {
    const small = Array.from({ length: 40 }, (_, i) => [set(`k${i}`, 64 * 1024)]);
    const big = [
      [bytes("DEL"), key("big")],
      ...Array.from({ length: 3 }, () => [bytes("HSET"), key("big"), bytes("f"), new Uint8Array(400 * 1024)]),
      [bytes("PEXPIREAT"), key("big"), bytes("99999999999")],
    ];
    const units = importUnits([...small.slice(0, 20), big, ...small.slice(20)]);
    // Every key's commands sit in exactly one unit, never split between two.
    for (const name of ["k0", "k19", "k39", "big"]) {
      const holding = units.filter((unit) => unit.some((entry) => entry.some((argv) => text(argv[1]) === name)));
      assert.equal(holding.length, 1, `${name} in one unit`);
    }
    const bigUnit = units.find((unit) => unit.some((entry) => entry.some((argv) => text(argv[1]) === "big")));
    assert.ok(bigUnit !== undefined && bigUnit.length > 1, "the big key's entries form one ordered unit");
    assert.deepEqual(
      bigUnit.flat().map((argv) => text(argv[0])),
      ["DEL", "HSET", "HSET", "HSET", "PEXPIREAT"],
    );
    for (const unit of units) {
      if (unit === bigUnit) continue;
      assert.equal(unit.length, 1, "a unit of small keys is one entry");
      const size = (unit[0] ?? []).reduce((sum, argv) => sum + argv.reduce((n, part) => n + part.byteLength, 0), 0);
      assert.ok(size <= IMPORT_ENTRY_BYTES, `an entry of ${size} bytes`);
    }
    assert.equal(units.flat(2).length, small.length + big.length, "every command, once");
  });
});
