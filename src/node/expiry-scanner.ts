/**
 * @module TTL on a replicated store: the LEADER decides expirations and replicates them as `expire` entries
 * stamped with its clock, so every replica deletes the same keys at the same point of the log. Reads never wait
 * for this: a key past its expiry is already invisible to every read (store/record.ts `isLive`).
 */
import type { Command, CommandResult } from "../commands/command.js";
import { COMMAND_LIMITS } from "../commands/limits.js";
import { ShoalError } from "../lib/errors.js";
import type { StateMachineStore } from "../store/state-machine-store.js";

export interface ExpiryScannerOptions {
  readonly store: StateMachineStore;
  readonly isLeader: () => boolean;
  readonly propose: (command: Command) => Promise<CommandResult>;
  readonly intervalMs: number;
  /** Bounds one expire entry (and the scan that finds its keys). */
  readonly keysPerScanMax: number;
}

export class ExpiryScanner {
  readonly #options: ExpiryScannerOptions;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;

  constructor(options: ExpiryScannerOptions) {
    // A bigger sweep would be refused before it is proposed (validateCommand), every time: keys would never expire.
    if (!(options.keysPerScanMax >= 1 && options.keysPerScanMax <= COMMAND_LIMITS.expireKeysCountMax)) {
      throw new ShoalError(
        "BAD_REQUEST",
        `Cannot scan for expired keys: ${options.keysPerScanMax} keys per scan is outside 1..${COMMAND_LIMITS.expireKeysCountMax}`,
      );
    }
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => void this.scan(), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }

  /** Proposes one `expire` entry for keys already past their expiry; one scan in flight at a time. */
  async scan(): Promise<void> {
    const { store, isLeader, propose, keysPerScanMax } = this.#options;
    if (this.#inFlight || !isLeader()) return;
    const nowMs = Date.now();
    const keys = store.expiredKeys(nowMs, keysPerScanMax);
    if (keys.length === 0) return;
    this.#inFlight = true;
    try {
      await propose({ op: "expire", keys, nowMs });
    } catch {
      // Leadership moved or the entry timed out: the next leader's scan finds the same keys.
    } finally {
      this.#inFlight = false;
    }
  }
}
