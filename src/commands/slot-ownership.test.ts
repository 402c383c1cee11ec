import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keyId } from "../lib/bytes.js";
import { ShoalError } from "../lib/errors.js";
import { hashSlot } from "../slots/hash-slot.js";
import { askTarget, NO_SLOT_STATES, type SlotState, type SlotStates } from "../store/slot-states.js";
import type { Command, CommandResult, SlotCommand } from "./command.js";
import { checkImportKeys, expireOwned, importWrites, keysOfArgvs, refusalOf, slotStep } from "./slot-ownership.js";
import { MapStateMachine } from "./testing/map-state-machine.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);
const argv = (line: string): Uint8Array[] => line.split(" ").map(bytes);

// Hash tags put keys in chosen slots: {F} frozen, {I} importing, {G} gone, {O} owned (not recorded).
const F = hashSlot(bytes("F"));
const I = hashSlot(bytes("I"));
const G = hashSlot(bytes("G"));
const O = hashSlot(bytes("O"));
const recorded: SlotStates = new Map<number, SlotState>([
  [F, { phase: "frozen", shard: 2, move: 1 }],
  [I, { phase: "importing", shard: 3, move: 1 }],
  [G, { phase: "gone", shard: 4, move: 1 }],
]);

const redis = (...lines: string[]): Command => ({ op: "redis", nowMs: 0, argvs: lines.map(argv) });
const codeOf = (error: ShoalError | undefined): string | undefined => error?.code;

function refusalCode(command: Command, states: SlotStates = recorded): string | undefined {
  assert.ok(command.op !== "slot");
  return codeOf(refusalOf(command, states));
}

describe("refusalOf", () => {
  it("distinct slots for the tags", () => {
    assert.equal(new Set([F, I, G, O]).size, 4);
  });

  it("refuses puts and deletes of frozen and importing slots (SLOT_MIGRATING) and gone ones (ASK)", () => {
    const put = (key: string): Command => ({ op: "put", key: bytes(key), value: bytes("v"), nowMs: 0 });
    const del = (key: string): Command => ({ op: "delete", key: bytes(key), nowMs: 0 });
    assert.equal(refusalCode(put("{F}k")), "SLOT_MIGRATING");
    assert.equal(refusalCode(put("{I}k")), "SLOT_MIGRATING");
    assert.equal(refusalCode(put("{G}k")), "ASK");
    assert.equal(refusalCode(put("{O}k")), undefined);
    assert.equal(refusalCode(del("{F}k")), "SLOT_MIGRATING");
    assert.equal(refusalCode(del("{G}k")), "ASK");
    assert.equal(refusalCode(del("{O}k")), undefined);
    const ask = refusalOf({ op: "put", key: bytes("{G}k"), value: bytes("v"), nowMs: 0 }, recorded);
    assert.ok(ask !== undefined);
    assert.deepEqual(askTarget(ask), { slot: G, shard: 4 });
  });

  it("leaves expire to expireOwned", () => {
    assert.equal(refusalCode({ op: "expire", keys: [bytes("{F}k"), bytes("{G}k")], nowMs: 0 }), undefined);
  });

  it("refuses a txn touching a moving slot anywhere, even only comparing or reading it", () => {
    const txn = (compareKey: string, successKey: string, failureKey: string): Command => ({
      op: "txn",
      nowMs: 0,
      compares: [{ key: bytes(compareKey), target: "version", op: "==", value: 0 }],
      success: [{ op: "get", key: bytes(successKey) }],
      failure: [{ op: "put", key: bytes(failureKey), value: bytes("v") }],
    });
    assert.equal(refusalCode(txn("{O}a", "{O}b", "{O}c")), undefined);
    assert.equal(refusalCode(txn("{F}a", "{O}b", "{O}c")), "SLOT_MIGRATING");
    assert.equal(refusalCode(txn("{O}a", "{F}b", "{O}c")), "SLOT_MIGRATING");
    assert.equal(refusalCode(txn("{O}a", "{O}b", "{G}c")), "ASK");
  });

  it("serves a read-only redis entry on a frozen slot, refuses one on an importing or gone slot", () => {
    assert.equal(refusalCode(redis("GET {F}k")), undefined);
    assert.equal(refusalCode(redis("GET {F}k", "HGETALL {F}h", "EXISTS {F}a {O}b")), undefined);
    assert.equal(refusalCode(redis("GET {I}k")), "SLOT_MIGRATING");
    assert.equal(refusalCode(redis("GET {G}k")), "ASK");
  });

  it("refuses a redis entry writing a frozen slot, or reading it beside any write", () => {
    assert.equal(refusalCode(redis("SET {F}k v")), "SLOT_MIGRATING");
    assert.equal(refusalCode(redis("HSET {F}h f v")), "SLOT_MIGRATING");
    // A MULTI: one write makes the whole entry a write, so its read of the frozen slot is refused too.
    assert.equal(refusalCode(redis("GET {F}k", "SET {O}k v")), "SLOT_MIGRATING");
    assert.equal(refusalCode(redis("SET {O}k v", "GET {O}x")), undefined);
    // Every key of a multi-key command counts, not only the first.
    assert.equal(refusalCode(redis("MSET {O}a 1 {O}b 2")), undefined);
    assert.equal(refusalCode(redis("DEL {O}a {G}b")), "ASK");
    assert.equal(refusalCode(redis("RENAME {O}a {F}b")), "SLOT_MIGRATING");
  });

  it("checks watched keys as reads or writes with the entry", () => {
    const watched = (key: string, ...lines: string[]): Command => ({
      op: "redis",
      nowMs: 0,
      argvs: lines.map(argv),
      watches: [{ key: bytes(key), modRevision: 0 }],
    });
    assert.equal(refusalCode(watched("{F}w", "GET {O}k")), undefined);
    assert.equal(refusalCode(watched("{F}w", "SET {O}k v")), "SLOT_MIGRATING");
    assert.equal(refusalCode(watched("{G}w", "GET {O}k")), "ASK");
    assert.equal(refusalCode(watched("{O}w")), undefined, "an EXEC of nothing but its watches");
  });

  it("refuses FLUSHALL while a slot is frozen or importing, not while one is only gone", () => {
    assert.equal(refusalCode(redis("FLUSHALL")), "SLOT_MIGRATING");
    assert.equal(refusalCode(redis("FLUSHDB")), "SLOT_MIGRATING");
    const only = (phase: SlotState["phase"]): SlotStates => new Map([[F, { phase, shard: 2, move: 1 }]]);
    assert.equal(refusalCode(redis("FLUSHALL"), only("frozen")), "SLOT_MIGRATING");
    assert.equal(refusalCode(redis("FLUSHALL"), only("importing")), "SLOT_MIGRATING");
    assert.equal(refusalCode(redis("FLUSHALL"), only("gone")), undefined);
    assert.equal(refusalCode(redis("DBSIZE")), undefined, "a keyless read is served");
  });

  it("leaves an unknown or malformed command to its own error", () => {
    assert.equal(refusalCode(redis("NOSUCHCOMMAND {F}k")), undefined);
    assert.equal(refusalCode(redis("GET")), undefined, "wrong arity");
    assert.equal(refusalCode(redis("NOSUCHCOMMAND {F}k", "GET {G}k")), "ASK", "the next command is still checked");
  });
});

describe("expireOwned", () => {
  it("drops the keys of frozen, importing and gone slots, keeps the rest in order", () => {
    const keys = ["{O}a", "{F}b", "{I}c", "{G}d", "{O}e"].map(bytes);
    const owned = expireOwned({ op: "expire", nowMs: 5, keys }, recorded);
    assert.deepEqual(owned.keys.map(text), ["{O}a", "{O}e"]);
    assert.equal(owned.nowMs, 5);
  });

  it("returns the command itself when it keeps every key", () => {
    const command = { op: "expire", nowMs: 5, keys: [bytes("{O}a")] } as const;
    assert.equal(expireOwned(command, recorded), command);
    assert.equal(expireOwned(command, NO_SLOT_STATES), command);
  });
});

const step = (action: SlotCommand["action"], slots: number[], extra: Partial<SlotCommand> = {}): SlotCommand => ({
  op: "slot",
  nowMs: 0,
  move: 1,
  action,
  slots,
  ...extra,
});

function badRequest(run: () => unknown, pattern?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ShoalError, `expected a ShoalError, got ${String(error)}`);
    assert.equal(error.code, "BAD_REQUEST");
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  });
}

describe("slotStep", () => {
  const frozen = (shard: number): SlotState => ({ phase: "frozen", shard, move: 1 });
  const importing = (shard: number): SlotState => ({ phase: "importing", shard, move: 1 });
  const gone = (shard: number): SlotState => ({ phase: "gone", shard, move: 1 });
  const at = (...entries: [number, SlotState][]): SlotStates => new Map(entries);

  it("takes the source through freeze, handOff and drop, each repeatable", () => {
    const afterFreeze = slotStep(step("freeze", [1, 2], { shard: 7 }), NO_SLOT_STATES);
    assert.deepEqual(afterFreeze, at([1, frozen(7)], [2, frozen(7)]));
    assert.deepEqual(slotStep(step("freeze", [1, 2], { shard: 7 }), afterFreeze), afterFreeze);
    const afterHandOff = slotStep(step("handOff", [1, 2]), afterFreeze);
    assert.deepEqual(afterHandOff, at([1, gone(7)], [2, gone(7)]));
    assert.deepEqual(slotStep(step("handOff", [1, 2]), afterHandOff), afterHandOff);
    assert.deepEqual(slotStep(step("drop", [1, 2], { keys: [] }), afterHandOff), afterHandOff);
  });

  it("takes the destination through importStart, import and importDone, each repeatable", () => {
    const started = slotStep(step("importStart", [5], { shard: 1 }), NO_SLOT_STATES);
    assert.deepEqual(started, at([5, importing(1)]));
    assert.deepEqual(slotStep(step("importStart", [5], { shard: 1 }), started), started);
    assert.deepEqual(slotStep(step("import", [5], { argvs: [] }), started), started);
    const done = slotStep(step("importDone", [5]), started);
    // Served now, and remembered as imported by this move: its late steps are refused.
    assert.deepEqual(done, at([5, { phase: "owned", shard: 1, move: 1 }]));
    assert.deepEqual(slotStep(step("importDone", [5]), done), done, "a repeated importDone");
    // A late repeat of the same move changes nothing (and its imports write nothing: importWrites).
    assert.deepEqual(slotStep(step("importStart", [5], { shard: 1 }), done), done);
    assert.deepEqual(slotStep(step("import", [5], { argvs: [] }), done), done);
    assert.equal(importWrites(step("import", [5], { argvs: [] }), done), false);
    assert.equal(importWrites(step("import", [5], { argvs: [] }), started), true);
  });

  it("refuses every step of an older move than the slot's state names: a deposed driver's late steps", () => {
    // Move 1 of slot 5 finished on its destination; move 2 (a later one) took it elsewhere and back is move 3.
    const owned = at([5, { phase: "owned", shard: 1, move: 3 }]);
    for (const action of ["freeze", "importStart", "importDone", "handOff"] as const) {
      badRequest(() => slotStep(step(action, [5], { shard: 2 }), owned), /a later move/);
    }
    // A newer move may take an imported slot away, or bring it back.
    assert.deepEqual(slotStep(step("freeze", [5], { shard: 2, move: 4 }), owned), at([5, { ...frozen(2), move: 4 }]));
    assert.deepEqual(
      slotStep(step("importStart", [5], { shard: 2, move: 4 }), owned),
      at([5, { ...importing(2), move: 4 }]),
    );
    // A slot gone by move 2 is not imported again by the older move 1 (it would serve a slot another shard holds).
    badRequest(() => slotStep(step("importStart", [5], { shard: 3 }), at([5, { ...gone(3), move: 2 }])), /later move/);
  });

  it("lets a slot move back: a gone slot may be imported again, by a later move only", () => {
    assert.deepEqual(
      slotStep(step("importStart", [5], { shard: 4, move: 2 }), at([5, gone(4)])),
      at([5, { ...importing(4), move: 2 }]),
    );
    badRequest(() => slotStep(step("importStart", [5], { shard: 4 }), at([5, gone(4)])), /gone for shard 4/);
  });

  it("keeps the other slots' states", () => {
    const before = at([9, gone(3)]);
    assert.deepEqual(slotStep(step("freeze", [1], { shard: 2 }), before), at([9, gone(3)], [1, frozen(2)]));
    assert.deepEqual(before, at([9, gone(3)]), "the input is not changed");
  });

  it("refuses steps out of order with BAD_REQUEST", () => {
    badRequest(() => slotStep(step("handOff", [1]), NO_SLOT_STATES), /handOff slot 1 \(move 1\): it is not frozen/);
    badRequest(() => slotStep(step("drop", [1], { keys: [] }), NO_SLOT_STATES), /not been handed off/);
    badRequest(() => slotStep(step("drop", [1], { keys: [] }), at([1, frozen(2)])));
    badRequest(() => slotStep(step("import", [1], { argvs: [] }), NO_SLOT_STATES), /not being imported/);
    badRequest(() => slotStep(step("import", [1], { argvs: [] }), at([1, frozen(2)])));
    badRequest(() => slotStep(step("import", [1], { argvs: [] }), at([1, gone(2)])));
    badRequest(() => slotStep(step("handOff", [1]), at([1, importing(2)])));
    badRequest(() => slotStep(step("importDone", [1]), at([1, frozen(2)])));
    badRequest(() => slotStep(step("importDone", [1]), at([1, gone(2)])));
    badRequest(() => slotStep(step("freeze", [1], { shard: 2 }), at([1, importing(2)])));
    badRequest(() => slotStep(step("freeze", [1], { shard: 2 }), at([1, gone(2)])));
    badRequest(() => slotStep(step("importStart", [1], { shard: 2 }), at([1, frozen(2)])));
  });

  it("refuses a repeat naming another shard", () => {
    badRequest(() => slotStep(step("freeze", [1], { shard: 3 }), at([1, frozen(2)])), /frozen for shard 2/);
    badRequest(() => slotStep(step("importStart", [1], { shard: 3 }), at([1, importing(2)])), /imported from/);
  });

  it("refuses a whole step when one of its slots is out of order", () => {
    const before = at([1, frozen(2)]);
    badRequest(() => slotStep(step("handOff", [1, 2]), before));
    assert.deepEqual(before, at([1, frozen(2)]));
  });
});

describe("checkImportKeys", () => {
  const slots = [F, O];

  it("accepts commands whose every key lies in the slots imported", () => {
    checkImportKeys([argv("SET {F}a 1"), argv("HSET {O}h f v"), argv("MSET {F}b 1 {O}c 2")], slots);
    checkImportKeys([], slots);
  });

  it("refuses a key of another slot, a keyless command and an unknown one with BAD_REQUEST", () => {
    badRequest(() => checkImportKeys([argv("SET {F}a 1"), argv("SET {G}b 1")], slots), /not being imported/);
    badRequest(() => checkImportKeys([argv("MSET {F}a 1 {I}b 2")], slots), /not being imported/);
    badRequest(() => checkImportKeys([argv("FLUSHALL")], slots));
    badRequest(() => checkImportKeys([argv("PING")], slots));
    badRequest(() => checkImportKeys([argv("NOSUCHCOMMAND {F}a")], slots));
  });
});

describe("keysOfArgvs", () => {
  it("lists every key the commands name, skipping unknown commands", () => {
    const keys = keysOfArgvs([argv("SET a 1"), argv("NOSUCH b"), argv("MSET c 1 d 2"), argv("PING"), argv("GET")]);
    assert.deepEqual(keys.map(text), ["a", "c", "d"]);
  });
});

/** A state machine with the slot moves' entries, checked against what each refusal must leave unchanged. */
class Machine extends MapStateMachine {
  /** Applies `command` and checks a refusal changed nothing. */
  run(command: Command): CommandResult {
    const before = { records: this.snapshotRecords(), state: this.state };
    const result = this.apply(command);
    if (result.kind === "error") {
      assert.deepEqual(this.snapshotRecords(), before.records, "a refusal changes no key");
      assert.equal(this.state, before.state, "a refusal changes no state");
    }
    return result;
  }

  snapshotRecords(): Map<string, unknown> {
    return new Map([...this.records].map(([id, record]) => [id, { ...record }]));
  }

  value(key: string): string | undefined {
    return text(this.records.get(keyId(bytes(key)))?.value);
  }
}

const errorCode = (result: CommandResult): string | undefined => (result.kind === "error" ? result.code : undefined);

describe("applying a slot move (the pure semantics)", () => {
  it("moves a slot from source to destination with the refusals of each phase", () => {
    const source = new Machine();
    const destination = new Machine();
    source.run(redis("SET {F}a 1", "SET {O}b 2", "HSET {F}h f v"));
    const revision = source.state.revision;

    assert.equal(source.run(step("freeze", [F], { shard: 2 })).kind, "noop");
    assert.equal(source.state.revision, revision, "a step that writes no key moves no revision");
    assert.deepEqual(source.state.slots, new Map([[F, { phase: "frozen", shard: 2, move: 1 }]]));
    assert.equal(errorCode(source.run(redis("SET {F}a changed"))), "SLOT_MIGRATING");
    assert.equal(
      errorCode(source.run({ op: "put", key: bytes("{F}new"), value: bytes("x"), nowMs: 0 })),
      "SLOT_MIGRATING",
    );
    assert.equal(source.value("{F}a"), "1");
    const read = source.run(redis("GET {F}a"));
    assert.equal(read.kind, "redis");
    assert.ok(read.kind === "redis");
    assert.deepEqual(read.replies, [{ kind: "bulk", value: bytes("1") }]);
    assert.equal(source.run(redis("SET {O}b 3")).kind, "redis", "other slots are written as ever");

    assert.equal(destination.run(step("importStart", [F], { shard: 1 })).kind, "noop");
    assert.equal(errorCode(destination.run(redis("GET {F}a"))), "SLOT_MIGRATING");
    assert.equal(errorCode(destination.run(redis("SET {F}a x"))), "SLOT_MIGRATING");
    const imported = destination.run(step("import", [F], { argvs: [argv("SET {F}a 1"), argv("HSET {F}h f v")] }));
    assert.equal(imported.kind, "noop");
    assert.equal(imported.revision, 1, "an import that writes takes a revision");
    assert.equal(destination.value("{F}a"), "1");
    assert.equal(
      errorCode(destination.run(step("import", [F], { argvs: [argv("SET {O}x 1")] }))),
      "BAD_REQUEST",
      "an import of another slot's key",
    );
    assert.equal(destination.records.has(keyId(bytes("{O}x"))), false);
    assert.equal(destination.run(step("importDone", [F])).kind, "noop");
    assert.equal(destination.state.slots?.get(F)?.phase, "owned");
    assert.equal(destination.run(redis("SET {F}a 2")).kind, "redis", "served once imported");

    assert.equal(source.run(step("handOff", [F])).kind, "noop");
    const ask = source.run(redis("GET {F}a"));
    assert.equal(errorCode(ask), "ASK");
    assert.ok(ask.kind === "error");
    assert.deepEqual(askTarget(new ShoalError("ASK", ask.message)), { slot: F, shard: 2 });
    assert.equal(errorCode(source.run(redis("SET {F}brand-new 1"))), "ASK");
    assert.equal(source.run(step("drop", [F], { keys: [bytes("{F}a"), bytes("{F}h"), bytes("{O}b")] })).kind, "noop");
    assert.deepEqual([...source.records.keys()], [keyId(bytes("{O}b"))], "the drop deletes only the gone slot's keys");
    assert.deepEqual(
      source.state.slots,
      new Map([[F, { phase: "gone", shard: 2, move: 1 }]]),
      "a gone slot stays recorded",
    );
  });

  it("refuses steps out of order and repeats steps idempotently", () => {
    const m = new Machine();
    m.run(redis("SET {F}a 1"));
    assert.equal(errorCode(m.run(step("handOff", [F]))), "BAD_REQUEST");
    assert.equal(errorCode(m.run(step("drop", [F], { keys: [bytes("{F}a")] }))), "BAD_REQUEST");
    assert.equal(m.value("{F}a"), "1");
    assert.equal(errorCode(m.run(step("import", [F], { argvs: [argv("SET {F}a 2")] }))), "BAD_REQUEST");
    assert.equal(m.value("{F}a"), "1");
    m.run(step("freeze", [F], { shard: 2 }));
    const frozen = m.state;
    assert.equal(m.run(step("freeze", [F], { shard: 2 })).kind, "noop");
    assert.deepEqual(m.state, frozen);
    assert.equal(errorCode(m.run(step("importStart", [F], { shard: 2 }))), "BAD_REQUEST");
    m.run(step("handOff", [F]));
    const gone = m.state;
    assert.equal(m.run(step("handOff", [F])).kind, "noop");
    assert.deepEqual(m.state, gone);
    m.run(step("drop", [F], { keys: [bytes("{F}a")] }));
    assert.equal(m.records.size, 0);
    const dropped = m.run(step("drop", [F], { keys: [bytes("{F}a")] }));
    assert.deepEqual(dropped, { kind: "noop", revision: m.state.revision }, "a repeated drop changes nothing");
  });

  it("expires no key of a frozen or gone slot, and expires the others", () => {
    const m = new Machine();
    m.run({ op: "put", key: bytes("{F}a"), value: bytes("1"), nowMs: 0, ttlMs: 10 });
    m.run({ op: "put", key: bytes("{O}b"), value: bytes("2"), nowMs: 0, ttlMs: 10 });
    m.run(step("freeze", [F], { shard: 2 }));
    const result = m.run({ op: "expire", keys: [bytes("{F}a"), bytes("{O}b")], nowMs: 100 });
    assert.deepEqual(result, { kind: "expire", revision: 3, expiredCount: 1 });
    assert.equal(m.records.has(keyId(bytes("{F}a"))), true);
    assert.equal(m.records.has(keyId(bytes("{O}b"))), false);
    m.run(step("handOff", [F]));
    assert.deepEqual(m.run({ op: "expire", keys: [bytes("{F}a")], nowMs: 200 }), {
      kind: "expire",
      revision: 3,
      expiredCount: 0,
    });
    assert.equal(m.records.has(keyId(bytes("{F}a"))), true);
  });

  it("drops a gone slot's keys that expired while it moved (expire leaves them to the drop)", () => {
    const m = new Machine();
    m.run({ op: "put", key: bytes("{F}a"), value: bytes("1"), nowMs: 0, ttlMs: 10 });
    m.run({ op: "put", key: bytes("{F}b"), value: bytes("2"), nowMs: 0 });
    m.run(step("freeze", [F], { shard: 2 }));
    m.run(step("handOff", [F]));
    m.run({ op: "expire", keys: [bytes("{F}a")], nowMs: 100 });
    // The mover drops what the slot index still lists, until it lists nothing: an expired key must go too.
    m.run({ ...step("drop", [F], { keys: [bytes("{F}a"), bytes("{F}b")] }), nowMs: 100 });
    assert.deepEqual([...m.records.keys()], [], "no key of the gone slot is left behind");
  });

  it("refuses FLUSHALL while a slot is frozen and changes nothing", () => {
    const m = new Machine();
    m.run(redis("SET {F}a 1", "SET {O}b 2"));
    m.run(step("freeze", [F], { shard: 2 }));
    assert.equal(errorCode(m.run(redis("FLUSHALL"))), "SLOT_MIGRATING");
    assert.equal(m.records.size, 2);
    m.run(step("handOff", [F]));
    assert.equal(m.run(redis("FLUSHALL")).kind, "redis", "a gone slot does not hold a flush back");
    assert.equal(m.records.size, 0);
  });

  it("refuses an import whose own command fails, writing none of it", () => {
    const m = new Machine();
    m.run(step("importStart", [F], { shard: 1 }));
    const result = m.run(step("import", [F], { argvs: [argv("SET {F}a 1"), argv("HSET {F}a f v")] }));
    assert.equal(errorCode(result), "WRONG_TYPE");
    assert.equal(m.records.size, 0);
  });
});
