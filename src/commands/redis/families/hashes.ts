/**
 * @module The hashes commands.
 */
import type { CommandSpec } from "../command-spec.js";

export const hashCommands: readonly CommandSpec[] = [];
