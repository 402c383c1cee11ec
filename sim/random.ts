/**
 * @module Sub-generators derived from the one seed of a simulation run. Each part of the simulator (network,
 * nemesis, clients, every node incarnation) draws from its own stream named by a label, so adding a draw in one
 * part never shifts the choices of another: a seed keeps meaning the same run while the simulator grows.
 */
import { Prng } from "../src/lib/prng.js";

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over the UTF-16 code units of `text`, folded into `hash`. */
export function hashString(hash: number, text: string): number {
  let h = hash >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i) & 0xff;
    h = Math.imul(h, FNV_PRIME) >>> 0;
    h ^= text.charCodeAt(i) >>> 8;
    h = Math.imul(h, FNV_PRIME) >>> 0;
  }
  return h;
}

/** FNV-1a over the four bytes of an unsigned 32-bit integer. */
export function hashUint32(hash: number, value: number): number {
  let h = hash >>> 0;
  let v = value >>> 0;
  for (let i = 0; i < 4; i++) {
    h ^= v & 0xff;
    h = Math.imul(h, FNV_PRIME) >>> 0;
    v >>>= 8;
  }
  return h;
}

/** FNV-1a over a byte array. */
export function hashBytes(hash: number, bytes: Uint8Array): number {
  let h = hash >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, FNV_PRIME) >>> 0;
  }
  return h;
}

export const HASH_SEED = FNV_OFFSET;

/** A generator for the part of the run named `label`, independent of every other label's stream. */
export function derivePrng(seed: number, label: string): Prng {
  return new Prng(hashString(hashUint32(FNV_OFFSET, seed), label));
}
