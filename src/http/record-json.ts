/**
 * @module How a key's value looks in the HTTP API's JSON (range listings, txn responses, watch events): a string
 * is `"value": "<text>"`; a hash (written over RESP) is `"hash": {"<field>": "<value>", ...}` — its fields, never
 * its storage encoding. Exactly one of the two is present. Bytes are shown as UTF-8 text (invalid sequences
 * become U+FFFD); `GET /v1/kv/{key}` is the way to read a string's raw bytes. docs/http-api.md documents it.
 *
 * This is the one place a stored record turns into JSON, so a change in how hashes are stored only changes it.
 */
import type { StoredRecord } from "../commands/record.js";
import { hashEntries } from "../commands/redis/hash-value.js";

const decoder = new TextDecoder();

export type RecordValueJson = { readonly value: string } | { readonly hash: Readonly<Record<string, string>> };

export function recordValueJson(record: Pick<StoredRecord, "type" | "value">): RecordValueJson {
  switch (record.type) {
    case "string":
      return { value: decoder.decode(record.value) };
    case "hash":
      // fromEntries defines own properties, so a field named "__proto__" stays a field.
      return {
        hash: Object.fromEntries(
          hashEntries(record.value).map(([field, value]) => [decoder.decode(field), decoder.decode(value)]),
        ),
      };
  }
}
