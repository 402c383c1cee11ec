/**
 * @module The messages between the RESP server and its read workers (read-worker.ts). Plain data: the argvs travel
 * packed into one transferred buffer (PackedArgvs: structured-cloning an MGET's 100,000 arguments one by one held
 * the event loop ~40 ms, issue 10), and the encoded replies come back as one transferred buffer too.
 */
import { runSteps, type Steps } from "../../../lib/steps.js";
import type { RespVersion } from "../../resp-value.js";

export interface ReadRequest {
  readonly id: number;
  /** The LMDB environments to read (LmdbStore.lendEnvironment), pinned open by the sender until answered: one
   * shard's, or — for a command without a key (KEYS) on a node of several shards — every shard's, in shard order,
   * read as one keyspace (store/merged-keyspace-reader.ts). */
  readonly envPaths: readonly string[];
  /** With several `envPaths`: the shard id (1-based, the index into `envPaths` plus one) owning each hash slot,
   * as the node's cluster map says now (slots move between shards). */
  readonly slotTable?: Uint16Array;
  readonly argvs: PackedArgvs;
  /** The reading node's clock; the worker takes the later of it and the store's replicated clock. */
  readonly nowMs: number;
  /** Seeds the randomness of RANDOMKEY/HRANDFIELD. */
  readonly seed: number;
  readonly protocol: RespVersion;
}

export type ReadResponse =
  /** `ends[i]` is where reply i ends in `buffer` (reply i starts where reply i-1 ends). */
  | { readonly id: number; readonly ok: true; readonly buffer: ArrayBuffer; readonly ends: readonly number[] }
  | { readonly id: number; readonly ok: false; readonly message: string };

/** Every argument's bytes back to back, each argument's length, and each command's argument count. */
export interface PackedArgvs {
  readonly bytes: Uint8Array;
  readonly lengths: Uint32Array;
  readonly counts: Uint32Array;
}

/** Arguments packed between pauses of packArgvsSteps (~50 ns each: ~0.4 ms). */
const PACK_ARGS_PER_STEP = 8192;

export function packArgvs(argvs: readonly (readonly Uint8Array[])[]): PackedArgvs {
  return runSteps(packArgvsSteps(argvs));
}

/** packArgvs as steps, pausing every PACK_ARGS_PER_STEP arguments: the copy is O(arguments), and an MGET of
 * 100,000 keys packed at once held the loop ~20 ms (issue 10). */
export function* packArgvsSteps(argvs: readonly (readonly Uint8Array[])[]): Steps<PackedArgvs> {
  let total = 0;
  let args = 0;
  for (const argv of argvs) {
    args += argv.length;
    for (const arg of argv) total += arg.byteLength;
  }
  const bytes = new Uint8Array(total);
  const lengths = new Uint32Array(args);
  const counts = new Uint32Array(argvs.length);
  let at = 0;
  let index = 0;
  for (let i = 0; i < argvs.length; i++) {
    const argv = argvs[i] as readonly Uint8Array[];
    counts[i] = argv.length;
    for (const arg of argv) {
      bytes.set(arg, at);
      at += arg.byteLength;
      lengths[index++] = arg.byteLength;
      if (index % PACK_ARGS_PER_STEP === 0) yield;
    }
  }
  return { bytes, lengths, counts };
}

/** The argvs of `packed`, as views of its bytes. */
export function unpackArgvs(packed: PackedArgvs): Uint8Array[][] {
  const argvs: Uint8Array[][] = [];
  let at = 0;
  let index = 0;
  for (const count of packed.counts) {
    const argv: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const length = packed.lengths[index++] as number;
      argv.push(packed.bytes.subarray(at, at + length));
      at += length;
    }
    argvs.push(argv);
  }
  return argvs;
}

/** The buffers of `packed`, to transfer rather than copy. */
export function packedTransfer(packed: PackedArgvs): ArrayBuffer[] {
  return [packed.bytes.buffer, packed.lengths.buffer, packed.counts.buffer] as ArrayBuffer[];
}
