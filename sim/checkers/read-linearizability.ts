/**
 * @module Linearizable reads through ReadIndex (thesis, section 6.4): a read must reflect every write that was
 * acknowledged before the read was issued. Two checks when a read is served: its read index covers the highest
 * acknowledged write index at issue time (a deposed leader answering from its own commit index fails this),
 * and the register it reads was last written at or after the last acknowledged write to that register.
 * A write counts as acknowledged when the node that accepted it applied it (the client's answer).
 */
import type { HostObserver } from "../observer.js";
import type { SimHost } from "../sim-host.js";
import type { SimStateMachine } from "../state-machine.js";
import { SimViolation } from "./violation.js";

interface IssuedRead {
  readonly key: number;
  readonly ackedIndex: number;
  readonly ackedKeyIndex: number;
  readonly tick: number;
}

/** What the client workload tells the checker. */
export interface ClientHistory {
  writeAcked(index: number, key: number): void;
  readIssued(context: string, key: number, tick: number): void;
}

export class ReadLinearizabilityChecker implements HostObserver, ClientHistory {
  #ackedIndex = 0;
  readonly #ackedKeyIndex = new Map<number, number>();
  readonly #reads = new Map<string, IssuedRead>();
  served = 0;

  writeAcked(index: number, key: number): void {
    this.#ackedIndex = Math.max(this.#ackedIndex, index);
    this.#ackedKeyIndex.set(key, Math.max(this.#ackedKeyIndex.get(key) ?? 0, index));
  }

  readIssued(context: string, key: number, tick: number): void {
    const ackedKeyIndex = this.#ackedKeyIndex.get(key) ?? 0;
    this.#reads.set(context, { key, ackedIndex: this.#ackedIndex, ackedKeyIndex, tick });
  }

  readServed(host: SimHost, context: string, readIndex: number, machine: SimStateMachine): void {
    const read = this.#reads.get(context);
    if (read === undefined) return;
    this.#reads.delete(context);
    this.served++;
    if (readIndex < read.ackedIndex) {
      this.#fail(
        `read ${context} (issued at tick ${read.tick}) served by node ${host.id} at read index ${readIndex}, ` +
          `but index ${read.ackedIndex} was acknowledged before it was issued`,
      );
    }
    const value = machine.read(read.key);
    if (value.writeIndex < read.ackedKeyIndex) {
      this.#fail(
        `read ${context} of key ${read.key} on node ${host.id} returned the write at index ${value.writeIndex}, ` +
          `but the write at index ${read.ackedKeyIndex} was acknowledged before the read was issued`,
      );
    }
  }

  #fail(message: string): never {
    throw new SimViolation("readLinearizability", message);
  }
}

/** The workload's sink when the checker is off. */
export const IGNORED_CLIENT_HISTORY: ClientHistory = {
  writeAcked: () => {},
  readIssued: () => {},
};
