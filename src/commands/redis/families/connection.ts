/**
 * @module The connection commands.
 */
import type { CommandSpec } from "../command-spec.js";

export const connectionCommands: readonly CommandSpec[] = [];
