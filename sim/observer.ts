/**
 * @module What a simulated host reports while it runs, so checkers, the client workload and the trace can
 * watch every step without the host knowing about them. Each hook fires at the point of the host loop its name
 * says (before or after the write to the simulated disk), because several checkers compare the disk's contents
 * before and after a write.
 */
import type { Entry, HardState, Message, Snapshot } from "../src/raft/types.js";
import type { SimHost } from "./sim-host.js";
import type { SimStateMachine } from "./state-machine.js";

export interface HostObserver {
  /** The node reported role "leader" in `term` (from Ready.softState, after its entries were persisted). */
  leaderElected?(host: SimHost, term: number): void;
  /** Before `entries` and `hardState` go to the disk; the disk still holds the old log. */
  willPersist?(host: SimHost, entries: readonly Entry[], hardState: HardState | undefined): void;
  /** After they were written. */
  persisted?(host: SimHost, entries: readonly Entry[], hardState: HardState | undefined): void;
  /** Before a snapshot from the leader replaces (part of) the disk's log. */
  willInstallSnapshot?(host: SimHost, snapshot: Snapshot): void;
  /** The state machine was restored from a snapshot: one received from the leader, or the disk's on restart. */
  stateRestored?(host: SimHost, machine: SimStateMachine, cause: "install" | "restart"): void;
  /** A snapshot from the leader could not be decoded (a chunking or transfer bug). */
  snapshotCorrupt?(host: SimHost, snapshot: Snapshot, reason: string): void;
  /** Before `entry` is applied; `machine.appliedIndex` is still the previous index. */
  willApply?(host: SimHost, entry: Entry, machine: SimStateMachine): void;
  /** After `entry` was applied. */
  applied?(host: SimHost, entry: Entry, machine: SimStateMachine): void;
  /** A ReadIndex read was served: `readIndex` from the ReadState, the state machine at or past it. */
  readServed?(host: SimHost, context: string, readIndex: number, machine: SimStateMachine): void;
  /** A message left the host (before the network decides its fate). */
  messageSent?(message: Message): void;
  crashed?(host: SimHost): void;
  restarted?(host: SimHost): void;
}

type Hook = keyof HostObserver;

/** Calls every observer's hook in registration order (checkers first, then workload, then trace). */
export function fanOut(observers: readonly HostObserver[]): Required<HostObserver> {
  const call =
    <K extends Hook>(hook: K) =>
    (...args: Parameters<Required<HostObserver>[K]>): void => {
      for (const observer of observers) {
        const fn = observer[hook] as ((...a: Parameters<Required<HostObserver>[K]>) => void) | undefined;
        if (fn !== undefined) fn.apply(observer, args);
      }
    };
  return {
    leaderElected: call("leaderElected"),
    willPersist: call("willPersist"),
    persisted: call("persisted"),
    willInstallSnapshot: call("willInstallSnapshot"),
    stateRestored: call("stateRestored"),
    snapshotCorrupt: call("snapshotCorrupt"),
    willApply: call("willApply"),
    applied: call("applied"),
    readServed: call("readServed"),
    messageSent: call("messageSent"),
    crashed: call("crashed"),
    restarted: call("restarted"),
  };
}
