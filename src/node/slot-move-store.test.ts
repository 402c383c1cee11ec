/**
 * Slot moves through the real stores (MemoryStore and LmdbStore applying entries with the command semantics): the
 * slot states each step records, kept across a reopen and in snapshots, the refusals of every phase, and the slot
 * index a mover pages through.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import type { Command, CommandResult, SlotCommand } from "../commands/command.js";
import { EMPTY_BYTES } from "../lib/bytes.js";
import { ShoalError } from "../lib/errors.js";
import { hashSlot } from "../slots/hash-slot.js";
import { askTarget, type SlotStates } from "../store/slot-states.js";
import { type CommandStore, memoryCommandStore, openLmdbCommandStore } from "./command-store.js";
import { EXPORT_PAGE_KEYS, importEntries, recreateCommands } from "./slot-export.js";
import { applyCommands, bytes, entriesFor, stateBytes, text } from "./testing/command-store-helpers.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-slot-move-store-"));
let storeCount = 0;
after(() => fs.rmSync(root, { recursive: true, force: true }));

interface Kind {
  readonly name: string;
  /** A fresh store, and how to reopen it (undefined: it keeps nothing across a close). */
  readonly open: () => { readonly store: CommandStore; readonly reopen?: () => CommandStore };
}

const KINDS: readonly Kind[] = [
  { name: "MemoryStore", open: () => ({ store: memoryCommandStore() }) },
  {
    name: "LmdbStore",
    open: () => {
      const dir = path.join(root, `store-${++storeCount}`);
      return { store: openLmdbCommandStore(dir, { syncCommits: false }), reopen: () => openLmdbCommandStore(dir) };
    },
  },
];

// Hash tags put keys in chosen slots: {m} moves, {o} stays, {i} and {g} for other phases.
const M = hashSlot(bytes("m"));
const O = hashSlot(bytes("o"));
const I = hashSlot(bytes("i"));
const G = hashSlot(bytes("g"));
const NOW = 1_000;

const argv = (line: string): Uint8Array[] => line.split(" ").map(bytes);
const redis = (nowMs: number, ...lines: string[]): Command => ({ op: "redis", nowMs, argvs: lines.map(argv) });
const slotStep = (
  action: SlotCommand["action"],
  slots: readonly number[],
  extra: Partial<SlotCommand> = {},
): SlotCommand => ({ op: "slot", nowMs: NOW, move: 1, action, slots, ...extra });

function one(store: CommandStore, command: Command): CommandResult {
  const [result] = applyCommands(store, command);
  assert.ok(result !== undefined);
  return result;
}

function ok(store: CommandStore, command: Command): CommandResult {
  const result = one(store, command);
  assert.notEqual(result.kind, "error", JSON.stringify(result));
  return result;
}

/** Applies `command`, which must be refused with `code`, changing no key, no revision and no slot state. */
function refused(store: CommandStore, command: Command, code: string): Extract<CommandResult, { kind: "error" }> {
  const before = contents(store);
  const result = one(store, command);
  assert.equal(result.kind, "error", `expected ${code}, got ${JSON.stringify(result)}`);
  assert.ok(result.kind === "error");
  assert.equal(result.code, code, result.message);
  assert.deepEqual(contents(store), before, "a refused command changes nothing");
  return result;
}

/** What a refusal must leave as it was: every stored key (expired ones too, through the slot index), the revision
 * and the slot states. */
function contents(store: CommandStore): unknown {
  const keys = [M, O, I, G].flatMap((slot) =>
    store.keysInSlot(slot, 1000).map((key) => {
      const record = store.get(key, 0);
      return [text(key), record?.type, record?.value, record?.modRevision, record?.expiresAtMs];
    }),
  );
  return { keys, revision: store.revision(), slots: [...store.slotStates()], stats: store.stats() };
}

/** A Redis entry's replies as text (`error CODE` for an error reply). */
function replies(store: CommandStore, nowMs: number, ...lines: string[]): string[] {
  const result = ok(store, redis(nowMs, ...lines));
  assert.ok(result.kind === "redis");
  return result.replies.map((reply) => {
    if (reply.kind === "bulk") return text(reply.value) ?? "";
    if (reply.kind === "integer") return String(reply.value);
    if (reply.kind === "error") return `error ${reply.code}`;
    return reply.kind;
  });
}

type StateRow = [slot: number, phase: string, shard: number];
const bySlot = (rows: StateRow[]): StateRow[] => rows.sort(([a], [b]) => a - b);
const statesOf = (store: CommandStore): StateRow[] =>
  bySlot([...store.slotStates()].map(([slot, { phase, shard }]) => [slot, phase, shard]));

/** A store holding a frozen, an importing and a gone slot. */
function withEveryPhase(store: CommandStore): SlotStates {
  ok(store, redis(NOW, "SET {m}a 1", "SET {g}b 2"));
  ok(store, slotStep("freeze", [M], { shard: 2 }));
  ok(store, slotStep("importStart", [I], { shard: 3 }));
  ok(store, slotStep("freeze", [G], { shard: 4 }));
  ok(store, slotStep("handOff", [G]));
  assert.deepEqual(
    statesOf(store),
    bySlot([
      [M, "frozen", 2],
      [I, "importing", 3],
      [G, "gone", 4],
    ]),
  );
  return store.slotStates();
}

describe("slot states in the stores", () => {
  it("distinct slots for the tags", () => {
    assert.equal(new Set([M, O, I, G]).size, 4);
  });

  for (const kind of KINDS) {
    it(`${kind.name}: records each step's states, none at first`, async () => {
      const { store } = kind.open();
      try {
        assert.equal(store.slotStates().size, 0);
        withEveryPhase(store);
        ok(store, slotStep("importDone", [I]));
        assert.equal(store.slotStates().get(I)?.phase, "owned", "served, and remembered as imported by its move");
      } finally {
        await store.close();
      }
    });

    it(`${kind.name}: carries the slot states in a snapshot restored into every kind of store`, async () => {
      const { store } = kind.open();
      try {
        const states = withEveryPhase(store);
        const image = await stateBytes(store);
        for (const into of KINDS) {
          const { store: copy } = into.open();
          try {
            await copy.restore([image]);
            assert.deepEqual(copy.slotStates(), states, `restored into ${into.name}`);
            assert.deepEqual(await stateBytes(copy), image);
            // The restored copy refuses as its source does.
            refused(copy, redis(NOW, "SET {m}a 2"), "SLOT_MIGRATING");
            refused(copy, redis(NOW, "GET {g}b"), "ASK");
            refused(copy, redis(NOW, "GET {i}c"), "SLOT_MIGRATING");
          } finally {
            await copy.close();
          }
        }
      } finally {
        await store.close();
      }
    });

    it(`${kind.name}: a restored image without slot states clears the states it had`, async () => {
      const { store } = kind.open();
      const plain = memoryCommandStore();
      try {
        withEveryPhase(store);
        ok(plain, redis(NOW, "SET {m}a 9"));
        await store.restore([await stateBytes(plain)]);
        assert.equal(store.slotStates().size, 0);
        assert.deepEqual(replies(store, NOW, "SET {m}a 10", "GET {g}b", "GET {i}c"), ["simple", "null", "null"]);
      } finally {
        await plain.close();
        await store.close();
      }
    });

    it(`${kind.name}: keeps an imported slot recorded (owned by its move): a late step of it changes nothing`, async () => {
      const { store } = kind.open();
      try {
        ok(store, slotStep("importStart", [M], { shard: 2 }));
        ok(store, slotStep("importDone", [M]));
        assert.deepEqual(store.slotStates().get(M), { phase: "owned", shard: 2, move: 1 });
        assert.deepEqual(replies(store, NOW, "SET {m}a 1"), ["simple"], "served");
        // A late step of that move (a driver deposed midway) changes nothing: its import does not overwrite.
        ok(store, slotStep("importStart", [M], { shard: 2 }));
        ok(store, slotStep("import", [M], { argvs: [argv("SET {m}a stale")] }));
        assert.deepEqual(replies(store, NOW, "GET {m}a"), ["1"], "the write made since the import stands");
        assert.deepEqual(store.slotStates().get(M), { phase: "owned", shard: 2, move: 1 });
      } finally {
        await store.close();
      }
    });
  }

  it("LmdbStore: keeps the slot states across a reopen, and refuses alike after it", async () => {
    const kind = KINDS.find((each) => each.name === "LmdbStore") as Kind;
    const { store, reopen } = kind.open();
    assert.ok(reopen !== undefined);
    const states = withEveryPhase(store);
    const image = await stateBytes(store);
    await store.close();
    let reopened = reopen();
    try {
      assert.deepEqual(reopened.slotStates(), states);
      assert.deepEqual(await stateBytes(reopened), image);
      refused(reopened, redis(NOW, "SET {m}a 2"), "SLOT_MIGRATING");
      const ask = refused(reopened, redis(NOW, "SET {g}b 3"), "ASK");
      assert.deepEqual(askTarget(new ShoalError(ask.code, ask.message)), { slot: G, shard: 4 });
      // A step applied after the reopen is kept by the next one.
      ok(reopened, slotStep("handOff", [M]));
      await reopened.close();
      reopened = reopen();
      assert.equal(reopened.slotStates().get(M)?.phase, "gone");
      ok(reopened, slotStep("importDone", [I]));
      // Moved back by a later move (2): the gone slot is imported again; move 1 may not.
      refused(reopened, slotStep("importStart", [M], { shard: 2 }), "BAD_REQUEST");
      ok(reopened, slotStep("importStart", [M], { shard: 2, move: 2 }));
      ok(reopened, slotStep("importDone", [M], { move: 2 }));
      await reopened.close();
      reopened = reopen();
      assert.deepEqual(reopened.slotStates().get(M), { phase: "owned", shard: 2, move: 2 });
      assert.equal(reopened.slotStates().get(I)?.phase, "owned");
      assert.equal(reopened.slotStates().get(G)?.phase, "gone");
    } finally {
      await reopened.close();
    }
  });
});

describe("revisions across a slot move", () => {
  for (const kind of KINDS) {
    it(`${kind.name}: an import takes a revision above its source's, skipped revisions hold no events`, async () => {
      const { store, reopen } = kind.open();
      let current = store;
      try {
        ok(current, redis(NOW, "SET {o}x 1"));
        assert.equal(current.revision(), 1);
        ok(current, slotStep("importStart", [M], { shard: 2 }));
        // An import that writes nothing leaves the revision alone, floor or not.
        ok(current, slotStep("import", [M], { argvs: [argv("DEL {m}none")], revisionFloor: 500 }));
        assert.equal(current.revision(), 1);
        // The source read its keys at revision 500: the copy is written at 501, above any modRevision there.
        ok(current, slotStep("import", [M], { argvs: [argv("SET {m}a 1")], revisionFloor: 500 }));
        assert.equal(current.revision(), 501);
        assert.equal(current.get(bytes("{m}a"), NOW)?.modRevision, 501);
        // A floor below the shard's revision changes nothing about the next revision.
        ok(current, slotStep("import", [M], { argvs: [argv("SET {m}b 2")], revisionFloor: 3 }));
        assert.equal(current.get(bytes("{m}b"), NOW)?.modRevision, 502);
        ok(current, slotStep("importDone", [M]));
        ok(current, redis(NOW, "SET {o}x 2"));
        assert.equal(current.get(bytes("{o}x"), NOW)?.modRevision, 503);
        // A floor no revision can follow is refused before it is proposed (and at apply: apply-command.test.ts).
        const unfollowable = slotStep("import", [M], { argvs: [argv("SET {m}c 3")], revisionFloor: 2 ** 53 });
        assert.throws(() => one(current, unfollowable), /revision floor/);
        const revisionsOf = (from: number): number[] => current.events(from, current.revision()).map((e) => e.revision);
        assert.deepEqual(revisionsOf(1), [1, 501, 502, 503]);
        assert.deepEqual(revisionsOf(2), [501, 502, 503], "a watch from a skipped revision sees the next change");
        assert.deepEqual(revisionsOf(300), [501, 502, 503]);
        assert.deepEqual(current.historyStats().revisionCount, 4);
        if (reopen !== undefined) {
          await current.close();
          current = reopen();
          assert.deepEqual(revisionsOf(1), [1, 501, 502, 503], "the history's window reloads across the gap");
          ok(current, redis(NOW, "SET {o}x 3"));
          assert.deepEqual(revisionsOf(400), [501, 502, 503, 504]);
        }
      } finally {
        await current.close();
      }
    });
  }
});

describe("slot states written off the event loop", () => {
  it("LmdbStore: a big batch written on its writer thread keeps its slot states across a reopen", async () => {
    const kind = KINDS.find((each) => each.name === "LmdbStore") as Kind;
    const { store, reopen } = kind.open();
    assert.ok(reopen !== undefined && store.applyEntriesOffLoop !== undefined);
    const names = Array.from({ length: 1500 }, (_, i) => `{m}k${i}`);
    const batch = entriesFor(store, [
      slotStep("importStart", [M], { shard: 1 }),
      slotStep("import", [M], { argvs: [argv(`MSET ${names.map((name) => `${name} v`).join(" ")}`)] }),
      slotStep("freeze", [O], { shard: 5 }),
      redis(NOW, "SET {o}x 1"),
    ]);
    const results = await store.applyEntriesOffLoop(batch);
    assert.deepEqual(
      results.map((result) => (result.kind === "error" ? result.code : result.kind)),
      ["noop", "noop", "noop", "SLOT_MIGRATING"],
    );
    const states = store.slotStates();
    const image = await stateBytes(store);
    await store.close();
    const reopened = reopen();
    try {
      assert.deepEqual(reopened.slotStates(), states);
      assert.deepEqual(
        statesOf(reopened),
        bySlot([
          [M, "importing", 1],
          [O, "frozen", 5],
        ]),
      );
      assert.equal(reopened.countKeysInSlot(M), 1500);
      assert.deepEqual(await stateBytes(reopened), image);
    } finally {
      await reopened.close();
    }
  });
});

describe("keysInSlot paging", () => {
  for (const kind of KINDS) {
    it(`${kind.name}: pages through a slot's keys in bytewise order with after`, async () => {
      const { store } = kind.open();
      try {
        const names = Array.from({ length: 23 }, (_, i) => `{m}k${String(i).padStart(2, "0")}`);
        ok(store, redis(NOW, `MSET ${names.map((name) => `${name} v`).join(" ")}`, "SET {o}x 1", "SET {m} 1"));
        ok(store, {
          op: "redis",
          nowMs: NOW,
          argvs: [
            [bytes("SET"), Uint8Array.of(...bytes("{m}"), 0xff), bytes("high")],
            [bytes("SET"), Uint8Array.of(...bytes("{m}"), 0x00), bytes("low")],
          ],
        });
        const all = store.keysInSlot(M, 1000);
        assert.equal(all.length, 26);
        assert.deepEqual(
          all,
          [...all].sort((a, b) => Buffer.compare(a, b)),
          "bytewise order",
        );
        assert.deepEqual(all[0], bytes("{m}"));
        assert.deepEqual(all[1], Uint8Array.of(...bytes("{m}"), 0x00));
        assert.deepEqual(all.at(-1), Uint8Array.of(...bytes("{m}"), 0xff));
        for (const limit of [1, 3, 7, 26, 100]) {
          const paged: Uint8Array[] = [];
          let from: Uint8Array | undefined;
          for (let pages = 0; ; pages++) {
            assert.ok(pages <= all.length, "each page moves on");
            const page = store.keysInSlot(M, limit, from);
            assert.ok(page.length <= limit);
            if (page.length === 0) break;
            paged.push(...page);
            from = page.at(-1);
          }
          assert.deepEqual(paged, all, `pages of ${limit}`);
        }
        assert.deepEqual(store.keysInSlot(M, 5, all.at(-1)), [], "nothing after the last");
        assert.deepEqual(store.keysInSlot(M, 0, all[3]), []);
        assert.deepEqual(store.keysInSlot(M, 1000, EMPTY_BYTES), all, "everything sorts after the empty key");
        // After a key that is not stored: from the next one that is.
        assert.deepEqual(store.keysInSlot(M, 2, bytes("{m}k05x")).map(text), ["{m}k06", "{m}k07"]);
        assert.deepEqual(store.keysInSlot(M, 2, bytes("{m}k0")).map(text), ["{m}k00", "{m}k01"]);
        // `after` of another slot: still only this slot's keys, those sorting after it.
        for (const foreign of ["{o}x", "{m", "zzz", "{a}"]) {
          const want = all.filter((key) => Buffer.compare(key, bytes(foreign)) > 0);
          assert.deepEqual(store.keysInSlot(M, 1000, bytes(foreign)), want, `after ${foreign}`);
        }
        assert.deepEqual(store.keysInSlot(O, 10, bytes("{o}x")), []);
      } finally {
        await store.close();
      }
    });

    it(`${kind.name}: lists keys past their expiry until they are removed`, async () => {
      const { store } = kind.open();
      try {
        ok(store, redis(NOW, "SET {m}short v PX 10", "SET {m}long v"));
        assert.deepEqual(store.keysInSlot(M, 10, undefined).map(text), ["{m}long", "{m}short"]);
        assert.equal(store.get(bytes("{m}short"), NOW + 100), undefined);
        assert.deepEqual(store.keysInSlot(M, 10, bytes("{m}long")).map(text), ["{m}short"]);
      } finally {
        await store.close();
      }
    });
  }
});

/** Every command that rebuilds `source`'s keys of `slot`, paged as the mover pages. */
function exportSlot(source: CommandStore, slot: number, nowMs: number): Uint8Array[][] {
  const commands: Uint8Array[][] = [];
  let from: Uint8Array | undefined;
  for (let pages = 0; ; pages++) {
    assert.ok(pages <= source.countKeysInSlot(slot), "each page moves on");
    const keys = source.keysInSlot(slot, EXPORT_PAGE_KEYS, from);
    if (keys.length === 0) return commands;
    for (const key of keys) commands.push(...recreateCommands(source, key, nowMs));
    from = keys.at(-1);
  }
}

describe("a slot move through the stores", () => {
  for (const sourceKind of KINDS) {
    for (const destinationKind of KINDS) {
      it(`from a ${sourceKind.name} to a ${destinationKind.name}, with the refusals of each phase`, async () => {
        const opened = sourceKind.open();
        const { store: destination } = destinationKind.open();
        let source = opened.store;
        try {
          await moveSlot(source, destination);
          if (opened.reopen !== undefined) {
            await source.close();
            source = opened.reopen();
            assert.deepEqual(statesOf(source), [[M, "gone", 2]]);
            refused(source, redis(NOW, "GET {m}a"), "ASK");
          }
        } finally {
          await source.close();
          await destination.close();
        }
      });
    }
  }
});

async function moveSlot(source: CommandStore, destination: CommandStore): Promise<void> {
  ok(source, redis(NOW, "SET {m}a 1", "HSET {m}h f v", "SET {m}ttl x PX 10", "SET {o}b 2"));
  ok(destination, redis(NOW, "SET {o}d 4"));

  // Freeze (source): the slot's keys are read-only.
  const frozen = ok(source, slotStep("freeze", [M], { shard: 2 }));
  assert.deepEqual(frozen, { kind: "noop", revision: source.revision() });
  assert.deepEqual(statesOf(source), [[M, "frozen", 2]]);
  refused(source, redis(NOW, "SET {m}a changed"), "SLOT_MIGRATING");
  refused(source, redis(NOW, "HSET {m}h f2 v2"), "SLOT_MIGRATING");
  refused(source, { op: "put", key: bytes("{m}new"), value: bytes("x"), nowMs: NOW }, "SLOT_MIGRATING");
  refused(source, { op: "delete", key: bytes("{m}a"), nowMs: NOW }, "SLOT_MIGRATING");
  refused(source, redis(NOW, "GET {m}a", "SET {o}b 3"), "SLOT_MIGRATING");
  refused(source, redis(NOW, "FLUSHALL"), "SLOT_MIGRATING");
  assert.deepEqual(replies(source, NOW, "GET {m}a", "HGET {m}h f", "EXISTS {m}a {o}b"), ["1", "v", "2"]);
  assert.deepEqual(replies(source, NOW, "SET {o}b 3"), ["simple"], "other slots are written as ever");
  // In one batch, a write after the freeze is refused by the state the batch's freeze left.
  const [again, write] = applyCommands(source, slotStep("freeze", [M], { shard: 2 }), redis(NOW, "SET {m}a x"));
  assert.equal(again?.kind, "noop", "a repeated freeze");
  assert.equal(write?.kind === "error" && write.code, "SLOT_MIGRATING");
  // Steps out of order.
  refused(source, slotStep("freeze", [M], { shard: 3 }), "BAD_REQUEST");
  refused(source, slotStep("importStart", [M], { shard: 2 }), "BAD_REQUEST");
  refused(source, slotStep("import", [M], { argvs: [argv("SET {m}a 5")] }), "BAD_REQUEST");
  refused(source, slotStep("importDone", [M]), "BAD_REQUEST");
  refused(source, slotStep("drop", [M], { keys: [bytes("{m}a")] }), "BAD_REQUEST");
  refused(source, slotStep("handOff", [M, O]), "BAD_REQUEST");
  // The leader's expiry leaves the frozen slot's keys alone: the copy being taken is final.
  const expired = source.expiredKeys(NOW + 100, 10);
  assert.deepEqual(expired.map(text), ["{m}ttl"]);
  ok(source, { op: "expire", nowMs: NOW + 100, keys: expired });
  assert.deepEqual(source.keysInSlot(M, 10).map(text), ["{m}a", "{m}h", "{m}ttl"]);

  // Import (destination): nothing but the move's own entries touches the slot.
  refused(destination, slotStep("import", [M], { argvs: [argv("SET {m}a 1")] }), "BAD_REQUEST");
  // An importDone of a slot not being imported by this move is refused: it changes nothing.
  refused(destination, slotStep("importDone", [M]), "BAD_REQUEST");
  assert.equal(destination.slotStates().size, 0);
  ok(destination, slotStep("importStart", [M], { shard: 1 }));
  ok(destination, slotStep("importStart", [M], { shard: 1 }));
  refused(destination, slotStep("importStart", [M], { shard: 3 }), "BAD_REQUEST");
  refused(destination, slotStep("freeze", [M], { shard: 1 }), "BAD_REQUEST");
  refused(destination, redis(NOW, "GET {m}a"), "SLOT_MIGRATING");
  refused(destination, redis(NOW, "SET {m}a 7"), "SLOT_MIGRATING");
  refused(destination, redis(NOW, "FLUSHALL"), "SLOT_MIGRATING");
  refused(destination, slotStep("import", [M], { argvs: [argv("SET {m}z 1"), argv("SET {o}z 1")] }), "BAD_REQUEST");
  refused(destination, slotStep("import", [M], { argvs: [argv("PING")] }), "BAD_REQUEST");
  const commands = exportSlot(source, M, NOW + 100);
  assert.deepEqual(
    commands.map((command) => command.map(text).join(" ")),
    ["SET {m}a 1", "DEL {m}h", "HSET {m}h f v"],
    "an expired key is not copied",
  );
  for (let round = 0; round < 2; round++) {
    // Twice: a mover that lost its place imports again; the data is the same.
    for (const argvs of importEntries(commands)) ok(destination, slotStep("import", [M], { argvs, nowMs: NOW + 100 }));
  }
  ok(destination, slotStep("importDone", [M]));
  ok(destination, slotStep("importDone", [M]));
  assert.deepEqual(
    [...destination.slotStates().values()].map((state) => state.phase),
    ["owned"],
  );
  assert.deepEqual(replies(destination, NOW + 100, "GET {m}a", "HGET {m}h f", "EXISTS {m}ttl"), ["1", "v", "0"]);
  assert.deepEqual(replies(destination, NOW + 100, "SET {m}new 1"), ["simple"], "served once imported");

  // Hand-off (source): the slot is gone; every command for it is asked of the destination.
  refused(source, slotStep("drop", [M], { keys: [bytes("{m}a")] }), "BAD_REQUEST");
  ok(source, slotStep("handOff", [M]));
  const handedOff = [...source.slotStates()];
  ok(source, slotStep("handOff", [M]));
  assert.deepEqual([...source.slotStates()], handedOff, "a repeated handOff");
  for (const command of [
    redis(NOW, "GET {m}a"),
    redis(NOW, "SET {m}brand-new 1"),
    redis(NOW, "GET {o}b", "GET {m}a"),
  ]) {
    const ask = refused(source, command, "ASK");
    assert.deepEqual(askTarget(new ShoalError("ASK", ask.message)), { slot: M, shard: 2 });
  }
  assert.equal(replies(source, NOW, "FLUSHALL").length, 1, "only a gone slot: a flush is not held back");
  ok(source, redis(NOW, "SET {o}b 2"));
  refused(source, slotStep("freeze", [M], { shard: 2 }), "BAD_REQUEST");
  refused(source, slotStep("importDone", [M]), "BAD_REQUEST");
}

describe("dropping a gone slot's keys", () => {
  for (const kind of KINDS) {
    it(`${kind.name}: deletes every key the drop names in the gone slot, expired ones too, and nothing else`, async () => {
      const { store } = kind.open();
      try {
        ok(store, redis(NOW, "SET {m}a 1", "HSET {m}h f v", "SET {m}ttl x PX 10", "SET {o}b 2"));
        ok(store, slotStep("freeze", [M], { shard: 2 }));
        ok(store, slotStep("handOff", [M]));
        // The expiry scanner names the expired key; the gone slot's keys are not this shard's to expire.
        ok(store, { op: "expire", nowMs: NOW + 100, keys: store.expiredKeys(NOW + 100, 10) });
        assert.equal(store.countKeysInSlot(M), 3);
        // The mover drops what the slot index lists until it lists nothing.
        let rounds = 0;
        for (let keys = store.keysInSlot(M, 2); keys.length > 0; keys = store.keysInSlot(M, 2)) {
          assert.ok(++rounds <= 3, "the drop makes progress");
          ok(store, slotStep("drop", [M], { keys: [...keys, bytes("{o}b")], nowMs: NOW + 100 }));
        }
        assert.equal(store.countKeysInSlot(M), 0);
        assert.equal(store.stats().keyCount, 1);
        assert.equal(text(store.get(bytes("{o}b"), NOW)?.value), "2", "a key of another slot named is kept");
        assert.deepEqual(statesOf(store), [[M, "gone", 2]], "a gone slot stays recorded");
        const repeated = ok(store, slotStep("drop", [M], { keys: [bytes("{m}a")] }));
        assert.deepEqual(repeated, { kind: "noop", revision: store.revision() });
      } finally {
        await store.close();
      }
    });
  }
});
