/**
 * @module Where a replica's files live, and which incarnation of this member's replica they are (lib/replica-id.ts
 * says why a replica id changes when a member takes a shard back): the id is recorded in `replica-id` beside the
 * replica's files, and files of another incarnation are deleted before the replica opens — that incarnation was
 * removed from the group (the cluster map gave this member a later one only after), so nothing in them is needed,
 * and replaying them under the new id would bring back a log and votes the group has forgotten.
 *
 * Crash safety: the old files are deleted first, then the new id is written durably (temp file, fsync, rename,
 * directory fsync: a crash leaves the old id or the new one, never part of one), and the WAL is created after it.
 * A crash in between leaves no WAL and no id file, which opens as a new replica. Files without an id file are the
 * member's first incarnation (written before replica ids existed).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { GroupId, NodeId } from "../raft/types.js";
import { writeFileDurably } from "./identity.js";

const ID_FILE = "replica-id";
const PARTS = ["wal", "snapshots", "state"] as const;

/** Where group `groupId`'s files live in a data directory: group 1 keeps the directory's top-level `wal/`,
 * `snapshots/` and `state/` (a node written before groups existed opens unchanged); group g ≠ 1 lives under
 * `groups/<g>/`. */
export function groupDataDir(dataDir: string, groupId: GroupId): string {
  return groupId === 1 ? dataDir : join(dataDir, "groups", String(groupId));
}

/** The replica id the files of group `groupId` in `dataDir` were written under, undefined when there are none. */
export async function recordedReplicaId(
  dataDir: string,
  groupId: GroupId,
  memberId: NodeId,
): Promise<NodeId | undefined> {
  const dir = groupDataDir(dataDir, groupId);
  try {
    const text = (await readFile(join(dir, ID_FILE), "utf8")).trim();
    const id = Number(text);
    if (/^[1-9][0-9]*$/.test(text) && Number.isSafeInteger(id)) return id;
    throw new Error(`${join(dir, ID_FILE)} holds "${text.slice(0, 40)}", not a replica id`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return PARTS.some((part) => existsSync(join(dir, part))) ? memberId : undefined;
}

/** Makes group `groupId`'s files in `dataDir` those of replica `replicaId`: another incarnation's are deleted
 * first. Returns whether any were. */
export async function adoptReplicaId(
  dataDir: string,
  groupId: GroupId,
  memberId: NodeId,
  replicaId: NodeId,
): Promise<boolean> {
  const recorded = await recordedReplicaId(dataDir, groupId, memberId);
  if (recorded === replicaId && existsSync(join(groupDataDir(dataDir, groupId), ID_FILE))) return false;
  const stale = recorded !== undefined && recorded !== replicaId;
  if (stale) await removeReplicaFiles(dataDir, groupId);
  const dir = groupDataDir(dataDir, groupId);
  await mkdir(dir, { recursive: true });
  writeFileDurably(dir, ID_FILE, `${replicaId}\n`);
  return stale;
}

/** Deletes a replica's files: its WAL, snapshots, state and id (group 1 lives in the data directory itself). */
export async function removeReplicaFiles(dataDir: string, groupId: GroupId): Promise<void> {
  const dir = groupDataDir(dataDir, groupId);
  for (const part of [...PARTS, ID_FILE]) await rm(join(dir, part), { recursive: true, force: true });
  if (dir !== dataDir) await rm(dir, { recursive: true, force: true });
}
