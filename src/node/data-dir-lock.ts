/**
 * @module DataDirLock: one process per data directory. Two processes on one directory both wrote the WAL and
 * corrupted it (issue 10), so a node takes this lock before it reads anything in the directory.
 *
 * The lock is an exclusive kernel lock on `<data-dir>/shoal.lock` (fs-native-extensions: an open-file-description
 * lock, `fcntl(F_OFD_SETLK)`, on Linux; `flock` on macOS; `LockFileEx` on Windows), not a pid file checked for
 * liveness: the kernel drops it when the holder's process dies, however it dies (`kill -9`, power loss), so a
 * stale lock can never block a restart, and there is no window between "is the holder alive?" and "take it" for
 * a second process to slip through, nor a reused pid to mistake for a live holder. An OFD lock also conflicts
 * with a second open in the same process, so two embedded nodes on one directory are refused as well.
 *
 * The file also holds the holder's pid, written after the lock is granted; it is only there to name the holder
 * in the error a second process prints.
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { tryLock, unlock } from "fs-native-extensions";
import { ShoalError } from "../lib/errors.js";

export const LOCK_FILE_NAME = "shoal.lock";

export class DataDirLock {
  readonly path: string;
  #fd: number | undefined;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /** Takes the lock on `dataDir` (which must exist) or throws UNAVAILABLE naming the directory and the holder. */
  static acquire(dataDir: string): DataDirLock {
    const path = join(dataDir, LOCK_FILE_NAME);
    const fd = openSync(path, "a+");
    let granted = false;
    try {
      granted = tryLock(fd);
    } finally {
      if (!granted) closeSync(fd);
    }
    if (!granted) {
      const holder = readHolder(path);
      throw new ShoalError(
        "UNAVAILABLE",
        `Data directory ${dataDir} is in use by another Shoal process${holder === undefined ? "" : ` (pid ${holder})`}: ` +
          "one process per data directory",
        holder === undefined ? {} : { pid: holder },
      );
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`);
    fsyncSync(fd);
    return new DataDirLock(path, fd);
  }

  /** Releases the lock (closing the file releases it too; so does the process's death). */
  release(): void {
    const fd = this.#fd;
    if (fd === undefined) return;
    this.#fd = undefined;
    try {
      unlock(fd);
    } finally {
      closeSync(fd);
    }
  }
}

function readHolder(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
