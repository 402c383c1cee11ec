/**
 * @module What a shard's state machine does with commands for slots it does not simply own (store/slot-states.ts):
 * which commands it refuses while a slot moves, and how it applies the move's own steps (command.ts's
 * SlotCommand). Deterministic: every replica refuses and applies alike, so a router with an old map can never
 * make two shards write one key (docs/architecture.md "Moving slots between shards"). Pure.
 */
import { ShoalError } from "../lib/errors.js";
import { hashSlot } from "../slots/hash-slot.js";
import { NO_SLOT_STATES, type SlotState, type SlotStates, slotMigrating, slotRefusal } from "../store/slot-states.js";
import type { Command, ExpireCommand, SlotCommand } from "./command.js";
import { commandKeys, DATA_COMMAND_TABLE } from "./redis/table.js";

/** Why this shard refuses `command` (a ShoalError: SLOT_MIGRATING or ASK), or undefined when it runs it. Only
 * asked while some slot is recorded (`states` not empty): the common case costs nothing. */
export function refusalOf(command: Exclude<Command, SlotCommand>, states: SlotStates): ShoalError | undefined {
  const check = (key: Uint8Array, writes: boolean): ShoalError | undefined =>
    slotRefusal(states, hashSlot(key), writes);
  switch (command.op) {
    case "put":
    case "delete":
      return check(command.key, true);
    case "expire":
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
          const moving = [...states].find(([, state]) => state.phase !== "gone");
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
export function expireOwned(command: ExpireCommand, states: SlotStates): ExpireCommand {
  const keys = command.keys.filter((key) => slotRefusal(states, hashSlot(key), true) === undefined);
  return keys.length === command.keys.length ? command : { ...command, keys };
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

/** One slot's state after `command`'s step. */
function slotStepOf(command: SlotCommand, slot: number, current: SlotState | undefined): SlotState | undefined {
  const { action } = command;
  const refuse = (why: string): never => {
    throw new ShoalError("BAD_REQUEST", `Cannot ${action} slot ${slot}: ${why}`);
  };
  const other = command.shard as number;
  switch (action) {
    case "freeze":
      if (current === undefined || (current.phase === "frozen" && current.shard === other)) {
        return { phase: "frozen", shard: other };
      }
      return refuse(`it is ${describe(current)}`);
    case "importStart":
      // From owned-by-routing or from an earlier move away; again when a driver repeats it.
      if (
        current === undefined ||
        current.phase === "gone" ||
        (current.phase === "importing" && current.shard === other)
      ) {
        return { phase: "importing", shard: other };
      }
      return refuse(`it is ${describe(current)}`);
    case "import":
      if (current?.phase !== "importing") return refuse("it is not being imported");
      return current;
    case "importDone":
      if (current === undefined) return undefined; // repeated
      if (current.phase !== "importing") return refuse(`it is ${describe(current)}`);
      return undefined;
    case "handOff":
      if (current?.phase === "gone") return current; // repeated
      if (current?.phase !== "frozen")
        return refuse(current === undefined ? "it is not frozen" : `it is ${describe(current)}`);
      return { phase: "gone", shard: current.shard };
    case "drop":
      if (current?.phase !== "gone") return refuse("it has not been handed off");
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

function describe(state: SlotState): string {
  return state.phase === "importing"
    ? `being imported from shard ${state.shard}`
    : `${state.phase} (shard ${state.shard})`;
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
