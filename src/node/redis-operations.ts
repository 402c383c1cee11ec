/**
 * @module What the RESP server asks of a member: Redis data commands through the log as one entry, readonly ones
 * on this member's state after a ReadIndex barrier (or on a read worker that borrows the LMDB environment), the
 * revisions behind Redis WATCH and the EXEC check they need, and SCAN cursors issued by other members.
 */
import type { Command } from "../commands/command.js";
import { checkKeySize } from "../commands/limits.js";
import type { ScanCursors } from "../commands/redis/command-spec.js";
import { executeCommands } from "../commands/redis/execute.js";
import type { Reply } from "../commands/redis/reply.js";
import { ScanCursorTable } from "../commands/redis/scan-cursor-table.js";
import { keysOfArgvs } from "../commands/slot-ownership.js";
import { EMPTY_BYTES } from "../lib/bytes.js";
import { Prng } from "../lib/prng.js";
import { LmdbStore } from "../store/lmdb/lmdb-store.js";
import { checkServed, slotsMoving } from "../store/slot-states.js";
import type { StateMachineStore } from "../store/state-machine-store.js";
import type { KeyspaceReader } from "../store/write-set.js";
import type { ClientOperations } from "./client-operations.js";
import type { AskPeer } from "./leader-forwarding.js";
import type { NodeOptions } from "./node-options.js";
import { peerRequest } from "./peer-rpc.js";
import type { WatchTicket } from "./redis-watch.js";
import { absentWatchedKeysWritten, readWatchTickets } from "./redis-watch.js";
import { outcomeOf, RedisWriteBatcher } from "./write-batcher.js";
import type { WriteOrder } from "./write-order.js";

export interface RedisOutcome {
  readonly aborted: boolean;
  readonly replies: readonly Reply[];
}

/** The store's live keys as a KeyspaceReader for reads served outside the log. */
export function liveReader(store: StateMachineStore, nowMs: number): KeyspaceReader {
  return {
    getRecord: (key) => store.get(key, nowMs),
    keysAfter: (after, limit) => store.range(EMPTY_BYTES, after, limit, nowMs).map((kv) => kv.key),
    keyCount: () => store.stats().keyCount,
    getRow: (collectionId, rowKey) => store.getRow(collectionId, rowKey),
    rowsAfter: (collectionId, after, limit) => store.rowsAfter(collectionId, after, limit),
  };
}

export class RedisOperations {
  /** The SCAN cursors this node issued (and other nodes' it resumed): valid on every node, see the table. */
  readonly scanCursors: ScanCursorTable;
  readonly #options: Pick<NodeOptions, "id" | "members" | "requestTimeoutMs">;
  readonly #store: StateMachineStore;
  readonly #client: ClientOperations;
  readonly #ask: AskPeer;
  readonly #batcher: RedisWriteBatcher;

  constructor(
    options: Pick<NodeOptions, "id" | "members" | "requestTimeoutMs">,
    store: StateMachineStore,
    client: ClientOperations,
    ask: AskPeer,
  ) {
    this.#options = options;
    this.#store = store;
    this.#client = client;
    this.#ask = ask;
    this.#batcher = new RedisWriteBatcher((argvs, mayResend) =>
      client.submit({ op: "redis", nowMs: Date.now(), argvs }, mayResend),
    );
    this.scanCursors = new ScanCursorTable({
      ownerId: options.id,
      firstTag: BigInt(Math.floor(Math.random() * 2 ** 21)) * 2n ** 21n + BigInt(Math.floor(Math.random() * 2 ** 21)),
    });
  }

  /**
   * Runs Redis data commands through the log as one entry (see RedisCommand) and returns their outcome. With
   * watches (EXEC), a key absent when WATCHed must also abort EXEC if it was created and deleted again since
   * (redis-watch.ts); the replicated entry then re-checks every modRevision at apply.
   */
  async runRedis(
    argvs: readonly (readonly Uint8Array[])[],
    watches?: readonly WatchTicket[],
    order?: WriteOrder,
  ): Promise<RedisOutcome> {
    // An EXEC of only PING/ECHO/TIME: nothing to replicate unless WATCHed keys must be checked in log order.
    if (argvs.length === 0 && (watches === undefined || watches.length === 0)) return { aborted: false, replies: [] };
    if (watches !== undefined && (await this.#absentWatchedKeysWritten(watches))) return { aborted: true, replies: [] };
    const watched = watches?.map(({ key, modRevision }) => ({ key, modRevision }));
    // Without WATCH, with the other connections' writes of this turn (write-batcher.ts).
    // While a slot of this shard is moving, a run's entry may be refused at apply and must be sent again alone —
    // which a run overtaken by a later one may not be (write-order.ts): so then it is not placed, and its
    // connection waits for it before the next.
    if (watched === undefined || watched.length === 0) {
      return this.#batcher.run(argvs, slotsMoving(this.#store.slotStates()) ? undefined : order);
    }
    const command: Command = { op: "redis", nowMs: Date.now(), argvs, watches: watched };
    return outcomeOf(await this.#client.submit(command));
  }

  async #absentWatchedKeysWritten(watches: readonly WatchTicket[]): Promise<boolean> {
    if (watches.every((watch) => watch.modRevision !== 0)) return false;
    await this.#client.readBarrier();
    return absentWatchedKeysWritten(this.#store, watches);
  }

  /** Runs readonly Redis data commands on this node's state: linearizable (ReadIndex) unless `stale`. */
  async readRedis(argvs: readonly (readonly Uint8Array[])[], stale: boolean, cursors: ScanCursors): Promise<Reply[]> {
    await this.#client.linearize(stale);
    checkServed(this.#store.slotStates(), () => keysOfArgvs(argvs), false);
    const nowMs = Math.max(Date.now(), this.#store.clockMs());
    return executeCommands(liveReader(this.#store, nowMs), undefined, argvs, {
      nowMs,
      revision: this.#store.revision(),
      random: new Prng(Math.floor(Math.random() * 0x100000000)),
      cursors,
    });
  }

  /**
   * For a read served on another thread (the RESP server's read workers): waits for the ReadIndex barrier unless
   * `stale`, then lends the store's LMDB environment, pinned open until `release`. Undefined when the store is
   * not on LMDB (nothing to lend): read through `readRedis` then.
   */
  async lendStateForRead(
    stale: boolean,
    argvs: readonly (readonly Uint8Array[])[],
  ): Promise<{ readonly path: string; release(): void } | undefined> {
    if (!(this.#store instanceof LmdbStore)) return undefined;
    await this.#client.linearize(stale);
    checkServed(this.#store.slotStates(), () => keysOfArgvs(argvs), false);
    return this.#store.lendEnvironment();
  }

  /** The keys' modRevision (0 when absent or expired) for Redis WATCH, with the group revision they were read
   * at: linearizable unless `stale`. */
  async watchRevisions(keys: readonly Uint8Array[], stale: boolean): Promise<WatchTicket[]> {
    for (const key of keys) checkKeySize(key);
    await this.#client.linearize(stale);
    checkServed(this.#store.slotStates(), keys, false);
    return readWatchTickets(this.#store, keys);
  }

  /**
   * Makes other nodes' SCAN cursors resumable here: each is asked of the node that issued it (its id is in the
   * cursor) and adopted. One that cannot be resolved — its node is not a member, is down, or no longer knows
   * it — stays unknown, and SCAN answers "invalid cursor".
   */
  async resolveScanCursors(cursors: readonly bigint[]): Promise<void> {
    const timeoutMs = Math.min(this.#options.requestTimeoutMs, 1000);
    await Promise.all(
      cursors.map(async (cursor) => {
        const owner = ScanCursorTable.ownerOf(cursor);
        if (owner === this.#options.id || !this.#options.members.has(owner)) return;
        try {
          const key = await this.#ask(owner, peerRequest.scanCursor(cursor), timeoutMs);
          if (key instanceof Uint8Array) this.scanCursors.adopt(cursor, key);
        } catch {
          // unresolved: SCAN answers "invalid cursor"
        }
      }),
    );
  }
}
