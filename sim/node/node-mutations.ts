/**
 * @module The node-level mutations: switches inside `src/node` and `src/wal` (RaftHostUnsafe, WalUnsafe) that turn
 * one mechanism of the real host or the real WAL off. `npm run sim -- --seeds 200 --unsafe <name>` must fail for
 * each (node-mutations.test.ts runs a short slice; sim/README.md lists them with the checker that catches them).
 */
import type { RaftHostUnsafe } from "../../src/node/raft-host.js";
import type { MoveRules } from "../../src/node/replica-move.js";
import type { WalUnsafe } from "../../src/wal/wal-options.js";

export type NodeMutationName =
  | "wal-no-fsync"
  | "wal-no-checksum"
  | "host-ack-before-persist"
  | "host-reads-without-barrier"
  | "mover-promote-early";

export interface NodeMutation {
  readonly name: NodeMutationName;
  readonly description: string;
  readonly host: RaftHostUnsafe;
  readonly wal: WalUnsafe;
  /** The replica mover's safety checks switched off (the seed then changes membership: node-membership.ts). */
  readonly move?: MoveRules["unsafe"];
}

export const NODE_MUTATIONS: readonly NodeMutation[] = [
  {
    name: "wal-no-fsync",
    description: "the WAL resolves a save without the fsync that makes it durable (src/wal/commit-queue.ts)",
    host: {},
    wal: { skipSync: true },
  },
  {
    name: "wal-no-checksum",
    description: "WAL replay accepts a record whose CRC-32C does not match (src/wal/record-frame.ts)",
    host: {},
    wal: { skipChecksum: true },
  },
  {
    name: "host-ack-before-persist",
    description:
      "the host sends votes and append acknowledgements before its WAL save is durable (src/node/raft-host.ts)",
    host: { sendBeforePersist: true },
    wal: {},
  },
  {
    name: "host-reads-without-barrier",
    description: "the host answers linearizable reads from its own state without ReadIndex (src/node/raft-host.ts)",
    host: { readsWithoutBarrier: true },
    wal: {},
  },
  {
    name: "mover-promote-early",
    description: "the replica mover promotes a learner before it holds the log (src/node/replica-move.ts)",
    host: {},
    wal: {},
    move: { promoteBeforeCatchUp: true },
  },
];

export function findNodeMutation(name: string): NodeMutation | undefined {
  return NODE_MUTATIONS.find((mutation) => mutation.name === name);
}
