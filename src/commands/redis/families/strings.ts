/**
 * @module The string commands.
 */
import type { CommandSpec } from "../command-spec.js";
import { ONE_KEY } from "../command-spec.js";
import { bulkOrNull, OK } from "../reply.js";

export const stringCommands: readonly CommandSpec[] = [
  {
    name: "get",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: ONE_KEY,
    group: "string",
    summary: "Returns the string value of a key.",
    since: "1.0.0",
    complexity: "O(1)",
    syntax: "key",
    handler: ({ keyspace }, argv) => bulkOrNull(keyspace.getString(argv[1] as Uint8Array)),
  },
  {
    name: "set",
    arity: -3,
    flags: ["write", "denyoom"],
    keys: ONE_KEY,
    group: "string",
    summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
    since: "1.0.0",
    complexity: "O(1)",
    syntax:
      "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]",
    handler: ({ keyspace }, argv) => {
      keyspace.setString(argv[1] as Uint8Array, argv[2] as Uint8Array, 0);
      return OK;
    },
  },
];
