/**
 * @module Runtime checks that a decoded value is a well-formed Raft `Message`. The transport is where bytes from
 * another process become typed values, so it checks every field once here and nothing downstream needs to.
 * The field table is typed against `Message`, so adding a field to a message type without listing it here is a
 * compile error.
 */

import type { Message, MessageType } from "../raft/types.js";

type FieldKind = "index" | "boolean" | "string" | "bytes" | "entries" | "snapshotMetadata";

type HeaderField = "groupId" | "from" | "to" | "term" | "type";
type BodyFields<T extends MessageType> = {
  readonly [K in Exclude<keyof Extract<Message, { type: T }>, HeaderField>]-?: FieldKind;
};

const BODY_FIELDS: { readonly [T in MessageType]: BodyFields<T> } = {
  appendEntries: { prevLogIndex: "index", prevLogTerm: "index", entries: "entries", commit: "index" },
  appendEntriesResponse: { reject: "boolean", index: "index", hintIndex: "index", hintTerm: "index" },
  requestVote: { preVote: "boolean", lastLogIndex: "index", lastLogTerm: "index", leadershipTransfer: "boolean" },
  requestVoteResponse: { preVote: "boolean", granted: "boolean" },
  heartbeat: { commit: "index", readContext: "string", quiesce: "boolean" },
  heartbeatResponse: { readContext: "string" },
  installSnapshot: { metadata: "snapshotMetadata", offset: "index", totalBytes: "index", chunk: "bytes" },
  installSnapshotResponse: { snapshotIndex: "index", offset: "index", done: "boolean" },
  timeoutNow: {},
  readIndex: { readContext: "string" },
  readIndexResponse: { readContext: "string", index: "index" },
};

const HEADER_FIELDS = ["groupId", "from", "to", "term"] as const;

/** BODY_FIELDS as arrays, built once: validation runs for every received message. */
const BODY_FIELD_LISTS = new Map<string, ReadonlyArray<readonly [string, FieldKind]>>(
  Object.entries(BODY_FIELDS).map(([type, fields]) => [type, Object.entries(fields as Record<string, FieldKind>)]),
);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Terms, indexes, ids and byte offsets: non-negative safe integers. */
function isIndex(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isIndexArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every(isIndex);
}

function isEntry(value: unknown): boolean {
  if (!isRecord(value)) return false;
  if (!isIndex(value.term) || !isIndex(value.index)) return false;
  if (value.type !== "normal" && value.type !== "confChange") return false;
  return value.data instanceof Uint8Array;
}

function isSnapshotMetadata(value: unknown): boolean {
  if (!isRecord(value) || !isIndex(value.index) || !isIndex(value.term)) return false;
  const confState = value.confState;
  return isRecord(confState) && isIndexArray(confState.voters) && isIndexArray(confState.learners);
}

function hasKind(value: unknown, kind: FieldKind): boolean {
  switch (kind) {
    case "index":
      return isIndex(value);
    case "boolean":
      return typeof value === "boolean";
    case "string":
      return typeof value === "string";
    case "bytes":
      return value instanceof Uint8Array;
    case "entries":
      return Array.isArray(value) && value.every(isEntry);
    case "snapshotMetadata":
      return isSnapshotMetadata(value);
  }
}

/** Returns why `value` is not a Message, or undefined when it is one. */
export function messageProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return "message is not an object";
  const fields = typeof value.type === "string" ? BODY_FIELD_LISTS.get(value.type) : undefined;
  if (fields === undefined) return `unknown message type ${JSON.stringify(value.type)}`;
  for (const field of HEADER_FIELDS) {
    if (!isIndex(value[field])) return `${value.type}.${field} is not a non-negative integer`;
  }
  for (const [field, kind] of fields) {
    if (!hasKind(value[field], kind)) return `${value.type}.${field} is not a valid ${kind}`;
  }
  return undefined;
}

export function isMessage(value: unknown): value is Message {
  return messageProblem(value) === undefined;
}
