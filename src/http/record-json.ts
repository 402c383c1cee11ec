/**
 * @module How a key's value looks in the HTTP API's JSON (range listings, txn responses, watch events): a string
 * is `"value": "<text>"`; a hash (written over RESP) is `"hash": {"<field>": "<value>", ...}` — its fields, never
 * its storage encoding — while it is small (Redis's compact encoding: up to 128 fields of up to 64 bytes); a
 * bigger one is `"hashFieldCount": <n>`, since a JSON document of a million fields in every listing and watch event
 * would cost more than the write (read its fields over RESP with HSCAN). Exactly one of the three is present. Bytes are shown as UTF-8 text (invalid sequences
 * become U+FFFD); `GET /v1/kv/{key}` is the way to read a string's raw bytes. docs/http-api.md documents it.
 *
 * This is the one place a stored record turns into JSON, so a change in how hashes are stored only changes it.
 */
import type { StoredRecord } from "../commands/record.js";
import { summarizeHash } from "../commands/redis/hash-value.js";

const decoder = new TextDecoder();

export type RecordValueJson =
  | { readonly value: string }
  | { readonly hash: Readonly<Record<string, string>> }
  | { readonly hashFieldCount: number };

export function recordValueJson(record: StoredRecord): RecordValueJson {
  switch (record.type) {
    case "string":
      return { value: decoder.decode(record.value) };
    case "hash": {
      const summary = summarizeHash(record);
      if (summary.fields === undefined) return { hashFieldCount: summary.fieldCount };
      // fromEntries defines own properties, so a field named "__proto__" stays a field.
      return {
        hash: Object.fromEntries(
          summary.fields.map(([field, value]) => [decoder.decode(field), decoder.decode(value)]),
        ),
      };
    }
  }
}
