/**
 * @module Node-level liveness: which peers this node has heard from lately, whatever group they spoke for. It is
 * what lets idle Raft groups go quiet (RaftConfig.quiesce): a quiesced follower has no heartbeats to miss, so it
 * learns that its leader's node went silent here instead, and its host wakes it (RaftHost). One small ping per
 * peer per heartbeat interval stands in for the heartbeats of every quiet group between the two nodes — the
 * coalescing CockroachDB does for its ranges — so an idle node's cost stops growing with its group count.
 *
 * Any inbound Raft message counts as hearing from its sender; a ping is a Raft-shaped message of a group no node
 * hosts (LIVENESS_GROUP_ID), consumed by the group router. A peer not heard from for `silentAfterMs` (an election
 * timeout) is silent; at start every peer is given that long.
 */
import type { Clock, TimerHandle } from "../io/clock.js";
import type { Message, NodeId } from "../raft/types.js";

/** The group id of liveness pings: never a shard's (shards count from 1, the meta group is 0). */
export const LIVENESS_GROUP_ID = 0x7fffffff;

export interface NodeLivenessOptions {
  readonly selfId: NodeId;
  readonly peerIds: readonly NodeId[];
  readonly clock: Clock;
  /** How often each peer is pinged: the Raft heartbeat interval. */
  readonly pingIntervalMs: number;
  /** Silent after this long unheard: the Raft election timeout. */
  readonly silentAfterMs: number;
  readonly send: (messages: Message[]) => void;
}

export class NodeLiveness {
  readonly #options: NodeLivenessOptions;
  readonly #heardAtMs = new Map<NodeId, number>();
  readonly #peerIds: NodeId[] = [];
  #timer: TimerHandle | undefined;

  constructor(options: NodeLivenessOptions) {
    this.#options = options;
    for (const id of options.peerIds) this.addPeer(id);
  }

  /** Starts pinging `id` too (a member that joined), counted live from now as every peer is at start. */
  addPeer(id: NodeId): void {
    if (id === this.#options.selfId || this.#heardAtMs.has(id)) return;
    this.#heardAtMs.set(id, this.#options.clock.now());
    this.#peerIds.push(id);
  }

  /** Stops pinging `id` (a member removed from the cluster). */
  removePeer(id: NodeId): void {
    this.#heardAtMs.delete(id);
    const at = this.#peerIds.indexOf(id);
    if (at !== -1) this.#peerIds.splice(at, 1);
  }

  start(): void {
    this.#ping();
    this.#timer = this.#options.clock.setInterval(() => this.#ping(), this.#options.pingIntervalMs);
  }

  stop(): void {
    this.#options.clock.clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** A message from `peerId` arrived (any group's, or a ping). */
  heard(peerId: NodeId): void {
    if (this.#heardAtMs.has(peerId)) this.#heardAtMs.set(peerId, this.#options.clock.now());
  }

  /** Whether `id` (this node, or a peer heard from within `silentAfterMs`) is live. */
  isLive(id: NodeId): boolean {
    if (id === this.#options.selfId) return true;
    const heardAtMs = this.#heardAtMs.get(id);
    return heardAtMs !== undefined && this.#options.clock.now() - heardAtMs < this.#options.silentAfterMs;
  }

  #ping(): void {
    const { selfId, send } = this.#options;
    send(
      this.#peerIds.map((to) => ({
        type: "heartbeatResponse",
        groupId: LIVENESS_GROUP_ID,
        from: selfId,
        to,
        term: 0,
        readContext: "",
      })),
    );
  }
}
