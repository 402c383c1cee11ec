/**
 * @module The directory layout that makes installing a snapshot atomic. A store directory holds several LMDB
 * environments and a pointer naming the live one:
 *
 *   <dir>/CURRENT        "env-000003\n": the live environment (replaced by rename, so always whole)
 *   <dir>/env-000003/    the live LMDB environment (data.mdb, lock.mdb)
 *   <dir>/env-000004/    a restore in progress, or leftovers of one that crashed
 *
 * A restore fills a fresh environment and then renames a new CURRENT into place: the rename is the commit
 * point. A crash before it leaves CURRENT naming the old, intact environment; a crash after it leaves the new,
 * complete one. Opening removes every environment CURRENT does not name.
 */
import fs from "node:fs";
import path from "node:path";
import { assert } from "../../lib/assert.js";
import { ShoalError } from "../../lib/errors.js";

const CURRENT = "CURRENT";
const CURRENT_TMP = "CURRENT.tmp";
const ENV_NAME = /^env-(\d{6,})$/;

export function envName(generation: number): string {
  assert(Number.isSafeInteger(generation) && generation >= 1, "an environment generation is a positive integer");
  return `env-${String(generation).padStart(6, "0")}`;
}

export function envGeneration(name: string): number {
  const match = ENV_NAME.exec(name);
  assert(match !== null, `"${name}" is an environment name`);
  return Number(match[1]);
}

/** The live environment's name, or undefined for a directory never used (or whose first open crashed). */
export function readCurrent(dir: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, CURRENT), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const name = text.trim();
  if (!ENV_NAME.test(name)) {
    throw new ShoalError("INTERNAL", `Cannot open store at ${dir}: CURRENT names "${name}", not an environment`);
  }
  return name;
}

/** Makes `name` the live environment, durably: write a temporary file, fsync it, rename it over CURRENT,
 * fsync the directory (so the rename itself survives a power loss). */
export function writeCurrent(dir: string, name: string): void {
  const tmp = path.join(dir, CURRENT_TMP);
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, `${name}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(dir, CURRENT));
  syncDirectory(dir);
}

/**
 * writeCurrent for a store whose commits are not fsynced (syncCommits false: the node's WAL is the durable log and a
 * store that lost commits catches up from it), without holding the event loop for two fsyncs (~10–20 ms here, a
 * FLUSHALL's whole cost on this disk, issue 10): the same steps on the thread pool. Until they finish, a reopen finds
 * the environment before — a store behind its log, which recovery catches up (the store's commits are not durable
 * anyway). Resolves once CURRENT durably names `name`: the environment it replaces may be deleted only then, or a
 * power loss could leave CURRENT naming a deleted environment. Calls must not overlap (the store chains them).
 */
export async function writeCurrentDeferred(dir: string, name: string): Promise<void> {
  const tmp = path.join(dir, CURRENT_TMP);
  const file = await fs.promises.open(tmp, "w");
  try {
    await file.writeFile(`${name}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await fs.promises.rename(tmp, path.join(dir, CURRENT));
  if (process.platform === "win32") return;
  const directory = await fs.promises.open(dir, "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** Removes every environment other than `keep` and any half-written CURRENT.tmp. */
export function removeStale(dir: string, keep: string | undefined): void {
  for (const entry of fs.readdirSync(dir)) {
    if (entry === CURRENT_TMP || (ENV_NAME.test(entry) && entry !== keep)) {
      fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
    }
  }
}

function syncDirectory(dir: string): void {
  // Directories cannot be opened for fsync on Windows; there, rename durability is the file system's business.
  if (process.platform === "win32") return;
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
