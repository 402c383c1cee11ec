/**
 * @module The RESP server's backend over a real ShoalNode: data commands through the Raft log or after a
 * ReadIndex barrier (reads whose cost follows the data on a read worker thread), WATCH revisions, cluster-wide
 * pub/sub, and INFO's figures.
 */
import type { ShoalNode } from "../node/shoal-node.js";
import type { NodeFacts, RedisBackend } from "./server/backend.js";
import { ReadOffload, worthOffloading } from "./server/read-offload/read-offload.js";

/** Read worker threads per node: one keeps a KEYS off the event loop; a second lets another heavy read (or a
 * client's second KEYS) proceed meanwhile. */
const READ_WORKERS = 2;

export function nodeBackend(node: ShoalNode): RedisBackend {
  const offload = new ReadOffload(READ_WORKERS);
  return {
    runInLog: (argvs, watches) => node.runRedis(argvs, watches),
    runReads: async (argvs, stale, cursors, protocol) => {
      if (worthOffloading(argvs)) {
        const lent = await node.lendStateForRead(stale);
        if (lent !== undefined) {
          try {
            const encoded = await offload.run(lent.path, argvs, Date.now(), protocol);
            return encoded.map((bytes) => ({ kind: "encoded", bytes }) as const);
          } finally {
            lent.release();
          }
        }
      }
      return node.readRedis(argvs, stale, cursors);
    },
    watchRevisions: (keys, stale) => node.watchRevisions(keys, stale),
    pubsub: node.pubsub,
    close: () => offload.close(),
    facts: (): NodeFacts => {
      const status = node.raftStatus();
      const stats = node.store.stats();
      return {
        nodeId: node.options.id,
        role: status.role,
        leaderId: status.leaderId,
        term: status.term,
        commitIndex: status.commitIndex,
        appliedIndex: node.store.appliedIndex(),
        memberCount: node.options.members.size,
        keyCount: stats.keyCount,
        expiresCount: node.store.expiringKeyCount(),
        revision: node.store.revision(),
        fsync: node.options.fsync,
      };
    },
  };
}
