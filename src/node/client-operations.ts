/**
 * @module The key-value operations every front end uses (HTTP, and the embedded API): writes go through the
 * log (leader-forwarding.ts gets them there from any member); reads are linearizable through a ReadIndex barrier
 * unless the caller asks for a stale read, and are then served from this member's state machine.
 */

import { setImmediate as nextMacrotask } from "node:timers/promises";
import type { Command, CommandResult } from "../commands/command.js";
import {
  encodeCommand,
  encodeCommandInSlices,
  encodeCommandSteps,
  encodesInSteps,
  holdsBigField,
} from "../commands/command-codec.js";
import { checkKeySize } from "../commands/limits.js";
import { runStepsInSlices } from "../lib/steps.js";
import type { KeyValue } from "../store/record.js";
import { checkServed } from "../store/slot-states.js";
import type { StateMachineStore } from "../store/state-machine-store.js";
import type { LeaderForwarding } from "./leader-forwarding.js";
import type { NodeOptions } from "./node-options.js";

/** `command` as a log entry's bytes. A big value (a 16 MiB SET) is copied into its entry a slice per turn, and a
 * command with many arguments (an MSET of 100,000 keys) is validated and written a few milliseconds per turn, so the
 * event loop keeps its heartbeats. */
export async function encodeForLog(command: Command): Promise<Uint8Array> {
  if (encodesInSteps(command)) return await runStepsInSlices(encodeCommandSteps(command), ENCODE_STEP_BUDGET_MS);
  return holdsBigField(command) ? await encodeCommandInSlices(command, () => nextMacrotask()) : encodeCommand(command);
}

/** How long encoding may hold the loop before it yields. */
const ENCODE_STEP_BUDGET_MS = 4;

export class ClientOperations {
  readonly #store: StateMachineStore;
  readonly #forwarding: LeaderForwarding;
  readonly #staleReadsUnsafe: boolean;

  constructor(options: Pick<NodeOptions, "unsafe">, store: StateMachineStore, forwarding: LeaderForwarding) {
    this.#store = store;
    this.#forwarding = forwarding;
    this.#staleReadsUnsafe = options.unsafe?.staleReads === true;
  }

  put(key: Uint8Array, value: Uint8Array, ttlMs?: number): Promise<CommandResult> {
    const command: Command =
      ttlMs === undefined
        ? { op: "put", key, value, nowMs: Date.now() }
        : { op: "put", key, value, nowMs: Date.now(), ttlMs };
    return this.submit(command);
  }

  delete(key: Uint8Array): Promise<CommandResult> {
    return this.submit({ op: "delete", key, nowMs: Date.now() });
  }

  /** A linearizable read (unless `stale`): reflects every write acknowledged before it was called. */
  async get(key: Uint8Array, stale = false): Promise<KeyValue | undefined> {
    checkKeySize(key); // a key no write can store is refused, as every front end refuses it
    await this.linearize(stale);
    checkServed(this.#store.slotStates(), [key], false); // a slot moved away answers ASK (slot-states.ts)
    return this.#store.get(key, Date.now());
  }

  /** Live keys starting with `prefix`, after `after`, at most `limit`: linearizable unless `stale`. */
  async range(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, stale = false): Promise<KeyValue[]> {
    checkKeySize(prefix);
    if (after !== undefined) checkKeySize(after);
    await this.linearize(stale);
    return this.#store.range(prefix, after, limit, Date.now());
  }

  /** Replicates a command through the leader (forwarding from a follower) and returns its result. Retries only
   * failures that certainly did not apply (no leader yet, leadership moved, the entry was dropped), and only while
   * `mayResend` allows (write-order.ts). */
  async submit(command: Command, mayResend?: () => boolean): Promise<CommandResult> {
    return this.#forwarding.submit(await encodeForLog(command), mayResend);
  }

  /** Waits until this node's state reflects every write acknowledged before the call (ReadIndex). */
  readBarrier(): Promise<void> {
    return this.#forwarding.readBarrier();
  }

  /** The barrier a read takes before it reads local state: none when `stale`. The unsafe switch skips it too:
   * a deposed leader or a lagging follower then answers stale values, which the chaos checker must catch. */
  async linearize(stale: boolean): Promise<void> {
    if (!stale && !this.#staleReadsUnsafe) await this.readBarrier();
  }
}
