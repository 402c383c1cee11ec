/**
 * @module The messages between the RESP server and its read workers (read-worker.ts). Plain data: argvs travel by
 * structured clone, and the encoded replies come back as one transferred buffer (no copy on the way back).
 */
import type { RespVersion } from "../../resp-value.js";

export interface ReadRequest {
  readonly id: number;
  /** The LMDB environment to read (LmdbStore.lendEnvironment), pinned open by the sender until answered. */
  readonly envPath: string;
  readonly argvs: readonly (readonly Uint8Array[])[];
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
