/**
 * @module The file system as the WAL and the snapshot files see it: a handful of whole-file and
 * positioned-write operations, nothing more. `io/node/disk.ts` implements it over `node:fs`; the simulator can
 * implement it in memory with injected faults (lost unsynced writes, torn writes, failing fsyncs).
 *
 * Durability contract: a `write` is NOT durable when it resolves (the bytes may sit in the OS page cache);
 * it becomes durable once a later `sync` of the same file resolves. Creating or removing a directory entry is
 * durable once `syncDirectory` of its parent resolves.
 */

/** A file open for positioned writes. */
export interface DiskFile {
  /** Writes every byte of `data` at `positionBytes` (a short write is retried, never reported). */
  write(data: Uint8Array, positionBytes: number): Promise<void>;
  /** Makes every completed write and the file's size durable (fdatasync). */
  sync(): Promise<void>;
  /** Cuts (or extends with zeros) the file to `sizeBytes`; durable after `sync`. */
  truncate(sizeBytes: number): Promise<void>;
  close(): Promise<void>;
}

export interface Disk {
  /** Creates the directory and any missing parents; succeeds when it exists already. */
  makeDirectory(path: string): Promise<void>;
  /** The names (not paths) of the entries in a directory, in no particular order. */
  list(path: string): Promise<string[]>;
  /** The whole content of a file. */
  readFile(path: string): Promise<Uint8Array>;
  /** Opens a file for reading and writing. `create` requires that it does not exist yet (O_EXCL); `existing`
   * requires that it does. */
  open(path: string, mode: "create" | "existing"): Promise<DiskFile>;
  remove(path: string): Promise<void>;
  /** Atomically replaces `to` with `from` (rename(2)); durable once `syncDirectory` of the parent resolves. */
  rename(from: string, to: string): Promise<void>;
  /** Makes the creation and removal of entries in the directory durable (fsync on the directory). */
  syncDirectory(path: string): Promise<void>;
}
