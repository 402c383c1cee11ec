/**
 * @module How a key's value looks in the HTTP API's JSON (range listings, txn responses, watch events): a string
 * is `"value": "<text>"`; a hash (written over RESP) is `"hash": {"<field>": "<value>", ...}` — its fields, never
 * its storage encoding — while it is small (Redis's compact encoding: up to 128 fields of up to 64 bytes); a
 * bigger one is `"hashFieldCount": <n>`, since a JSON document of a million fields in every listing and watch event
 * would cost more than the write (read its fields over RESP with HSCAN). Exactly one of the three is present. Bytes are shown as UTF-8 text (invalid sequences
 * become U+FFFD); `GET /v1/kv/{key}` is the way to read a string's raw bytes. docs/http-api.md documents it.
 *
 * This is the one place a stored record turns into JSON; it reads values through the keyspace's typed view
 * (commands/keyspace/value-view.ts), so it never depends on how hashes are encoded.
 */
import { valueView } from "../commands/keyspace/value-view.js";
import type { StoredRecord } from "../store/record.js";

const decoder = new TextDecoder();

export type RecordValueJson =
  | { readonly value: string }
  | { readonly hash: Readonly<Record<string, string>> }
  | { readonly hashFieldCount: number };

export function recordValueJson(record: StoredRecord): RecordValueJson {
  const view = valueView(record);
  if (view.type === "string") return { value: decoder.decode(view.value) };
  if (view.fields === undefined) return { hashFieldCount: view.fieldCount };
  // fromEntries defines own properties, so a field named "__proto__" stays a field.
  return {
    hash: Object.fromEntries(view.fields.map(([field, value]) => [decoder.decode(field), decoder.decode(value)])),
  };
}
