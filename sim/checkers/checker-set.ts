/**
 * @module Builds the checkers a run asks for. The commit history is always kept (the Leader Completeness and
 * durability checkers read it); its conflicts are reported only when the durability checker is on. Restricting
 * the set is how a mutation test shows that one particular checker, on its own, catches its mutation.
 */
import type { HostObserver } from "../observer.js";
import type { SimHost } from "../sim-host.js";
import { CommitHistory } from "./commit-history.js";
import { CommittedDurabilityChecker } from "./committed-durability.js";
import { ElectionSafetyChecker } from "./election-safety.js";
import { LeaderCompletenessChecker } from "./leader-completeness.js";
import { LogMatchingChecker } from "./log-matching.js";
import { type ClientHistory, IGNORED_CLIENT_HISTORY, ReadLinearizabilityChecker } from "./read-linearizability.js";
import { StateMachineSafetyChecker } from "./state-machine-safety.js";
import type { CheckerName } from "./violation.js";

export interface CheckerSet {
  /** In the order they must observe: the history first, so every checker sees it up to date. */
  readonly observers: readonly HostObserver[];
  readonly history: CommitHistory;
  readonly clientHistory: ClientHistory;
  readonly reads: ReadLinearizabilityChecker | undefined;
  readonly electionSafety: ElectionSafetyChecker | undefined;
}

export function createCheckers(enabled: readonly CheckerName[], hosts: () => readonly SimHost[]): CheckerSet {
  const on = new Set(enabled);
  const history = new CommitHistory();
  const observers: HostObserver[] = [history];
  const electionSafety = on.has("electionSafety") ? new ElectionSafetyChecker() : undefined;
  if (electionSafety !== undefined) observers.push(electionSafety);
  if (on.has("logMatching")) observers.push(new LogMatchingChecker());
  if (on.has("leaderCompleteness")) observers.push(new LeaderCompletenessChecker(history, hosts));
  if (on.has("stateMachineSafety")) observers.push(new StateMachineSafetyChecker());
  if (on.has("committedDurability")) observers.push(new CommittedDurabilityChecker(history, hosts));
  const reads = on.has("readLinearizability") ? new ReadLinearizabilityChecker() : undefined;
  if (reads !== undefined) observers.push(reads);
  return { observers, history, clientHistory: reads ?? IGNORED_CLIENT_HISTORY, reads, electionSafety };
}
