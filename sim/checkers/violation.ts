/**
 * @module The failure a checker raises. A violation stops the run at once: the first broken invariant is the
 * interesting one, and everything after it is built on state Raft no longer guarantees.
 */

export type CheckerName =
  | "electionSafety"
  | "logMatching"
  | "leaderCompleteness"
  | "stateMachineSafety"
  | "committedDurability"
  | "readLinearizability"
  | "disruption"
  | "liveness"
  /** Node simulation: a resolved WAL save lost or garbled by a crash (sim/node/node-checks.ts). */
  | "walDurability"
  /** Node simulation: the clients' history is not linearizable (checkers/register-checker.ts). */
  | "linearizability"
  /** A replica move promoted a learner that lacks the log, or removed a voter into a minority of caught-up voters
   * (checkers/move-safety.ts). */
  | "moveSafety";

/** Every checker that runs during a randomized run (disruption has its own scenario). */
export const SAFETY_CHECKERS: readonly CheckerName[] = [
  "electionSafety",
  "logMatching",
  "leaderCompleteness",
  "stateMachineSafety",
  "committedDurability",
  "readLinearizability",
  "moveSafety",
];

/** A failure that is not a checker's: the Raft core or the storage threw (an assertion of its own). */
export type FailureKind = CheckerName | "exception";

export class SimViolation extends Error {
  override readonly name = "SimViolation";
  readonly checker: CheckerName;

  constructor(checker: CheckerName, message: string) {
    super(`${checker}: ${message}`);
    this.checker = checker;
  }
}
