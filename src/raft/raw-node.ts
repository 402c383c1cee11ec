/**
 * @module The Raft core's public face: a pure, synchronous state machine driven by its host.
 * SKELETON: the signatures below are the contract; the implementation lands next.
 */
import type { RaftConfig } from "./config.js";
import type { RaftStorage } from "./storage.js";
import type { ConfChange, ConfState, Message, NodeId, ProposalResult, Ready, Role } from "./types.js";
import type { Random } from "../lib/prng.js";

export interface RaftStatus {
  readonly id: NodeId;
  readonly groupId: number;
  readonly role: Role;
  readonly leaderId: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly confState: ConfState;
  /** Leader only: each member's match index (what it is known to hold). */
  readonly matchIndex: ReadonlyMap<NodeId, number>;
}

/**
 * Use:
 *   const node = new RawNode(config, storage, random, { voters: [1, 2, 3], learners: [] });
 *   every tick: node.tick();   on a message: node.step(message);
 *   while (node.hasReady()) { const rd = node.ready(); ...persist, send, apply (see Ready)...; node.advance(rd); }
 * `bootstrap` gives the initial membership when storage is empty; a restarted node reads it from storage.
 */
export class RawNode {
  constructor(config: RaftConfig, storage: RaftStorage, random: Random, bootstrap?: ConfState) {
    void config; void storage; void random; void bootstrap;
    throw new Error("not implemented");
  }
  tick(): void {}
  step(message: Message): void { void message; }
  propose(data: Uint8Array): ProposalResult { void data; throw new Error("not implemented"); }
  proposeConfChange(change: ConfChange): ProposalResult { void change; throw new Error("not implemented"); }
  /** Requests a linearizable read; its ReadState (with the same context) arrives in a later Ready. Returns
   * false when no leader is known (the host fails the read with a retryable error). */
  readIndex(context: string): boolean { void context; return false; }
  transferLeader(target: NodeId): void { void target; }
  /** Immediately start an election (tests, and a node asked to campaign). */
  campaign(): void {}
  hasReady(): boolean { return false; }
  ready(): Ready { throw new Error("not implemented"); }
  advance(ready: Ready): void { void ready; }
  status(): RaftStatus { throw new Error("not implemented"); }
}
