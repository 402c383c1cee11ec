/**
 * @module Entry data as a buggy or older proposer could have logged it: a command encoded WITHOUT validation
 * (tests and the simulator only). Apply must refuse such an entry alike on every replica, never crash on it.
 */
import { Packr } from "msgpackr";
import { runSteps } from "../../lib/steps.js";
import type { RedisCommand } from "../command.js";
import { COMMAND_FORMAT_V1 } from "../command-codec.js";
import { encodePackedArgvsSteps } from "../packed-redis-entry.js";

// The codec's own options (command-codec.ts): only validation is skipped.
const packr = new Packr({ useRecords: false, skipValues: [undefined] } as ConstructorParameters<typeof Packr>[0]);

/** The format byte and the msgpack of `command`, whatever it holds. */
export function encodeUnchecked(command: unknown): Uint8Array {
  const body = packr.pack(command);
  const data = new Uint8Array(body.byteLength + 1);
  data[0] = COMMAND_FORMAT_V1;
  data.set(body, 1);
  return data;
}

/** A Redis command in entry format 2 (packed-redis-entry.ts), unvalidated, without a size limit. */
export function packedUnchecked(command: RedisCommand): Uint8Array {
  const { argvs, ...rest } = command;
  const header = new Packr({ useRecords: false }).pack(rest);
  return runSteps(encodePackedArgvsSteps(header, argvs, Number.MAX_SAFE_INTEGER));
}
