/**
 * @module The per-seed choice of the node simulation's settings (swarm testing, as ../seed-profile.ts): Raft
 * settings within safe bounds, the WAL's fsync policy, compaction, the fault rates of network and disk, and the
 * clients. Small bounds on purpose — snapshots every few dozen entries, small snapshot chunks and WAL segments —
 * so snapshot transfer, segment rolls and recovery from a snapshot run in most seeds.
 */
import type { Prng } from "../../src/lib/prng.js";
import type { FsyncPolicy } from "../../src/wal/commit-queue.js";
import type { NetworkFaults } from "../network.js";
import type { DiskFaults } from "../sim-disk.js";
import type { MemberSettings } from "./sim-member.js";

export interface NodeProfile {
  readonly member: Omit<MemberSettings, "voters" | "mutation" | "groups">;
  readonly network: NetworkFaults;
  readonly disk: DiskFaults;
  readonly clients: number;
  readonly thinkMsMax: number;
  /** Virtual ms between two nemesis actions, at most. */
  readonly nemesisGapMsMax: number;
  /** Chance that a crashed member's peers hear of it at once (refused connections: RaftHost.leaderGone). */
  readonly refusalChance: number;
  /** At most this many members down at once (a majority now and then: safety must hold, progress waits). */
  readonly downMax: number;
}

export const TICK_MS = 10;

export function chooseNodeProfile(random: Prng, nodeCount: number): NodeProfile {
  const prevoteCheckQuorum = random.chance(0.85);
  const fsync: FsyncPolicy = random.chance(0.75) ? "always" : "batch";
  return {
    member: {
      raft: {
        electionTimeoutTicks: random.between(8, 16),
        heartbeatIntervalTicks: random.between(1, 3),
        preVote: prevoteCheckQuorum,
        checkQuorum: prevoteCheckQuorum,
        messageBytesMax: random.pick([512, 4096, 1024 * 1024]),
        inflightMessagesMax: random.between(1, 64),
        snapshotChunkBytesMax: random.pick([64, 512, 16 * 1024]),
        snapshotChunksInflightMax: random.between(1, 4),
        committedEntriesPerReadyMax: random.pick([1, 16, 4096]),
      },
      tickMs: TICK_MS,
      fsync,
      snapshotThresholdEntries: random.between(8, 60),
      snapshotRetainEntries: random.between(0, 10),
      requestTimeoutMs: 1000,
      applySliceBytesMax: random.pick([64, 4096, 256 * 1024]),
    },
    network: {
      dropChance: random.pick([0, 0.01, 0.05]),
      duplicateChance: random.pick([0, 0.01, 0.03]),
      delayTicksMin: 1,
      delayTicksMax: random.between(2, 15),
    },
    disk: {
      syncLatencyMsMin: 0,
      syncLatencyMsMax: random.between(0, 12),
      tornWriteChance: random.pick([0, 0.3, 0.8]),
      garbageChance: random.pick([0, 0.3, 0.8]),
    },
    clients: random.between(2, 5),
    thinkMsMax: random.pick([0, 5, 30]),
    nemesisGapMsMax: random.pick([100, 300, 800]),
    refusalChance: random.pick([0, 0.5, 1]),
    downMax: random.chance(0.15) ? nodeCount : Math.floor((nodeCount - 1) / 2),
  };
}
