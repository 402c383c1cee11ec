/**
 * @module Majority arithmetic over a set of voters.
 */

/** The largest index that a majority of `voters` hold, given each voter's match index. */
export function quorumMatchIndex(voters: ReadonlySet<number>, matchOf: (id: number) => number): number {
  if (voters.size === 0) return 0;
  const matches: number[] = [];
  for (const id of voters) matches.push(matchOf(id));
  matches.sort((a, b) => b - a);
  return matches[Math.floor(voters.size / 2)] as number;
}

export type VoteOutcome = "won" | "lost" | "pending";

/** Tallies votes: won once a majority granted, lost once a majority can no longer be reached. */
export function tallyVotes(voters: ReadonlySet<number>, votes: ReadonlyMap<number, boolean>): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const majority = Math.floor(voters.size / 2) + 1;
  if (granted >= majority) return "won";
  if (rejected >= majority || voters.size - rejected < majority) return "lost";
  return "pending";
}

export function hasQuorum(voters: ReadonlySet<number>, isActive: (id: number) => boolean): boolean {
  let active = 0;
  for (const id of voters) if (isActive(id)) active++;
  return active >= Math.floor(voters.size / 2) + 1;
}
