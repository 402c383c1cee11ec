/**
 * @module The key schedule both register workloads (HTTP and RESP) share: a handful of key slots, each moving to
 * a fresh key after `opsPerKey` operations (so histories per key stay short for the checker), the keys used so
 * far, and what each client last read of each key (the compare value of its next CAS).
 */

export class RegisterKeys {
  readonly #slots: { generation: number; ops: number }[];
  readonly #opsPerKey: number;
  /** Every key handed out, for the final reads. */
  readonly used = new Set<string>();
  readonly #lastSeen = new Map<number, Map<string, string>>();

  constructor(slotCount: number, opsPerKey: number) {
    this.#slots = Array.from({ length: slotCount }, () => ({ generation: 0, ops: 0 }));
    this.#opsPerKey = opsPerKey;
  }

  get slotCount(): number {
    return this.#slots.length;
  }

  /** The key slot `slotIndex` stands for now, counting this operation against it. */
  next(slotIndex: number): string {
    const slot = this.#slots[slotIndex]!;
    if (slot.ops >= this.#opsPerKey) {
      slot.generation++;
      slot.ops = 0;
    }
    slot.ops++;
    const key = `r${slotIndex}.${slot.generation}`;
    this.used.add(key);
    return key;
  }

  /** Every slot's key now and its next `ahead` keys (a key lasts `opsPerKey` operations: often under a second). */
  hotKeys(ahead = 3): string[] {
    return this.#slots.flatMap((slot, index) =>
      Array.from({ length: ahead + 1 }, (_, i) => `r${index}.${slot.generation + i}`),
    );
  }

  /** What `client` last read of each key (mutable: the workload records reads into it). */
  seenBy(client: number): Map<string, string> {
    let seen = this.#lastSeen.get(client);
    if (seen === undefined) {
      seen = new Map();
      this.#lastSeen.set(client, seen);
    }
    return seen;
  }
}
