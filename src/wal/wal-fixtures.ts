/**
 * @module Test fixtures for the WAL (not a test file itself): temporary directories, a reference model of the
 * log written independently of the WAL's code, and a generator of random but valid Raft-like saves.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Prng } from "../lib/prng.js";
import type { ConfState, Entry, HardState, SnapshotMetadata } from "../raft/types.js";
import type { WalState } from "./log-replayer.js";
import type { WalSave } from "./wal.js";

export async function withTempDir<T>(prefix: string, body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `shoal-${prefix}-`));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const CONF_STATE: ConfState = { voters: [1, 2, 3], learners: [] };

/** The log's meaning, kept with plain arrays: what recovery must reproduce. */
export class ModelLog {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshot: SnapshotMetadata | undefined = undefined;
  /** Entries after the snapshot: entries[k].index === snapshotIndex + 1 + k. */
  entries: Entry[] = [];

  get snapshotIndex(): number {
    return this.snapshot?.index ?? 0;
  }

  get lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  termAt(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshot?.term ?? 0;
    return this.entries[index - this.snapshotIndex - 1]?.term;
  }

  state(): WalState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: this.entries.slice() };
  }

  /** Applies `save` record by record (snapshot, entries, hard state); returns the state after each record. */
  apply(save: WalSave): WalState[] {
    const states: WalState[] = [];
    if (save.snapshot !== undefined) {
      const { index, term } = save.snapshot;
      const keep = this.termAt(index) === term;
      this.entries = keep ? this.entries.slice(index - this.snapshotIndex) : [];
      this.snapshot = save.snapshot;
      states.push(this.state());
    }
    for (const entry of save.entries) {
      this.entries.length = entry.index - this.snapshotIndex - 1;
      this.entries.push(entry);
      states.push(this.state());
    }
    if (save.hardState !== undefined) {
      this.hardState = save.hardState;
      states.push(this.state());
    }
    return states;
  }
}

/** A canonical string for comparing recovered states (entry data as hex). */
export function stateKey(state: WalState): string {
  const { hardState, snapshot, entries } = state;
  return JSON.stringify({
    hardState: [hardState.term, hardState.vote, hardState.commit],
    snapshot: snapshot === undefined ? null : [snapshot.index, snapshot.term, snapshot.confState],
    entries: entries.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString("hex")]),
  });
}

export function randomData(prng: Prng, bytesMax: number): Uint8Array {
  const data = new Uint8Array(prng.int(bytesMax + 1));
  for (let i = 0; i < data.length; i++) data[i] = prng.int(256);
  return data;
}

/** A random save that a Raft host could issue next, given the model's current state. */
export function randomSave(prng: Prng, model: ModelLog, dataBytesMax = 120): WalSave {
  let { term, vote, commit } = model.hardState;
  let snapshot: SnapshotMetadata | undefined;
  const roll = prng.int(100);
  if (roll < 6 && commit > model.snapshotIndex) {
    // A local snapshot at an applied (committed) index: the log after it is kept.
    const index = prng.between(model.snapshotIndex + 1, commit);
    snapshot = { index, term: model.termAt(index) as number, confState: CONF_STATE };
  } else if (roll < 9) {
    // A snapshot from a new leader beyond our commit point: conflicting or past our log, so the log is dropped.
    term++;
    vote = prng.int(4);
    const index = Math.max(commit, model.snapshotIndex) + prng.between(1, 6);
    snapshot = { index, term, confState: CONF_STATE };
    commit = index;
  }
  const snapshotIndex = snapshot?.index ?? model.snapshotIndex;
  let lastIndex =
    snapshot === undefined ? model.lastIndex : Math.max(snapshotIndex, lastAfterSnapshot(model, snapshot));
  const entries: Entry[] = [];
  if (prng.chance(0.8)) {
    let first = lastIndex + 1;
    const floor = Math.max(model.hardState.commit, snapshotIndex);
    if (prng.chance(0.2) && lastIndex > floor) {
      term++; // A new leader overwrites an uncommitted suffix.
      vote = prng.int(4);
      first = prng.between(floor + 1, lastIndex);
    }
    if (term === 0) term = 1;
    const count = prng.between(1, 5);
    for (let k = 0; k < count; k++) {
      entries.push({
        term,
        index: first + k,
        type: prng.chance(0.1) ? "confChange" : "normal",
        data: randomData(prng, dataBytesMax),
      });
    }
    lastIndex = first + count - 1;
  }
  const termChanged = term !== model.hardState.term;
  let hardState: HardState | undefined;
  if (termChanged || snapshot !== undefined || prng.chance(0.7)) {
    hardState = { term, vote, commit: prng.between(commit, lastIndex) };
  }
  return { snapshot, entries, hardState };
}

function lastAfterSnapshot(model: ModelLog, snapshot: SnapshotMetadata): number {
  return model.termAt(snapshot.index) === snapshot.term ? model.lastIndex : snapshot.index;
}

/** The data of entry `index` in the kill -9 test: deterministic, so the parent can check every byte. */
export function killTestData(index: number): Uint8Array {
  const prng = new Prng(index);
  const data = new Uint8Array(64 + (index % 200));
  for (let i = 0; i < data.length; i++) data[i] = prng.int(256);
  return data;
}
