/**
 * @module The membership the simulated operator wants next (the cluster map's part, for one group), shared by the
 * core tier's admin (admin.ts) and the node tier's movers (node/node-membership.ts): with every node a voter, one
 * voter removed (the leader itself with `removeLeaderChance`); with a node out, either that node back or another
 * voter's seat moved to it (a replica move). At most one node is ever out.
 */
import type { Prng } from "../src/lib/prng.js";
import type { NodeId } from "../src/raft/types.js";

export interface WantedChange {
  readonly voters: NodeId[];
  /** What changed, for the trace. */
  readonly description: string;
  /** Whether it moves a voter's seat to another node (a replica move). */
  readonly move: boolean;
}

export function nextWantedVoters(
  wanted: readonly NodeId[],
  all: readonly NodeId[],
  leaderId: NodeId,
  random: Prng,
  removeLeaderChance: number,
): WantedChange {
  const out = all.find((id) => !wanted.includes(id));
  if (out === undefined) {
    const others = wanted.filter((id) => id !== leaderId);
    const from = others.length === 0 || random.chance(removeLeaderChance) ? leaderId : random.pick(others);
    return { voters: wanted.filter((id) => id !== from), description: `voter ${from} removed`, move: false };
  }
  if (random.chance(0.5)) return { voters: [...all], description: `node ${out} back`, move: false };
  const from = random.pick(wanted);
  return {
    voters: [...wanted.filter((id) => id !== from), out],
    description: `voter ${from}'s seat moved to node ${out}`,
    move: true,
  };
}
