/**
 * @module Partition shapes (pure): which directed links to cut. Jepsen's repertoire:
 * - `halves`: a random minority and majority that cannot talk;
 * - `isolate-leader`: the leader alone against the rest (clients of the old leader keep talking to it);
 * - `ring`: a majorities ring — nodes on a circle, each sees only its neighbours, so every node sees a majority
 *   but no two see the same one (5 nodes: each sees itself and its two neighbours);
 * - `bridge`: two halves joined by a single node that sees both;
 * - `one-way`: the leader's outgoing or incoming direction cut, the other left open (an asymmetric fault).
 */
import type { Prng } from "../../src/lib/prng.js";
import type { Link } from "./fault-proxy.js";

export const PARTITION_SHAPES = ["halves", "isolate-leader", "ring", "bridge", "one-way"] as const;
export type PartitionShape = (typeof PARTITION_SHAPES)[number];

export interface Partition {
  readonly shape: PartitionShape;
  /** A human description, e.g. "{2,5} | {1,3,4}" or "3 -/-> *". */
  readonly description: string;
  readonly blocked: readonly Link[];
}

/** Builds a partition of `ids`; `leader` is the current leader if known (else a random node stands in). */
export function makePartition(
  shape: PartitionShape,
  ids: readonly number[],
  leader: number | undefined,
  random: Prng,
): Partition {
  const pivot = leader !== undefined && ids.includes(leader) ? leader : ids[random.int(ids.length)]!;
  switch (shape) {
    case "halves": {
      const order = shuffle(ids, random);
      const minority = order.slice(0, Math.floor(ids.length / 2));
      const majority = order.slice(minority.length);
      return { shape, description: `${group(minority)} | ${group(majority)}`, blocked: cut(minority, majority) };
    }
    case "isolate-leader": {
      const rest = ids.filter((id) => id !== pivot);
      return { shape, description: `${group([pivot])} | ${group(rest)}`, blocked: cut([pivot], rest) };
    }
    case "ring": {
      if (ids.length < 5) return makePartition("halves", ids, leader, random);
      const order = shuffle(ids, random);
      // Neighbours on each side, enough for a majority: 1 for 5 nodes (each sees 3), 2 for 7.
      const reach = Math.max(1, Math.ceil(Math.floor(ids.length / 2) / 2));
      const blocked: Link[] = [];
      order.forEach((a, i) => {
        order.forEach((b, j) => {
          const distance = Math.min(Math.abs(i - j), ids.length - Math.abs(i - j));
          if (a !== b && distance > reach) blocked.push([a, b]);
        });
      });
      return { shape, description: `ring ${order.join("-")}-${order[0]} (neighbours only)`, blocked };
    }
    case "bridge": {
      if (ids.length < 3) return makePartition("halves", ids, leader, random);
      const order = shuffle(ids, random);
      const bridge = order[0]!;
      const left = order.slice(1, 1 + Math.floor((ids.length - 1) / 2));
      const right = order.slice(1 + left.length);
      return {
        shape,
        description: `${group(left)} | ${bridge} | ${group(right)} (${bridge} bridges)`,
        blocked: cut(left, right),
      };
    }
    case "one-way": {
      const rest = ids.filter((id) => id !== pivot);
      const outgoing = random.chance(0.5);
      const blocked: Link[] = rest.map((id) => (outgoing ? [pivot, id] : [id, pivot]) as Link);
      return { shape, description: outgoing ? `${pivot} -/-> others` : `others -/-> ${pivot}`, blocked };
    }
  }
}

/** Every link between the two groups, both directions. */
function cut(a: readonly number[], b: readonly number[]): Link[] {
  const links: Link[] = [];
  for (const x of a) for (const y of b) links.push([x, y], [y, x]);
  return links;
}

function group(ids: readonly number[]): string {
  return `{${[...ids].sort((a, b) => a - b).join(",")}}`;
}

function shuffle(ids: readonly number[], random: Prng): number[] {
  const out = [...ids];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
