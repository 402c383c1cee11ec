/**
 * @module The node-level mutations: switches inside `src/node` and `src/wal` (RaftHostUnsafe, WalUnsafe) that turn
 * one mechanism of the real host or the real WAL off. `npm run sim -- --seeds 200 --unsafe <name>` must fail for
 * each (node-sim.test.ts runs a short slice; sim/README.md lists them with the checker that catches them).
 *
 * The slot-move mutations switch off a refusal of the shards' replicated state machine (src/commands/
 * slot-ownership.ts, store/slot-states.ts). That state machine takes no options — it is the command semantics every
 * replica applies alike — so the switch is made where the store's semantics come in: the `EntryApplier` the
 * simulated members hand their stores (store/entry-applier.ts: "the simulator or a test can run a store under the
 * real semantics or under its own"). `slotUnsafeApplier` runs the real applier, but shows it the slot states without
 * the phases the mutation ignores (for every command but the move's own steps), so every replica serves those slots
 * as if it simply owned them; a read's check after its barrier (client-operations.ts get()) sees the same.
 */
import { applyEntrySteps } from "../../src/commands/apply-command.js";
import { decodeCommand } from "../../src/commands/command-codec.js";
import type { RaftHostUnsafe } from "../../src/node/raft-host.js";
import type { MoveRules } from "../../src/node/replica-move.js";
import { NO_SLOT_STATES, type SlotPhase, type SlotState, type SlotStates } from "../../src/store/slot-states.js";
import type { WalUnsafe } from "../../src/wal/wal-options.js";

export type NodeMutationName =
  | "wal-no-fsync"
  | "wal-no-checksum"
  | "host-ack-before-persist"
  | "host-reads-without-barrier"
  | "mover-promote-early"
  | "slot-skip-freeze"
  | "slot-serve-both";

/** The slot phases whose refusals are switched off (their slots served as if simply owned). */
export interface SlotUnsafe {
  readonly servedPhases: readonly SlotPhase[];
}

export interface NodeMutation {
  readonly name: NodeMutationName;
  readonly description: string;
  readonly host: RaftHostUnsafe;
  readonly wal: WalUnsafe;
  /** The replica mover's safety checks switched off (the seed then changes membership: node-membership.ts). */
  readonly move?: MoveRules["unsafe"];
  /** A slot-move safety step switched off in every shard's state machine (the seed then moves slots between its
   * 2 or 3 groups: node-slots.ts). */
  readonly slots?: SlotUnsafe;
}

export const NODE_MUTATIONS: readonly NodeMutation[] = [
  {
    name: "wal-no-fsync",
    description: "the WAL resolves a save without the fsync that makes it durable (src/wal/commit-queue.ts)",
    host: {},
    wal: { skipSync: true },
  },
  {
    name: "wal-no-checksum",
    description: "WAL replay accepts a record whose CRC-32C does not match (src/wal/record-frame.ts)",
    host: {},
    wal: { skipChecksum: true },
  },
  {
    name: "host-ack-before-persist",
    description:
      "the host sends votes and append acknowledgements before its WAL save is durable (src/node/raft-host.ts)",
    host: { sendBeforePersist: true },
    wal: {},
  },
  {
    name: "host-reads-without-barrier",
    description: "the host answers linearizable reads from its own state without ReadIndex (src/node/raft-host.ts)",
    host: { readsWithoutBarrier: true },
    wal: {},
  },
  {
    name: "mover-promote-early",
    description: "the replica mover promotes a learner before it holds the log (src/node/replica-move.ts)",
    host: {},
    wal: {},
    move: { promoteBeforeCatchUp: true },
  },
  {
    name: "slot-skip-freeze",
    description:
      "a slot move's freeze does not make the source's keys read-only (src/commands/slot-ownership.ts): writes " +
      "acknowledged on the source after the copy was taken are lost when the destination takes over",
    host: {},
    wal: {},
    slots: { servedPhases: ["frozen"] },
  },
  {
    name: "slot-serve-both",
    description:
      "a shard keeps serving a slot after handing it off (a gone slot is not refused with ASK: " +
      "store/slot-states.ts), so a router with an old map writes and reads on the source",
    host: {},
    wal: {},
    slots: { servedPhases: ["gone"] },
  },
];

/** `states` without the phases `unsafe` serves (all of them when there is no mutation). */
export function shownSlotStates(states: SlotStates, unsafe: SlotUnsafe | undefined): SlotStates {
  if (unsafe === undefined || states.size === 0) return states;
  const shown = new Map<number, SlotState>();
  for (const [slot, state] of states) if (!unsafe.servedPhases.includes(state.phase)) shown.set(slot, state);
  return shown.size === states.size ? states : shown.size === 0 ? NO_SLOT_STATES : shown;
}

/** The real applier, with the slot refusals of `unsafe`'s phases off: every command but a move's own step is
 * applied against the slot states without those phases, and the true states go on unchanged (only slot steps
 * change them). */
export function slotUnsafeApplier(unsafe: SlotUnsafe): typeof applyEntrySteps {
  return function* (reader, data, state, repliesWanted) {
    const states = state.slots;
    if (states === undefined || shownSlotStates(states, unsafe) === states || isSlotStep(data)) {
      return yield* applyEntrySteps(reader, data, state, repliesWanted);
    }
    const outcome = yield* applyEntrySteps(
      reader,
      data,
      { ...state, slots: shownSlotStates(states, unsafe) },
      repliesWanted,
    );
    return { ...outcome, state: { ...outcome.state, slots: states } };
  };
}

function isSlotStep(data: Uint8Array): boolean {
  if (data.length === 0) return false;
  try {
    return decodeCommand(data).op === "slot";
  } catch {
    return false; // refused by the applier alike
  }
}

export function findNodeMutation(name: string): NodeMutation | undefined {
  return NODE_MUTATIONS.find((mutation) => mutation.name === name);
}
