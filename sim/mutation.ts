/**
 * @module The safety mechanisms the mutation tests switch off, one at a time, to prove that a checker notices.
 * Each names the checker expected to fire and the scenario that exposes it.
 */
import type { MoveRules } from "../src/node/replica-move.js";
import type { CheckerName } from "./checkers/violation.js";
import type { RaftOverrides } from "./sim-host.js";

export type MutationName =
  | "commit-prior-term"
  | "vote-not-persisted"
  | "no-prevote-checkquorum"
  | "vote-without-log-check"
  | "skip-append-check"
  | "local-reads"
  | "ack-before-persist"
  | "move-promote-early"
  | "move-remove-into-minority";

export interface Mutation {
  readonly name: MutationName;
  readonly description: string;
  /** Forced on top of the seed's Raft configuration. */
  readonly raft: RaftOverrides;
  /** What the host persists only after sending a Ready's messages. */
  readonly persistAfterSend: "nothing" | "hardState" | "all";
  /** The host serves reads from its own state machine without ReadIndex. */
  readonly localReads: boolean;
  /** The replica mover's safety checks switched off (src/node/replica-move.ts MoveRules.unsafe). */
  readonly move?: MoveRules["unsafe"];
  readonly scenario: "random" | "disruption";
  /** The checkers that may report it (the first is the one the mutation targets). */
  readonly expected: readonly CheckerName[];
}

export const MUTATIONS: readonly Mutation[] = [
  {
    name: "commit-prior-term",
    description: "leaders count replicas to commit entries of earlier terms (paper, section 5.4.2, Figure 8)",
    raft: { unsafe: { commitPriorTermEntries: true } },
    persistAfterSend: "nothing",
    localReads: false,
    scenario: "random",
    expected: ["committedDurability", "stateMachineSafety", "leaderCompleteness"],
  },
  {
    name: "vote-not-persisted",
    description: "the host persists the hard state after sending, so a crash right after voting forgets the vote",
    raft: {},
    persistAfterSend: "hardState",
    localReads: false,
    scenario: "random",
    expected: ["electionSafety"],
  },
  {
    name: "no-prevote-checkquorum",
    description: "PreVote and CheckQuorum off: a partitioned node that rejoins deposes a healthy leader",
    raft: { preVote: false, checkQuorum: false },
    persistAfterSend: "nothing",
    localReads: false,
    scenario: "disruption",
    expected: ["disruption"],
  },
  {
    name: "vote-without-log-check",
    description: "votes granted without comparing logs (the election restriction, paper section 5.4.1)",
    raft: { unsafe: { grantVoteWithoutLogCheck: true } },
    persistAfterSend: "nothing",
    localReads: false,
    scenario: "random",
    expected: ["leaderCompleteness"],
  },
  {
    name: "skip-append-check",
    description: "AppendEntries accepted without checking prevLogIndex/prevLogTerm (paper, section 5.3)",
    raft: { unsafe: { skipAppendConsistencyCheck: true } },
    persistAfterSend: "nothing",
    localReads: false,
    scenario: "random",
    expected: ["logMatching"],
  },
  {
    name: "local-reads",
    description: "the host answers reads from its own state machine without ReadIndex (stale follower reads)",
    raft: {},
    persistAfterSend: "nothing",
    localReads: true,
    scenario: "random",
    expected: ["readLinearizability"],
  },
  {
    name: "ack-before-persist",
    description: "the host sends before persisting entries, so a crash loses appends it acknowledged",
    raft: {},
    persistAfterSend: "all",
    localReads: false,
    scenario: "random",
    expected: ["committedDurability"],
  },
  {
    name: "move-promote-early",
    description: "the replica mover promotes a learner as soon as it is added, before it holds the log",
    raft: {},
    persistAfterSend: "nothing",
    localReads: false,
    move: { promoteBeforeCatchUp: true },
    scenario: "random",
    expected: ["moveSafety"],
  },
  {
    name: "move-remove-into-minority",
    description: "the replica mover removes a voter even when the voters left would not hold a caught-up majority",
    raft: {},
    persistAfterSend: "nothing",
    localReads: false,
    move: { removeIntoMinority: true },
    scenario: "random",
    expected: ["moveSafety"],
  },
];

export function findMutation(name: string): Mutation {
  const mutation = MUTATIONS.find((m) => m.name === name);
  if (mutation === undefined) {
    throw new RangeError(`Unknown mutation ${name}; known: ${MUTATIONS.map((m) => m.name).join(", ")}`);
  }
  return mutation;
}
