/**
 * @module `POST /v1/txn`: an etcd-style transaction in JSON, parsed into a `TxnCommand`, and its result rendered
 * back. Keys and values are UTF-8 strings.
 *
 *   { "compare": [{ "key": "a", "target": "value", "op": "==", "value": "x" },
 *                 { "key": "b", "target": "modRevision", "op": "<", "value": 7 }],
 *     "success": [{ "op": "put", "key": "a", "value": "y", "ttl": 30 }, { "op": "get", "key": "b" }],
 *     "failure": [{ "op": "get", "key": "a" }] }
 */
import type { CommandResult, Compare, CompareOp, TxnCommand, TxnOp, TxnOpResult } from "../commands/command.js";
import { ShoalError } from "../lib/errors.js";
import type { KeyValue } from "../store/record.js";
import { recordValueJson } from "./record-json.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TARGETS = ["value", "version", "createRevision", "modRevision"] as const;
const OPS: readonly CompareOp[] = ["==", "!=", "<", ">"];

export function parseTxnBody(body: unknown, nowMs: number): TxnCommand {
  const object = asObject(body, "body");
  const compares = asArray(object.compare ?? [], "compare").map((item, i) => parseCompare(item, `compare[${i}]`));
  const success = asArray(object.success ?? [], "success").map((item, i) => parseOp(item, `success[${i}]`));
  const failure = asArray(object.failure ?? [], "failure").map((item, i) => parseOp(item, `failure[${i}]`));
  return { op: "txn", nowMs, compares, success, failure };
}

function parseCompare(item: unknown, where: string): Compare {
  const object = asObject(item, where);
  const key = asKey(object.key, `${where}.key`);
  const target = object.target;
  if (!TARGETS.includes(target as (typeof TARGETS)[number])) {
    throw bad(`${where}.target must be one of ${TARGETS.join(", ")}`);
  }
  const op = object.op;
  if (!OPS.includes(op as CompareOp)) throw bad(`${where}.op must be one of ${OPS.join(" ")}`);
  if (target === "value") {
    if (typeof object.value !== "string") throw bad(`${where}.value must be a string`);
    return { key, target, op: op as CompareOp, value: encoder.encode(object.value) };
  }
  const value = object.value;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw bad(`${where}.value must be a non-negative integer`);
  }
  return { key, target: target as "version" | "createRevision" | "modRevision", op: op as CompareOp, value };
}

function parseOp(item: unknown, where: string): TxnOp {
  const object = asObject(item, where);
  const key = asKey(object.key, `${where}.key`);
  switch (object.op) {
    case "put": {
      if (typeof object.value !== "string") throw bad(`${where}.value must be a string`);
      const value = encoder.encode(object.value);
      if (object.ttl === undefined) return { op: "put", key, value };
      const ttl = object.ttl;
      if (typeof ttl !== "number" || !(ttl > 0)) throw bad(`${where}.ttl must be a positive number of seconds`);
      return { op: "put", key, value, ttlMs: ttlMsOfSeconds(ttl) };
    }
    case "delete":
      return { op: "delete", key };
    case "get":
      return { op: "get", key };
    default:
      throw bad(`${where}.op must be put, delete or get`);
  }
}

/** An HTTP TTL (seconds, positive, fractions allowed) as the milliseconds a put carries: at least 1 ms, so a TTL
 * under half a millisecond is not rounded to 0 (which a put refuses). Used by `PUT /v1/kv/{key}?ttl=` and a txn's put. */
export function ttlMsOfSeconds(seconds: number): number {
  return Math.max(1, Math.round(seconds * 1000));
}

export function renderKeyValue(kv: KeyValue): Record<string, unknown> {
  return {
    key: decoder.decode(kv.key),
    ...recordValueJson(kv),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
    ...(kv.expiresAtMs > 0 ? { expiresAtMs: kv.expiresAtMs } : {}),
  };
}

export function renderTxnResult(result: CommandResult): Record<string, unknown> {
  if (result.kind === "error") throw new ShoalError(result.code, result.message);
  if (result.kind !== "txn") throw new ShoalError("INTERNAL", `A txn answered ${result.kind}`);
  return { succeeded: result.succeeded, revision: result.revision, responses: result.responses.map(renderOpResult) };
}

function renderOpResult(response: TxnOpResult): Record<string, unknown> {
  if (response.op === "get") return { op: "get", kv: response.kv === undefined ? null : renderKeyValue(response.kv) };
  return { op: response.op, prev: response.prev === undefined ? null : renderKeyValue(response.prev) };
}

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad(`${where} must be a JSON object`);
  return value as Record<string, unknown>;
}

function asArray(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw bad(`${where} must be an array`);
  return value;
}

function asKey(value: unknown, where: string): Uint8Array {
  if (typeof value !== "string" || value.length === 0) throw bad(`${where} must be a non-empty string`);
  return encoder.encode(value);
}

function bad(message: string): ShoalError {
  return new ShoalError("BAD_REQUEST", `Cannot parse txn: ${message}`);
}
