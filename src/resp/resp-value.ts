/** @module The typed form of any RESP2/RESP3 reply, as the reply parser returns it and the writer encodes it. */

export type RespValue =
  | { type: "simple"; value: string }
  | { type: "error"; value: string } // the full text after '-' or '!', e.g. "WRONGTYPE Operation against..."
  | { type: "integer"; value: bigint }
  | { type: "bulk"; value: Uint8Array }
  | { type: "null" } // RESP2 $-1 and *-1, RESP3 _
  | { type: "array"; value: RespValue[] }
  | { type: "map"; value: Array<[RespValue, RespValue]> }
  | { type: "set"; value: RespValue[] }
  | { type: "push"; value: RespValue[] }
  | { type: "double"; value: number }
  | { type: "boolean"; value: boolean }
  | { type: "verbatim"; format: string; value: Uint8Array } // format is three characters, e.g. "txt"
  | { type: "bignum"; value: bigint }
  | { type: "attribute"; attributes: Array<[RespValue, RespValue]>; value: RespValue };

export type RespVersion = 2 | 3;
