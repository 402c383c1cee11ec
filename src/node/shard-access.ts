/**
 * @module What a node asks of a shard, whether it holds a replica of it or not (placement with R < N,
 * slots/placement.ts). A shard this node holds answers from its own replica (LocalShard: writes through the
 * group's leader, reads behind its ReadIndex); one it does not hold is asked of a member that does
 * (remote-shard.ts), which answers from its replica the same way. Either way the answer is the shard's, so the
 * node's routing (shoal-node.ts) does not care where the shard lives.
 */
import type { Command, CommandResult } from "../commands/command.js";
import type { ScanCursors } from "../commands/redis/command-spec.js";
import { executeCommands } from "../commands/redis/execute.js";
import type { Reply } from "../commands/redis/reply.js";
import { Prng } from "../lib/prng.js";
import { memberOfReplica } from "../lib/replica-id.js";
import type { GroupId, NodeId } from "../raft/types.js";
import type { KeyValue } from "../store/record.js";
import type { ShardWatcher } from "./merged-watcher.js";
import { liveReader, type RedisOutcome } from "./redis-operations.js";
import type { WatchTicket } from "./redis-watch.js";
import type { WatchPoll } from "./remote-watcher.js";
import type { ShardReplica } from "./shard-replica.js";
import type { WriteOrder } from "./write-order.js";

/** A read of one key: its record, and the shard's revision the read saw. */
export interface KeyRead {
  readonly kv: KeyValue | undefined;
  readonly revision: number;
}

/** RESP's protocol version, for replies computed already encoded. */
export type ReplyProtocol = 2 | 3;

/** Runs readonly commands of one replica off the event loop when their cost follows the data (the RESP server's
 * read workers, resp/node-backend.ts), each reply encoded for `protocol`; undefined: not worth it, run them inline. */
export type HeavyReadRunner = (
  replica: ShardReplica,
  argvs: readonly (readonly Uint8Array[])[],
  stale: boolean,
  protocol: ReplyProtocol,
) => Promise<Reply[] | undefined>;

/** A keyless read of one shard (KEYS, SCAN, RANDOMKEY, DBSIZE): its reply, and for SCAN the key a next call
 * resumes after (undefined when the shard has no more keys). */
export interface KeylessAnswer {
  readonly reply: Reply;
  readonly scanNext?: Uint8Array | undefined;
}

export interface ShardAccess {
  readonly id: GroupId;
  /** This node's replica of the shard, when it holds one. */
  readonly replica: ShardReplica | undefined;
  /** The shard's leader as this node last heard, 0 when unknown. */
  leaderId(): NodeId;
  /** The key's record (undefined when absent), and the shard's revision it was read at. */
  get(key: Uint8Array, stale: boolean): Promise<KeyRead>;
  range(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, stale: boolean): Promise<KeyValue[]>;
  /** A key-value command (put, delete, txn, expire) through the shard's log. */
  submit(command: Command): Promise<CommandResult>;
  readBarrier(): Promise<void>;
  /** Redis data commands through the shard's log as one entry (a pipeline run, an EXEC). `order` is marked placed
   * only by a replica held here (write-order.ts): a remote one's own retries could not see it. */
  runRedis(
    argvs: readonly (readonly Uint8Array[])[],
    watches?: readonly WatchTicket[],
    order?: WriteOrder,
  ): Promise<RedisOutcome>;
  /** Readonly Redis commands with keys, all in this shard. With `protocol`, a heavy read (a big hash's HGETALL)
   * may come back encoded for it, computed on the holder's read worker. */
  readRedis(argvs: readonly (readonly Uint8Array[])[], stale: boolean, protocol?: ReplyProtocol): Promise<Reply[]>;
  /** One keyless read over this shard's keys only; for SCAN, resuming after `scanAfter`. */
  keylessRead(argv: readonly Uint8Array[], stale: boolean, scanAfter?: Uint8Array): Promise<KeylessAnswer>;
  watchRevisions(keys: readonly Uint8Array[], stale: boolean): Promise<WatchTicket[]>;
  /** Where a new watch starts: the shard's revision once every write acknowledged before the call is applied. */
  watchStart(): Promise<number>;
  /** A watch on `prefix` from `fromRevision`, owned by the caller (close it). */
  watch(prefix: Uint8Array, fromRevision: number): ShardWatcher;
}

/** A shard this node holds a replica of. */
export class LocalShard implements ShardAccess {
  readonly id: GroupId;
  readonly replica: ShardReplica;
  readonly #heavyReads: () => HeavyReadRunner | undefined;

  constructor(replica: ShardReplica, heavyReads: () => HeavyReadRunner | undefined = () => undefined) {
    this.id = replica.groupId;
    this.replica = replica;
    this.#heavyReads = heavyReads;
  }

  leaderId(): NodeId {
    return memberOfReplica(this.replica.host.raw.status().leaderId); // by member (lib/replica-id.ts)
  }

  async get(key: Uint8Array, stale: boolean): Promise<KeyRead> {
    const kv = await this.replica.client.get(key, stale);
    return { kv, revision: this.replica.store.revision() };
  }

  range(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, stale: boolean): Promise<KeyValue[]> {
    return this.replica.client.range(prefix, after, limit, stale);
  }

  submit(command: Command): Promise<CommandResult> {
    return this.replica.client.submit(command);
  }

  /** A command another member encoded (remote-shard.ts), through this shard's log. */
  submitEncoded(data: Uint8Array): Promise<CommandResult> {
    return this.replica.forwarding.submit(data);
  }

  readBarrier(): Promise<void> {
    return this.replica.client.readBarrier();
  }

  runRedis(
    argvs: readonly (readonly Uint8Array[])[],
    watches?: readonly WatchTicket[],
    order?: WriteOrder,
  ): Promise<RedisOutcome> {
    return this.replica.redis.runRedis(argvs, watches, order);
  }

  async readRedis(
    argvs: readonly (readonly Uint8Array[])[],
    stale: boolean,
    protocol?: ReplyProtocol,
  ): Promise<Reply[]> {
    const heavy = this.#heavyReads();
    if (protocol !== undefined && heavy !== undefined) {
      const replies = await heavy(this.replica, argvs, stale, protocol);
      if (replies !== undefined) return replies;
    }
    return this.replica.redis.readRedis(argvs, stale, this.replica.redis.scanCursors);
  }

  async keylessRead(argv: readonly Uint8Array[], stale: boolean, scanAfter?: Uint8Array): Promise<KeylessAnswer> {
    await this.replica.client.linearize(stale);
    const store = this.replica.store;
    const nowMs = Math.max(Date.now(), store.clockMs());
    // SCAN's cursor here is the key to resume after, handed in; the next one is handed back (the asking node
    // keeps the cursor table: keyless-reads.ts).
    let scanNext: Uint8Array | undefined;
    const cursors: ScanCursors = {
      resume: (cursor) => (cursor === 0n ? undefined : scanAfter),
      issue: (lastKey) => {
        scanNext = lastKey;
        return 1n;
      },
    };
    const [reply] = executeCommands(liveReader(store, nowMs), undefined, [argv], {
      nowMs,
      revision: store.revision(),
      random: new Prng(Math.floor(Math.random() * 0x100000000)),
      cursors,
    });
    return { reply: reply as Reply, scanNext };
  }

  watchRevisions(keys: readonly Uint8Array[], stale: boolean): Promise<WatchTicket[]> {
    return this.replica.redis.watchRevisions(keys, stale);
  }

  async watchStart(): Promise<number> {
    await this.replica.client.readBarrier();
    return this.replica.store.revision();
  }

  watch(prefix: Uint8Array, fromRevision: number): ShardWatcher {
    return this.replica.watches.watch(prefix, fromRevision);
  }

  /** A poll of another member's watch on this shard (remote-watcher.ts): the events from `from`, waiting up to
   * `waitMs` for the first, and the revision to ask from next. */
  async watchPoll(prefix: Uint8Array, from: number, waitMs: number): Promise<WatchPoll> {
    const watcher = this.replica.watches.watch(prefix, from);
    let timer: NodeJS.Timeout | undefined;
    try {
      const events = await Promise.race([
        watcher.take(),
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), waitMs);
        }),
      ]);
      return { events: events ?? [], next: watcher.next };
    } finally {
      clearTimeout(timer);
      watcher.close(undefined);
    }
  }
}
