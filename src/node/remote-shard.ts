/**
 * @module A shard this node holds no replica of (placement with R < N): every call is asked of a member that holds
 * one — the shard's leader when known (it answers writes and barriers without another hop), else another replica —
 * and that member answers from its own replica (`answerShardCall`), forwarding writes to the leader itself.
 *
 * Retries follow leader-forwarding.ts: a call goes to the next replica only when the failure proves it did not
 * run (the request was never written, or the replica refused it with a retryable code); a write that was sent and
 * then lost (TIMEOUT, UNKNOWN_OUTCOME) is reported, never sent again, so it cannot apply twice. A shard that has
 * lost the majority of its replicas fails at once with CLUSTER_DOWN (Redis Cluster's answer for slots nobody
 * serves) instead of waiting out the request timeout — its slots only: other shards keep serving.
 *
 * Every answer names the replying member's view of the shard's leader, which is how a node that holds no replica
 * learns where a shard's leader is (for the next call, and for CLUSTER SLOTS).
 */
import type { Command, CommandResult } from "../commands/command.js";
import type { Reply } from "../commands/redis/reply.js";
import { ShoalError } from "../lib/errors.js";
import { type GroupId, NO_NODE, type NodeId } from "../raft/types.js";
import type { KeyValue } from "../store/record.js";
import { encodeForLog } from "./client-operations.js";
import type { AskPeer } from "./leader-forwarding.js";
import type { ShardWatcher } from "./merged-watcher.js";
import type { ShardCall, ShardRequest } from "./peer-rpc.js";
import type { RedisOutcome } from "./redis-operations.js";
import type { WatchTicket } from "./redis-watch.js";
import { RemoteWatcher, WATCH_POLL_WAIT_MS, type WatchPoll } from "./remote-watcher.js";
import type { KeylessAnswer, KeyRead, LocalShard, ReplyProtocol, ShardAccess } from "./shard-access.js";

/** A member's answer: the value, and the shard's leader as the member knows it. */
interface ShardReply {
  readonly leader: NodeId;
  readonly value: unknown;
}

export interface RemoteShardOptions {
  readonly id: GroupId;
  /** The members holding the shard now (they change as replicas move: slots/cluster-layout.ts). */
  readonly replicaIds: () => readonly NodeId[];
  readonly ask: AskPeer;
  /** Node-level liveness (node-liveness.ts). */
  readonly isLive: (id: NodeId) => boolean;
  /** The replicas' own deadline; a call waits a little longer, so their answer (or their error) arrives first. */
  readonly requestTimeoutMs: number;
  /** For messages: the shard's slots as text ("0-5460"). */
  readonly slotsText: () => string;
}

/** How much longer than a replica's own deadline a call waits for its answer. */
const ANSWER_GRACE_MS = 1_000;

export class RemoteShard implements ShardAccess {
  readonly id: GroupId;
  readonly replica = undefined;
  readonly #options: RemoteShardOptions;
  #leaderHint: NodeId = NO_NODE;
  /** Where the next call starts among the replicas when no leader is known (spreads reads). */
  #next = 0;

  constructor(options: RemoteShardOptions) {
    this.id = options.id;
    this.#options = options;
  }

  leaderId(): NodeId {
    return this.#leaderHint;
  }

  /** Member `id` says it leads the shard (its member info, read for the cluster's status); NO_NODE: the one
   * known did not answer. */
  leaderHeard(id: NodeId): void {
    if (id === NO_NODE || this.#options.replicaIds().includes(id)) this.#leaderHint = id;
  }

  async get(key: Uint8Array, stale: boolean): Promise<KeyRead> {
    const read = (await this.#call({ call: "get", key, stale })) as { kv: KeyValue | null; revision: number };
    return { kv: read.kv ?? undefined, revision: read.revision };
  }

  async range(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, stale: boolean): Promise<KeyValue[]> {
    const call: ShardCall =
      after === undefined ? { call: "range", prefix, limit, stale } : { call: "range", prefix, after, limit, stale };
    return (await this.#call(call)) as KeyValue[];
  }

  async submit(command: Command): Promise<CommandResult> {
    return (await this.#call({ call: "submit", data: await encodeForLog(command) })) as CommandResult;
  }

  async readBarrier(): Promise<void> {
    await this.#call({ call: "barrier" });
  }

  async runRedis(argvs: readonly (readonly Uint8Array[])[], watches?: readonly WatchTicket[]): Promise<RedisOutcome> {
    const call: ShardCall =
      watches === undefined
        ? { call: "redis-run", argvs: argvs as Uint8Array[][] }
        : { call: "redis-run", argvs: argvs as Uint8Array[][], watches: [...watches] };
    return (await this.#call(call)) as RedisOutcome;
  }

  async readRedis(
    argvs: readonly (readonly Uint8Array[])[],
    stale: boolean,
    protocol?: ReplyProtocol,
  ): Promise<Reply[]> {
    const call: ShardCall =
      protocol === undefined
        ? { call: "redis-read", argvs: argvs as Uint8Array[][], stale }
        : { call: "redis-read", argvs: argvs as Uint8Array[][], stale, protocol };
    return (await this.#call(call)) as Reply[];
  }

  async keylessRead(argv: readonly Uint8Array[], stale: boolean, scanAfter?: Uint8Array): Promise<KeylessAnswer> {
    const call: ShardCall =
      scanAfter === undefined
        ? { call: "keyless", argv: argv as Uint8Array[], stale }
        : { call: "keyless", argv: argv as Uint8Array[], stale, scanAfter };
    const answer = (await this.#call(call)) as { reply: Reply; scanNext?: Uint8Array | null };
    return { reply: answer.reply, scanNext: answer.scanNext ?? undefined };
  }

  async watchRevisions(keys: readonly Uint8Array[], stale: boolean): Promise<WatchTicket[]> {
    return (await this.#call({ call: "watch-revisions", keys: keys as Uint8Array[], stale })) as WatchTicket[];
  }

  async watchStart(): Promise<number> {
    return (await this.#call({ call: "revision" })) as number;
  }

  watch(prefix: Uint8Array, fromRevision: number): ShardWatcher {
    return new RemoteWatcher(async (from, waitMs) => {
      const answer = (await this.#call({ call: "watch-poll", prefix, from, waitMs })) as WatchPoll;
      // msgpack turns an absent record into null: absent again, as a local event has it.
      const events = answer.events.map((event) => ({ ...event, record: event.record ?? undefined }));
      return { events, next: answer.next };
    }, fromRevision);
  }

  /** The replicas to try, in order: the known leader, then the others from a rotating start; only live ones. */
  #targets(): NodeId[] {
    const { isLive } = this.#options;
    const replicaIds = this.#options.replicaIds();
    assertMajorityLive(this.id, replicaIds, isLive, this.#options.slotsText);
    const live = replicaIds.filter(isLive);
    const start = this.#next++ % live.length;
    const rotated = [...live.slice(start), ...live.slice(0, start)];
    const leader = this.#leaderHint;
    return live.includes(leader) ? [leader, ...rotated.filter((id) => id !== leader)] : rotated;
  }

  async #call(request: ShardCall): Promise<unknown> {
    const payload: ShardRequest = { kind: "shard", group: this.id, request };
    const deadline = Date.now() + this.#options.requestTimeoutMs;
    let lastError: unknown;
    for (const target of this.#targets()) {
      const timeoutMs = Math.max(1, deadline - Date.now()) + ANSWER_GRACE_MS;
      try {
        const reply = (await this.#options.ask(target, payload, timeoutMs)) as ShardReply;
        if (this.#options.replicaIds().includes(reply.leader)) this.#leaderHint = reply.leader;
        return reply.value;
      } catch (error) {
        // Certainly not run there (never sent, or refused before it ran): another replica may serve it.
        if (!(error instanceof ShoalError) || !error.retryable) throw error;
        if (this.#leaderHint === target) this.#leaderHint = NO_NODE;
        lastError = error;
        if (Date.now() >= deadline) break;
      }
    }
    throw lastError;
  }
}

/** Throws CLUSTER_DOWN when a majority of shard `id`'s replicas is unreachable from here: its group cannot
 * elect a leader or commit, so a request would only wait out its timeout. */
export function assertMajorityLive(
  id: GroupId,
  replicaIds: readonly NodeId[],
  isLive: (id: NodeId) => boolean,
  slotsText: () => string,
): void {
  let downCount = 0;
  for (const replica of replicaIds) if (!isLive(replica)) downCount++;
  if (downCount * 2 < replicaIds.length) return; // every request asks: the list is built only to fail
  const down = replicaIds.filter((replica) => !isLive(replica));
  throw new ShoalError(
    "CLUSTER_DOWN",
    `The cluster is down for slots ${slotsText()}: shard ${id} has lost a majority of its replicas (nodes ` +
      `${down.join(", ")} of ${replicaIds.join(", ")} are unreachable)`,
  );
}

/** A member's answer to a call for shard `shard` (held here): checked field by field, it came off the wire. */
export async function answerShardCall(shard: LocalShard, payload: unknown): Promise<ShardReply> {
  const request = payload as Record<string, unknown> | undefined;
  const value = await runCall(shard, request);
  return { leader: shard.leaderId(), value: value === undefined ? null : value };
}

function runCall(shard: LocalShard, r: Record<string, unknown> | undefined): Promise<unknown> {
  switch (r?.call) {
    case "get":
      return shard.get(bytes(r.key), flag(r.stale)).then(({ kv, revision }) => ({ kv: kv ?? null, revision }));
    case "range":
      return shard.range(
        bytes(r.prefix),
        r.after === undefined ? undefined : bytes(r.after),
        count(r.limit),
        flag(r.stale),
      );
    case "submit":
      return shard.submitEncoded(bytes(r.data));
    case "barrier":
      return shard.readBarrier();
    case "redis-run":
      return shard.runRedis(argvList(r.argvs), r.watches === undefined ? undefined : tickets(r.watches));
    case "redis-read":
      return shard.readRedis(
        argvList(r.argvs),
        flag(r.stale),
        r.protocol === 2 || r.protocol === 3 ? r.protocol : undefined,
      );
    case "keyless":
      return shard.keylessRead(
        argvOf(r.argv),
        flag(r.stale),
        r.scanAfter === undefined ? undefined : bytes(r.scanAfter),
      );
    case "revision":
      return shard.watchStart();
    case "watch-poll":
      return shard.watchPoll(bytes(r.prefix), count(r.from), Math.min(count(r.waitMs), WATCH_POLL_WAIT_MS));
    case "watch-revisions":
      return shard.watchRevisions(argvOf(r.keys), flag(r.stale));
    default:
      throw malformed();
  }
}

function malformed(): ShoalError {
  return new ShoalError("BAD_REQUEST", "A peer sent a malformed shard call");
}

function bytes(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw malformed();
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

function flag(value: unknown): boolean {
  if (typeof value !== "boolean") throw malformed();
  return value;
}

function count(value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw malformed();
  return value as number;
}

function argvOf(value: unknown): Uint8Array[] {
  if (!Array.isArray(value)) throw malformed();
  return value.map(bytes);
}

function argvList(value: unknown): Uint8Array[][] {
  if (!Array.isArray(value)) throw malformed();
  return value.map(argvOf);
}

function tickets(value: unknown): WatchTicket[] {
  if (!Array.isArray(value)) throw malformed();
  return value.map(
    (item: Partial<WatchTicket> | undefined): WatchTicket => ({
      key: bytes(item?.key),
      modRevision: count(item?.modRevision),
      watchedAtRevision: count(item?.watchedAtRevision),
      slotMove: item?.slotMove === undefined ? 0 : count(item.slotMove),
    }),
  );
}
