/**
 * @module SimDisk: one node's disk, in memory, with the faults a power loss brings (after ALICE, Pillai et al.,
 * OSDI 2014, and TigerBeetle's storage simulator). It implements `io/disk.ts`, so the real WAL and snapshot files
 * run over it unchanged.
 *
 * What the disk holds is kept twice: what a reader sees now (the page cache) and what would survive a crash (the
 * platter). A `write` or `truncate` changes only the first; `sync` of the file copies the writes made before the
 * call to the second, after a latency drawn from the seed (on the `SimClock`). Directory entries (create, remove,
 * rename) become durable with `syncDirectory` of their directory. On `crash`, for each file, a prefix of its
 * unsynced operations survives (none, some or all); the last surviving write may be torn (only a prefix of its
 * bytes reached the platter) and may end in garbage (a flipped byte in its last bytes); each unsynced directory change survives or
 * not. Synced data is never touched by a crash. `corrupt` flips a byte of synced data (a bad sector), for
 * scenarios that check what the WAL does with corruption in the middle of its log (it refuses to start).
 *
 * Every handle belongs to an epoch: after a crash, operations through the old epoch's handles never complete —
 * the process that issued them is gone.
 */
import type { Disk, DiskFile } from "../src/io/disk.js";
import type { Prng } from "../src/lib/prng.js";
import type { SimClock } from "./sim-clock.js";

export interface DiskFaults {
  /** fsync latency bounds, in virtual milliseconds. */
  readonly syncLatencyMsMin: number;
  readonly syncLatencyMsMax: number;
  /** On a crash: chance that the last surviving unsynced write is torn (a prefix of it survives). */
  readonly tornWriteChance: number;
  /** On a crash: chance that the last surviving unsynced write holds a flipped byte. */
  readonly garbageChance: number;
}

export const QUIET_DISK: DiskFaults = {
  syncLatencyMsMin: 0,
  syncLatencyMsMax: 0,
  tornWriteChance: 0,
  garbageChance: 0,
};

/** Garbage lands in the last bytes of what survived of a write: the sector the power cut left half written. A
 * flipped byte followed by intact records is corruption in the middle of a log, which the WAL refuses to start
 * from by design (log-replayer.ts); `corrupt` covers that case. */
const GARBAGE_SPAN_BYTES = 16;

type PendingOp =
  | { readonly kind: "write"; readonly data: Uint8Array; readonly positionBytes: number }
  | { readonly kind: "truncate"; readonly sizeBytes: number };

class Inode {
  durable: Uint8Array = new Uint8Array(0);
  current: Uint8Array = new Uint8Array(0);
  pending: PendingOp[] = [];
}

export interface DiskStats {
  writes: number;
  syncs: number;
  crashes: number;
  /** Unsynced operations lost, writes torn and writes garbled by crashes. */
  lostOps: number;
  tornWrites: number;
  garbledWrites: number;
}

function ioError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

function apply(bytes: Uint8Array, op: PendingOp): Uint8Array {
  if (op.kind === "truncate") {
    const cut = new Uint8Array(op.sizeBytes);
    cut.set(bytes.subarray(0, Math.min(bytes.byteLength, op.sizeBytes)));
    return cut;
  }
  const end = op.positionBytes + op.data.byteLength;
  const grown = end > bytes.byteLength ? new Uint8Array(end) : bytes;
  if (grown !== bytes) grown.set(bytes);
  grown.set(op.data, op.positionBytes);
  return grown;
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

export class SimDisk {
  readonly #clock: SimClock;
  readonly #random: Prng;
  #faults: DiskFaults;
  readonly #directories = new Set<string>(["/"]);
  /** Directory entries as a reader sees them now, and as they would survive a crash. */
  #current = new Map<string, Inode>();
  #durable = new Map<string, Inode>();
  #epoch = 0;
  readonly stats: DiskStats = { writes: 0, syncs: 0, crashes: 0, lostOps: 0, tornWrites: 0, garbledWrites: 0 };

  constructor(clock: SimClock, random: Prng, faults: DiskFaults = QUIET_DISK) {
    this.#clock = clock;
    this.#random = random;
    this.#faults = faults;
  }

  setFaults(faults: DiskFaults): void {
    this.#faults = faults;
  }

  /** The `Disk` the current incarnation uses; it goes dead at the next crash. */
  view(): Disk {
    return new SimDiskView(this, this.#epoch);
  }

  /** A power loss (see the module comment). Every handle of the old epoch goes dead. */
  crash(): void {
    this.#epoch++;
    this.stats.crashes++;
    const inodes = new Set<Inode>([...this.#current.values(), ...this.#durable.values()]);
    for (const inode of inodes) this.#crashInode(inode);
    const paths = new Set([...this.#current.keys(), ...this.#durable.keys()]);
    const survived = new Map<string, Inode>();
    for (const path of [...paths].sort()) {
      const durable = this.#durable.get(path);
      const current = this.#current.get(path);
      // An entry change not yet made durable may or may not have reached the disk.
      const kept = durable === current || this.#random.chance(0.5) ? durable : current;
      if (kept !== undefined) survived.set(path, kept);
    }
    this.#current = survived;
    this.#durable = new Map(survived);
  }

  #crashInode(inode: Inode): void {
    const pending = inode.pending;
    if (pending.length > 0) {
      const keep = this.#random.int(pending.length + 1);
      this.stats.lostOps += pending.length - keep;
      let bytes = inode.durable;
      for (let i = 0; i < keep; i++) {
        let op = pending[i] as PendingOp;
        if (i === keep - 1 && op.kind === "write") op = this.#damage(op);
        bytes = apply(bytes, op);
      }
      inode.durable = bytes;
    }
    inode.current = inode.durable;
    inode.pending = [];
  }

  /** The last write to survive a crash: maybe torn, maybe with a flipped byte. */
  #damage(op: Extract<PendingOp, { kind: "write" }>): PendingOp {
    let data = op.data;
    if (data.byteLength > 1 && this.#random.chance(this.#faults.tornWriteChance)) {
      data = data.subarray(0, 1 + this.#random.int(data.byteLength - 1));
      this.stats.tornWrites++;
    }
    if (data.byteLength > 0 && this.#random.chance(this.#faults.garbageChance)) {
      data = Uint8Array.from(data);
      const at = data.byteLength - 1 - this.#random.int(Math.min(GARBAGE_SPAN_BYTES, data.byteLength));
      data[at] = (data[at] as number) ^ (1 << this.#random.int(8));
      this.stats.garbledWrites++;
    }
    return { kind: "write", data, positionBytes: op.positionBytes };
  }

  /** Flips one bit of synced data (a bad sector): for scenarios. */
  corrupt(path: string, offsetBytes: number, mask = 0x01): void {
    const inode = this.#inode(path);
    for (const bytes of new Set([inode.durable, inode.current])) {
      if (offsetBytes < bytes.byteLength) bytes[offsetBytes] = (bytes[offsetBytes] as number) ^ mask;
    }
  }

  /** Every file (current view) with its size, for tests and traces. */
  files(): Map<string, number> {
    return new Map([...this.#current].map(([path, inode]) => [path, inode.current.byteLength]));
  }

  /** The bytes a reader sees now / that would survive a crash with no luck at all. */
  contents(path: string): Uint8Array {
    return Uint8Array.from(this.#inode(path).current);
  }

  durableContents(path: string): Uint8Array | undefined {
    const inode = this.#durable.get(path);
    return inode === undefined ? undefined : Uint8Array.from(inode.durable);
  }

  #inode(path: string): Inode {
    const inode = this.#current.get(path);
    if (inode === undefined) throw ioError("ENOENT", `no such file ${path}`);
    return inode;
  }

  // The operations below are reached through a SimDiskView, which checks the epoch first.

  makeDirectory(path: string): void {
    for (let p = path; p !== "/" && p !== "" && p !== "."; p = parentOf(p)) this.#directories.add(p);
  }

  list(path: string): string[] {
    if (!this.#directories.has(path)) throw ioError("ENOENT", `no such directory ${path}`);
    const names: string[] = [];
    for (const file of this.#current.keys()) if (parentOf(file) === path) names.push(nameOf(file));
    return names.sort();
  }

  readFile(path: string): Uint8Array {
    return Uint8Array.from(this.#inode(path).current);
  }

  open(path: string, mode: "create" | "existing"): Inode {
    if (!this.#directories.has(parentOf(path))) throw ioError("ENOENT", `no such directory ${parentOf(path)}`);
    const existing = this.#current.get(path);
    if (mode === "existing") {
      if (existing === undefined) throw ioError("ENOENT", `no such file ${path}`);
      return existing;
    }
    if (existing !== undefined) throw ioError("EEXIST", `file exists ${path}`);
    const inode = new Inode();
    this.#current.set(path, inode);
    return inode;
  }

  remove(path: string): void {
    this.#inode(path);
    this.#current.delete(path);
  }

  rename(from: string, to: string): void {
    const inode = this.#inode(from);
    this.#current.delete(from);
    this.#current.set(to, inode);
  }

  syncDirectory(path: string): void {
    for (const file of new Set([...this.#current.keys(), ...this.#durable.keys()])) {
      if (parentOf(file) !== path) continue;
      const inode = this.#current.get(file);
      if (inode === undefined) this.#durable.delete(file);
      else this.#durable.set(file, inode);
    }
  }

  write(inode: Inode, data: Uint8Array, positionBytes: number): void {
    this.stats.writes++;
    const op: PendingOp = { kind: "write", data: Uint8Array.from(data), positionBytes };
    inode.pending.push(op);
    inode.current = apply(inode.current === inode.durable ? Uint8Array.from(inode.current) : inode.current, op);
  }

  truncate(inode: Inode, sizeBytes: number): void {
    const op: PendingOp = { kind: "truncate", sizeBytes };
    inode.pending.push(op);
    inode.current = apply(inode.current, op);
  }

  /** Resolves after the drawn latency; the operations issued before the call are then durable. */
  sync(inode: Inode, epoch: number): Promise<void> {
    this.stats.syncs++;
    const covered = inode.pending.slice();
    const { syncLatencyMsMin, syncLatencyMsMax } = this.#faults;
    const latencyMs = this.#random.between(syncLatencyMsMin, syncLatencyMsMax);
    return new Promise((resolve) => {
      this.#clock.schedule(latencyMs, () => {
        if (epoch !== this.#epoch) return; // crashed meanwhile: the caller is gone
        let bytes = inode.durable;
        for (const op of covered) bytes = apply(bytes === inode.durable ? Uint8Array.from(bytes) : bytes, op);
        inode.durable = bytes;
        inode.pending = inode.pending.filter((op) => !covered.includes(op));
        if (inode.pending.length === 0) inode.current = inode.durable;
        resolve();
      });
    });
  }

  isLive(epoch: number): boolean {
    return epoch === this.#epoch;
  }
}

/** A promise that never settles: what an operation of a dead process gets. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => {});
}

class SimDiskView implements Disk {
  readonly #disk: SimDisk;
  readonly #epoch: number;

  constructor(disk: SimDisk, epoch: number) {
    this.#disk = disk;
    this.#epoch = epoch;
  }

  #run<T>(operation: () => T): Promise<T> {
    if (!this.#disk.isLive(this.#epoch)) return never();
    try {
      return Promise.resolve(operation());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  makeDirectory(path: string): Promise<void> {
    return this.#run(() => this.#disk.makeDirectory(path));
  }

  list(path: string): Promise<string[]> {
    return this.#run(() => this.#disk.list(path));
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.#run(() => this.#disk.readFile(path));
  }

  open(path: string, mode: "create" | "existing"): Promise<DiskFile> {
    return this.#run(() => {
      const inode = this.#disk.open(path, mode);
      return new SimDiskFile(this.#disk, inode, this.#epoch);
    });
  }

  remove(path: string): Promise<void> {
    return this.#run(() => this.#disk.remove(path));
  }

  rename(from: string, to: string): Promise<void> {
    return this.#run(() => this.#disk.rename(from, to));
  }

  syncDirectory(path: string): Promise<void> {
    return this.#run(() => this.#disk.syncDirectory(path));
  }
}

class SimDiskFile implements DiskFile {
  readonly #disk: SimDisk;
  readonly #inode: Inode;
  readonly #epoch: number;
  #closed = false;

  constructor(disk: SimDisk, inode: Inode, epoch: number) {
    this.#disk = disk;
    this.#inode = inode;
    this.#epoch = epoch;
  }

  #usable(): boolean {
    if (this.#closed) throw ioError("EBADF", "file is closed");
    return this.#disk.isLive(this.#epoch);
  }

  write(data: Uint8Array, positionBytes: number): Promise<void> {
    if (!this.#usable()) return never();
    this.#disk.write(this.#inode, data, positionBytes);
    return Promise.resolve();
  }

  sync(): Promise<void> {
    if (!this.#usable()) return never();
    return this.#disk.sync(this.#inode, this.#epoch);
  }

  truncate(sizeBytes: number): Promise<void> {
    if (!this.#usable()) return never();
    this.#disk.truncate(this.#inode, sizeBytes);
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (!this.#disk.isLive(this.#epoch)) return never();
    this.#closed = true;
    return Promise.resolve();
  }
}
