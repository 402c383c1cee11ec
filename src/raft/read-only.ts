/**
 * @module ReadIndex bookkeeping on the leader (Raft thesis, section 6.4). A read arriving at commit index C is
 * safe to serve at C once a majority has answered a heartbeat sent after the read arrived: that proves no newer
 * leader had been elected when the read started. Reads are confirmed in arrival order, so one heartbeat round
 * confirms every read queued before it.
 */
import { quorumMatchIndex } from "./quorum.js";
import type { NodeId } from "./types.js";

export interface PendingRead {
  readonly context: string;
  readonly index: number;
  /** Who asked: this node, or the follower that forwarded the read. */
  readonly from: NodeId;
  readonly acks: Set<NodeId>;
}

export class ReadOnlyQueue {
  #pending = new Map<string, PendingRead>();
  #order: string[] = [];

  add(context: string, index: number, from: NodeId, self: NodeId): void {
    if (this.#pending.has(context)) return;
    this.#pending.set(context, { context, index, from, acks: new Set([self]) });
    this.#order.push(context);
  }

  /** Records a heartbeat acknowledgement; returns the reads it confirmed (in order), removing them. */
  acknowledge(context: string, from: NodeId, voters: ReadonlySet<NodeId>): PendingRead[] {
    const read = this.#pending.get(context);
    if (read === undefined) return [];
    read.acks.add(from);
    const confirmed = quorumMatchIndex(voters, (id) => (read.acks.has(id) ? 1 : 0)) === 1;
    if (!confirmed) return [];
    const position = this.#order.indexOf(context);
    const released = this.#order.splice(0, position + 1);
    return released.map((ctx) => {
      const pending = this.#pending.get(ctx) as PendingRead;
      this.#pending.delete(ctx);
      return pending;
    });
  }

  lastContext(): string {
    return this.#order.length === 0 ? "" : (this.#order[this.#order.length - 1] as string);
  }

  size(): number {
    return this.#order.length;
  }

  clear(): void {
    this.#pending.clear();
    this.#order = [];
  }
}
