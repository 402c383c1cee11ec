/**
 * @module Hash slots, exactly as Redis Cluster computes them (the Redis Cluster specification, "Keys distribution
 * model" and "Hash tags"): HASH_SLOT = CRC16(key) mod 16384, CRC16 being the XMODEM variant, over the whole key —
 * or, when the key holds a `{` followed later by a `}` with at least one byte between them, over the bytes between
 * the first `{` and the first `}` after it (the hash tag), so `{user1000}.following` and `{user1000}.followers`
 * share a slot. Pure: bytes in, a slot out.
 *
 * Written here rather than taken from `cluster-key-slot` (the routine ioredis routes with): that one hashes
 * `foo{}{bar}` as `{bar` where Redis hashes the whole key (an empty first tag), and the server must answer exactly
 * as Redis does — a client that disagrees is corrected by -MOVED. hash-slot.test.ts checks this table-driven CRC
 * against an independent bitwise one.
 */

import { keyFromId } from "../lib/bytes.js";

/** Redis Cluster's slot count: slots are 0 … SLOT_COUNT - 1. */
export const SLOT_COUNT = 16384;

/** CRC16/XMODEM (poly 0x1021, init 0, no reflection) by byte: entry b is the CRC of the byte b. */
const CRC16_TABLE = Uint16Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  return crc & 0xffff;
});

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) {
    crc = ((crc << 8) ^ (CRC16_TABLE[((crc >> 8) ^ (bytes[i] as number)) & 0xff] as number)) & 0xffff;
  }
  return crc;
}

/** The hash slot of `key` (CLUSTER KEYSLOT). */
export function hashSlot(key: Uint8Array): number {
  return crc16(hashTagOf(key)) & (SLOT_COUNT - 1);
}

/** The bytes hashed for `key`: its hash tag when it has a non-empty one, else the whole key. */
export function hashTagOf(key: Uint8Array): Uint8Array {
  const open = key.indexOf(0x7b); // {
  if (open === -1) return key;
  const close = key.indexOf(0x7d, open + 1); // }
  if (close === -1 || close === open + 1) return key;
  return key.subarray(open + 1, close);
}

/** The one slot every key of `keys` maps to; undefined when they span several slots (Redis's CROSSSLOT) or when
 * there are none. */
export function commonSlot(keys: readonly Uint8Array[]): number | undefined {
  let slot: number | undefined;
  for (const key of keys) {
    const next = hashSlot(key);
    if (slot !== undefined && next !== slot) return undefined;
    slot = next;
  }
  return slot;
}

/** The keys among `ids` (key ids, lib/bytes.ts `keyId`) whose slot is `slot`, in bytewise order: a scan for the
 * stores that keep no slot index (the memory store, test backends). O(ids). */
export function keysInSlotOf(ids: Iterable<string>, slot: number): Uint8Array[] {
  const matching: string[] = [];
  for (const id of ids) if (hashSlot(keyFromId(id)) === slot) matching.push(id);
  return matching.sort().map((id) => keyFromId(id));
}
