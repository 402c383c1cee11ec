/**
 * @module RunStats: what happened in a run, for the verbose report and to show that the interesting paths ran
 * (elections, snapshot chunks, crashes). It also folds every message and applied entry into a digest: two runs
 * of one seed must print the same digest, which is how replay determinism is tested.
 */
import type { Entry, Message } from "../src/raft/types.js";
import type { HostObserver } from "./observer.js";
import { HASH_SEED, hashString, hashUint32 } from "./random.js";
import type { SimHost } from "./sim-host.js";

export class RunStats implements HostObserver {
  digest = HASH_SEED;
  messages = 0;
  elections = 0;
  maxTerm = 0;
  appliedEntries = 0;
  snapshotChunks = 0;
  snapshotsInstalled = 0;
  crashes = 0;

  messageSent(message: Message): void {
    this.messages++;
    if (message.type === "installSnapshot") this.snapshotChunks++;
    let h = hashString(this.digest, message.type);
    h = hashUint32(h, message.from);
    h = hashUint32(h, message.to);
    this.digest = hashUint32(h, message.term);
  }

  leaderElected(host: SimHost, term: number): void {
    this.elections++;
    this.maxTerm = Math.max(this.maxTerm, term);
    this.digest = hashUint32(hashUint32(this.digest, host.id), term);
  }

  applied(host: SimHost, entry: Entry): void {
    this.appliedEntries++;
    this.digest = hashUint32(hashUint32(this.digest, host.id), entry.index);
  }

  stateRestored(_host: SimHost, _machine: unknown, cause: "install" | "restart"): void {
    if (cause === "install") this.snapshotsInstalled++;
  }

  crashed(host: SimHost): void {
    this.crashes++;
    this.digest = hashUint32(hashString(this.digest, "crash"), host.id);
  }

  digestHex(): string {
    return this.digest.toString(16).padStart(8, "0");
  }
}
