/**
 * @module Driving a command store in tests (the store contract in test/store/, node and read-offload tests):
 * entries from commands, and the whole state as comparable bytes.
 */

import type { Command, CommandResult } from "../../commands/command.js";
import { encodeCommand } from "../../commands/command-codec.js";
import { EMPTY_BYTES } from "../../lib/bytes.js";
import type { ApplyEntry } from "../../store/state-machine-store.js";
import type { CommandStore } from "../command-store.js";

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
export const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);

/** Entries continuing `store`'s log: a command, or "noop" for an empty (new leader) entry. */
export function entriesFor(store: CommandStore, commands: readonly (Command | "noop")[]): ApplyEntry[] {
  const first = store.appliedIndex() + 1;
  return commands.map((command, i) => ({
    index: first + i,
    data: command === "noop" ? EMPTY_BYTES : encodeCommand(command),
  }));
}

export function applyCommands(store: CommandStore, ...commands: (Command | "noop")[]): CommandResult[] {
  return store.applyEntries(entriesFor(store, commands));
}

/** The whole state (meta and every record, expired ones included) as bytes: the snapshot image is a canonical
 * serialization, so two stores hold the same state exactly when these bytes are equal. */
export async function stateBytes(store: CommandStore): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of store.snapshot().chunks()) parts.push(chunk);
  return Buffer.concat(parts);
}
