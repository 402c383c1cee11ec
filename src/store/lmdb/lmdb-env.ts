/**
 * @module One LMDB environment of a store directory (see env-dir.ts), reference-counted: the store holds one
 * reference while the environment is live and every snapshot holds one while it reads, so installing a new
 * environment never closes one a snapshot is still reading. The last reference closes it, and deletes its
 * files when it was retired.
 */
import fs from "node:fs";
import path from "node:path";
import { open, type RootDatabase } from "lmdb";
import { assert } from "../../lib/assert.js";
import { closeOffLoop } from "./env-closer.js";
import { releaseFromWriter } from "./env-writer.js";

export type LmdbDatabase = RootDatabase<Uint8Array, Buffer>;

export interface LmdbEnvOptions {
  /** See LmdbStoreOptions.syncCommits. */
  readonly syncCommits: boolean;
}

export class LmdbEnv {
  readonly name: string;
  readonly path: string;
  readonly db: LmdbDatabase;
  /** Invariant: refs >= 0, and the environment is open exactly while refs > 0. */
  #refs = 1;
  #retired = false;
  #closed: Promise<void> | undefined;
  #closeSettled = false;
  /** See retire: the files stay until this settles (CURRENT durably names another environment). */
  #filesRemovableAfter: Promise<void> | undefined;

  private constructor(name: string, envPath: string, db: LmdbDatabase) {
    this.name = name;
    this.path = envPath;
    this.db = db;
  }

  static open(dir: string, name: string, options: LmdbEnvOptions): LmdbEnv {
    const envPath = path.join(dir, name);
    fs.mkdirSync(envPath, { recursive: true });
    const db = open<Uint8Array, Buffer>({
      path: envPath,
      keyEncoding: "binary",
      encoding: "binary",
      // Classic LMDB commits: `transactionSync` returns after the commit is on disk (or, with noSync, in the
      // page cache). lmdb-js's overlappingSync would flush after returning, which would weaken that promise.
      overlappingSync: false,
      noSync: !options.syncCommits,
      // Not useWritemap: writing pages in place would make a 16 MiB value's commit ~50x cheaper (measured), but
      // LMDB's WRITEMAP mode aborts the process in mdb_freelist_save ("Assertion 'x <= dl[0].mid' failed") on
      // ordinary delete-heavy transactions — our collection reclaimer hit it at once — and the assertion is still
      // upstream (ModSecurity dropped WRITEMAP for it, PR #3639).
    });
    return new LmdbEnv(name, envPath, db);
  }

  get isOpen(): boolean {
    return this.#refs > 0;
  }

  /** True once closing has finished (files removed, for a retired environment). */
  get isClosed(): boolean {
    return this.#closeSettled;
  }

  ref(): void {
    assert(this.#refs > 0, `Cannot use environment ${this.name}: it is closed`);
    this.#refs++;
  }

  /** Drops a reference; the last one closes the environment (and removes its files if retired). */
  unref(): void {
    assert(this.#refs > 0, `Cannot release environment ${this.name}: no reference is held`);
    this.#refs--;
    if (this.#refs === 0) this.#closed = this.#close();
  }

  /** Drops the store's reference to an environment that is no longer live; its files go when it closes. */
  retire(filesRemovableAfter?: Promise<void>): void {
    this.#retired = true;
    this.#filesRemovableAfter = filesRemovableAfter;
    this.unref();
  }

  /** Resolves once closed (immediately while still open). */
  async closed(): Promise<void> {
    await this.#closed;
  }

  async #close(): Promise<void> {
    try {
      // The writer thread's handle goes first, or ours would not be the last (env-writer.ts).
      await releaseFromWriter(this.path);
      // A retired environment (FLUSHALL, a snapshot install) is unmapped on a helper thread (env-closer.ts).
      if (this.#retired) await closeOffLoop(this.path, () => this.db.close());
      else await this.db.close();
      // Kept when CURRENT could not be made to name another environment durably (a failing disk): the next open
      // removes whichever environment CURRENT does not name.
      const removable =
        (await this.#filesRemovableAfter?.then(
          () => true,
          () => false,
        )) ?? true;
      if (this.#retired && removable) await fs.promises.rm(this.path, { recursive: true, force: true });
    } finally {
      this.#closeSettled = true;
    }
  }
}
