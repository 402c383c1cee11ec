/**
 * @module The keys commands.
 */
import type { CommandSpec } from "../command-spec.js";

export const keyCommands: readonly CommandSpec[] = [];
