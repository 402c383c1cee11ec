/**
 * @module A tiny synchronous in-memory cluster for the Raft core's unit tests: instant delivery, explicit
 * message dropping, no faults of its own. (The deterministic simulator in sim/ does the randomized testing.)
 */
import { Prng } from "../../lib/prng.js";
import { type RaftConfig, resolveRaftConfig } from "../config.js";
import { MemoryStorage } from "../memory-storage.js";
import { RawNode } from "../raw-node.js";
import type { Entry, Message, NodeId, ReadState } from "../types.js";

export interface MiniNode {
  readonly id: NodeId;
  raw: RawNode;
  readonly storage: MemoryStorage;
  applied: Entry[];
  readStates: ReadState[];
}

export class MiniCluster {
  readonly nodes = new Map<NodeId, MiniNode>();
  /** Links that drop messages: "from->to". */
  readonly cut = new Set<string>();
  readonly delivered: Message[] = [];
  #queue: Message[] = [];

  constructor(ids: readonly NodeId[], overrides: Partial<RaftConfig> = {}, seed = 1) {
    for (const id of ids) {
      const storage = new MemoryStorage({ voters: ids, learners: [] });
      const config = resolveRaftConfig({ id, groupId: 1, ...overrides });
      const raw = new RawNode(config, storage, new Prng(seed * 100 + id));
      this.nodes.set(id, { id, raw, storage, applied: [], readStates: [] });
    }
  }

  node(id: NodeId): MiniNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new RangeError(`No node ${id}`);
    return node;
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Runs every node's Ready loop and delivers messages until nothing moves. */
  stabilize(limit = 10_000): void {
    for (let round = 0; round < limit; round++) {
      let moved = false;
      for (const node of this.nodes.values()) moved = this.#processReady(node) || moved;
      const queue = this.#queue;
      this.#queue = [];
      for (const message of queue) {
        moved = true;
        if (this.cut.has(`${message.from}->${message.to}`)) continue;
        const target = this.nodes.get(message.to);
        if (target === undefined) continue;
        this.delivered.push(message);
        target.raw.step(message);
      }
      if (!moved) return;
    }
    throw new Error("Cluster did not stabilize");
  }

  tick(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const node of this.nodes.values()) node.raw.tick();
      this.stabilize();
    }
  }

  leader(): MiniNode | undefined {
    return [...this.nodes.values()].find((node) => node.raw.status().role === "leader");
  }

  #processReady(node: MiniNode): boolean {
    if (!node.raw.hasReady()) return false;
    const ready = node.raw.ready();
    if (ready.snapshot !== undefined) node.storage.applySnapshot(ready.snapshot);
    node.storage.append(ready.entries);
    if (ready.hardState !== undefined) node.storage.setHardState(ready.hardState);
    this.#queue.push(...ready.messages);
    for (const entry of ready.committedEntries) node.applied.push(entry);
    node.readStates.push(...ready.readStates);
    node.raw.advance(ready);
    return true;
  }
}
