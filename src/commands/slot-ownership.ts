/**
 * @module What a shard's state machine does with commands for slots it does not simply own (store/slot-states.ts):
 * which commands it refuses while a slot moves, and how it applies the move's own steps (command.ts's
 * SlotCommand). Deterministic: every replica refuses and applies alike, so a router with an old map can never
 * make two shards write one key (docs/architecture.md "Moving slots between shards"). Pure.
 */
import { ShoalError } from "../lib/errors.js";
import { hashSlot } from "../slots/hash-slot.js";
import { NO_SLOT_STATES, type SlotState, type SlotStates, slotMigrating, slotRefusal } from "../store/slot-states.js";
import type { Command, EvictCommand, ExpireCommand, SlotCommand } from "./command.js";
import { commandKeys, DATA_COMMAND_TABLE } from "./redis/table.js";

/** Why this shard refuses `command` (a ShoalError: SLOT_MIGRATING or ASK), or undefined when it runs it. Only
 * asked while some slot is refused (`servesAll` false): the common case, no move or only imports, costs nothing. */
export function refusalOf(command: Exclude<Command, SlotCommand>, states: SlotStates): ShoalError | undefined {
  const check = (key: Uint8Array, writes: boolean): ShoalError | undefined =>
    slotRefusal(states, hashSlot(key), writes);
  switch (command.op) {
    case "put":
    case "delete":
      return check(command.key, true);
    case "expire":
    case "evict":
      return undefined; // expireOwned drops the keys it must not touch
    case "txn": {
      for (const part of [...command.compares, ...command.success, ...command.failure]) {
        const refusal = check(part.key, true);
        if (refusal !== undefined) return refusal;
      }
      return undefined;
    }
    case "redis": {
      const specs = command.argvs.map((argv) => {
        try {
          return DATA_COMMAND_TABLE.resolve(argv);
        } catch {
          return undefined; // answered with its own error where it runs
        }
      });
      const writes = specs.some((spec) => spec !== undefined && !spec.flags.includes("readonly"));
      for (const watch of command.watches ?? []) {
        const refusal = check(watch.key, writes);
        if (refusal !== undefined) return refusal;
      }
      for (let i = 0; i < specs.length; i++) {
        const spec = specs[i];
        if (spec === undefined) continue;
        const keys = commandKeys(spec, command.argvs[i] as Uint8Array[]);
        // A keyless write (FLUSHALL) would empty a slot whose copy is being taken or made: not now.
        if (keys.length === 0 && !spec.flags.includes("readonly")) {
          const moving = [...states].find(([, state]) => state.phase === "frozen" || state.phase === "importing");
          if (moving !== undefined) return slotMigrating(moving[0]);
        }
        for (const key of keys) {
          const refusal = check(key, writes);
          if (refusal !== undefined) return refusal;
        }
      }
      return undefined;
    }
  }
}

/** The leader's expiry without the keys of slots it must not change (frozen: the copy is being taken; gone: no
 * longer its own). */
export function expireOwned<C extends ExpireCommand | EvictCommand>(command: C, states: SlotStates): C {
  const owned = command.keys.map((key) => slotRefusal(states, hashSlot(key), true) === undefined);
  if (owned.every(Boolean)) return command;
  const keys = command.keys.filter((_, i) => owned[i]);
  if (command.op === "expire") return { ...command, keys };
  return { ...command, keys, modRevisions: command.modRevisions.filter((_, i) => owned[i]) };
}

/** The slot states after `command`, or a ShoalError when its step does not follow from the state of one of its
 * slots (a driver's mistake: refused alike everywhere, nothing changed). `import` and `drop` leave the states as
 * they are (their keys are apply's to write: checkImportKeys, and the drop's deletes). */
export function slotStep(command: SlotCommand, states: SlotStates): SlotStates {
  const next = new Map(states);
  for (const slot of command.slots) {
    const state = slotStepOf(command, slot, next.get(slot));
    if (state === undefined) next.delete(slot);
    else next.set(slot, state);
  }
  return next.size === 0 ? NO_SLOT_STATES : next;
}

/**
 * One slot's state after `command`'s step. Steps of the move the slot's state names are idempotent; a step of an
 * older move (a driver deposed midway whose steps land late: its source's leadership moved, and the new leader
 * finished the move) is refused, and one of a newer move may start only from a state the slot can leave: not
 * while it is frozen or being imported for another move.
 */
function slotStepOf(command: SlotCommand, slot: number, current: SlotState | undefined): SlotState | undefined {
  const { action, move } = command;
  const refuse = (why: string): never => {
    throw new ShoalError("BAD_REQUEST", `Cannot ${action} slot ${slot} (move ${move}): ${why}`);
  };
  const other = command.shard as number;
  const same = current !== undefined && current.move === move;
  if (current !== undefined && current.move > move) return refuse(`it is ${describe(current)}, a later move`);
  switch (action) {
    case "freeze":
      // From routing's ownership or an import done (an earlier move's), or repeated.
      if (current === undefined || current.phase === "owned") return { phase: "frozen", shard: other, move };
      if (same && current.phase === "frozen" && current.shard === other) return current;
      return refuse(`it is ${describe(current)}`);
    case "importStart":
      // Into a slot routing gave another shard, or this shard gave away before; or repeated.
      if (current === undefined || ((current.phase === "gone" || current.phase === "owned") && !same)) {
        return { phase: "importing", shard: other, move };
      }
      if (same && current.phase === "importing" && current.shard === other) return current;
      // The move's import is done (a driver deposed midway finished it, or this one's late repeat): nothing to do,
      // and its import entries change nothing either (apply skips them), so the driver goes on to the hand-off.
      if (same && current.phase === "owned") return current;
      return refuse(`it is ${describe(current)}`);
    case "import":
      if (!same || (current.phase !== "importing" && current.phase !== "owned")) {
        return refuse("it is not being imported by this move");
      }
      return current;
    case "importDone":
      if (same && current.phase === "owned") return current; // repeated
      if (!same || current.phase !== "importing") return refuse("it is not being imported by this move");
      return { phase: "owned", shard: current.shard, move };
    case "handOff":
      if (same && current.phase === "gone") return current; // repeated
      if (!same || current.phase !== "frozen") return refuse("it is not frozen by this move");
      return { phase: "gone", shard: current.shard, move };
    case "drop":
      if (!same || current.phase !== "gone") return refuse("it has not been handed off by this move");
      return current;
  }
}

/** Every key `argvs` names lies in one of `slots` (an import rebuilds those slots' keys, nothing else). */
export function checkImportKeys(argvs: readonly (readonly Uint8Array[])[], slots: readonly number[]): void {
  const owned = new Set(slots);
  for (const argv of argvs) {
    const keys = commandKeys(DATA_COMMAND_TABLE.resolve(argv), argv as Uint8Array[]);
    if (keys.length === 0 || keys.some((key) => !owned.has(hashSlot(key)))) {
      throw new ShoalError("BAD_REQUEST", "Cannot import: a command names a key of a slot not being imported");
    }
  }
}

function describe(state: SlotState | undefined): string {
  if (state === undefined) return "not moving";
  const of = `move ${state.move}`;
  switch (state.phase) {
    case "importing":
      return `being imported from shard ${state.shard} (${of})`;
    case "owned":
      return `imported from shard ${state.shard} (${of})`;
    default:
      return `${state.phase} for shard ${state.shard} (${of})`;
  }
}

/** The keys `argvs` name (an unknown command names none: it is answered with its own error). */
export function keysOfArgvs(argvs: readonly (readonly Uint8Array[])[]): Uint8Array[] {
  const keys: Uint8Array[] = [];
  for (const argv of argvs) {
    try {
      keys.push(...commandKeys(DATA_COMMAND_TABLE.resolve(argv), argv as Uint8Array[]));
    } catch {
      // refused where it runs
    }
  }
  return keys;
}

/** Whether an `import` step writes its keys: only into slots still being imported (once its move's importDone is
 * applied, a late import of that move — same frozen copy — changes nothing, and must not: the slot may have taken
 * writes since). */
export function importWrites(command: SlotCommand, states: SlotStates): boolean {
  return command.slots.every((slot) => states.get(slot)?.phase === "importing");
}
