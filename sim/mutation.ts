/**
 * @module The safety mechanisms the mutation tests switch off, one at a time, to prove that a checker notices.
 * Each names the checker expected to fire and the scenario that exposes it.
 */
import type { CheckerName } from "./checkers/violation.js";
import type { RaftOverrides } from "./sim-host.js";

export type MutationName =
  | "commit-prior-term"
  | "vote-not-persisted"
  | "no-prevote-checkquorum"
  | "vote-without-log-check"
  | "skip-append-check";

export interface Mutation {
  readonly name: MutationName;
  readonly description: string;
  /** Forced on top of the seed's Raft configuration. */
  readonly raft: RaftOverrides;
  /** The host sends a Ready's messages before persisting it. */
  readonly sendBeforePersist: boolean;
  readonly scenario: "random" | "disruption";
  /** The checkers that may report it (the first is the one the mutation targets). */
  readonly expected: readonly CheckerName[];
}

export const MUTATIONS: readonly Mutation[] = [
  {
    name: "commit-prior-term",
    description: "leaders count replicas to commit entries of earlier terms (paper, section 5.4.2, Figure 8)",
    raft: { unsafe: { commitPriorTermEntries: true } },
    sendBeforePersist: false,
    scenario: "random",
    expected: ["committedDurability", "stateMachineSafety", "leaderCompleteness"],
  },
  {
    name: "vote-not-persisted",
    description: "the host sends before persisting, so a crash right after voting forgets the vote",
    raft: {},
    sendBeforePersist: true,
    scenario: "random",
    expected: ["electionSafety"],
  },
  {
    name: "no-prevote-checkquorum",
    description: "PreVote and CheckQuorum off: a partitioned node that rejoins deposes a healthy leader",
    raft: { preVote: false, checkQuorum: false },
    sendBeforePersist: false,
    scenario: "disruption",
    expected: ["disruption"],
  },
  {
    name: "vote-without-log-check",
    description: "votes granted without comparing logs (the election restriction, paper section 5.4.1)",
    raft: { unsafe: { grantVoteWithoutLogCheck: true } },
    sendBeforePersist: false,
    scenario: "random",
    expected: ["leaderCompleteness"],
  },
  {
    name: "skip-append-check",
    description: "AppendEntries accepted without checking prevLogIndex/prevLogTerm (paper, section 5.3)",
    raft: { unsafe: { skipAppendConsistencyCheck: true } },
    sendBeforePersist: false,
    scenario: "random",
    expected: ["logMatching"],
  },
];

export function findMutation(name: string): Mutation {
  const mutation = MUTATIONS.find((m) => m.name === name);
  if (mutation === undefined) {
    throw new RangeError(`Unknown mutation ${name}; known: ${MUTATIONS.map((m) => m.name).join(", ")}`);
  }
  return mutation;
}
