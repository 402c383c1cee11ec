/**
 * @module Log Matching (paper, Figure 3 and section 5.3): if two logs contain an entry with the same index and
 * term, the logs are identical up to that index. Checked incrementally: every (index, term) ever persisted by
 * any node is recorded with its payload and the term of the entry before it; any node persisting the same
 * (index, term) must have the same payload and the same previous term. By induction over indexes that is the
 * whole property, at the cost of one map lookup per persisted entry. Also checked: a node's log has no gaps
 * and its terms never decrease.
 */
import type { MemoryStorage } from "../../src/raft/memory-storage.js";
import type { Entry, NodeId } from "../../src/raft/types.js";
import type { HostObserver } from "../observer.js";
import { payloadKey } from "../state-machine.js";
import { SimViolation } from "./violation.js";

interface SeenEntry {
  readonly payload: string;
  readonly prevTerm: number;
  readonly node: number;
}

/** What this checker needs of a host: its id and its durable log before the write (the model host's disk, the
 * real host's Raft storage, which it updates only after the WAL save). */
export interface PersistingHost {
  readonly id: NodeId;
  readonly disk: Pick<MemoryStorage, "firstIndex" | "lastIndex" | "term">;
}

export class LogMatchingChecker implements HostObserver {
  readonly #seen = new Map<string, SeenEntry>();

  willPersist(host: PersistingHost, entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const disk = host.disk;
    if (first.index > disk.lastIndex() + 1) {
      this.#fail(`node ${host.id} would persist index ${first.index} after its last index ${disk.lastIndex()}`);
    }
    if (first.index < disk.firstIndex()) {
      this.#fail(`node ${host.id} would rewrite index ${first.index}, compacted below ${disk.firstIndex()}`);
    }
    let prevIndex = first.index - 1;
    let prevTerm = prevIndex === 0 ? 0 : (disk.term(prevIndex) as number);
    for (const entry of entries) {
      if (entry.index !== prevIndex + 1) this.#fail(`node ${host.id} persists index ${entry.index} after ${prevIndex}`);
      if (entry.term < prevTerm) {
        this.#fail(`node ${host.id} persists index ${entry.index} term ${entry.term} after term ${prevTerm}`);
      }
      this.#match(host, entry, prevTerm);
      prevIndex = entry.index;
      prevTerm = entry.term;
    }
  }

  #match(host: PersistingHost, entry: Entry, prevTerm: number): void {
    const key = `${entry.index}:${entry.term}`;
    const payload = payloadKey(entry);
    const seen = this.#seen.get(key);
    if (seen === undefined) {
      this.#seen.set(key, { payload, prevTerm, node: host.id });
      return;
    }
    if (seen.payload !== payload) {
      this.#fail(
        `index ${entry.index} term ${entry.term} holds different payloads on node ${seen.node} and ${host.id}`,
      );
    }
    if (seen.prevTerm !== prevTerm) {
      this.#fail(
        `index ${entry.index} term ${entry.term} follows term ${seen.prevTerm} on node ${seen.node} ` +
          `but term ${prevTerm} on node ${host.id}`,
      );
    }
  }

  #fail(message: string): never {
    throw new SimViolation("logMatching", message);
  }
}
