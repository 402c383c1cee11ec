/**
 * @module The one place a typed reply becomes RESP: an error code becomes Redis's error prefix, and every Reply
 * kind is written with the connection's protocol version (RESP3 shapes degrade to RESP2 in the writer).
 */
import type { Reply } from "../../commands/redis/reply.js";
import { type ErrorCode, ShoalError } from "../../lib/errors.js";
import type { RespWriter } from "../resp-writer.js";

/** Redis's error prefix for each code. A Record so that a new ErrorCode does not compile until it is mapped. */
const PREFIX: Readonly<Record<ErrorCode, string>> = {
  BAD_REQUEST: "ERR",
  TOO_LARGE: "ERR",
  INTERNAL: "ERR",
  // Redis has no "outcome unknown" error; clients treat ERR as final, which is right: retrying may apply twice.
  TIMEOUT: "ERR",
  // The write reached a leader that lost leadership (or died) before answering; it may still commit. Its own word
  // (Redis's errors start with their kind) so an application can tell "maybe applied" from a plain failure.
  UNKNOWN_OUTCOME: "UNCERTAIN",
  NOT_FOUND: "ERR",
  CONFLICT: "ERR",
  COMPACTED: "ERR",
  WRONG_TYPE: "WRONGTYPE",
  UNAUTHENTICATED: "NOAUTH",
  WRONG_PASSWORD: "WRONGPASS",
  EXEC_ABORTED: "EXECABORT",
  UNSUPPORTED_PROTOCOL: "NOPROTO",
  // The command certainly did not run (no leader, no quorum, leadership lost before commit). Redis Cluster says
  // TRYAGAIN for "not now, the same request may succeed shortly", and cluster-aware clients (ioredis) retry it;
  // the others surface it as an error the application may retry safely.
  NOT_LEADER: "TRYAGAIN",
  UNAVAILABLE: "TRYAGAIN",
  PROPOSAL_DROPPED: "TRYAGAIN",
  CLUSTER_DOWN: "CLUSTERDOWN",
  MOVED: "MOVED",
  // Redis Cluster's words for a slot being moved: the node follows an ASK itself unless it answers redirects
  // (cluster-redirects.ts writes the shard's address in), and a write to a frozen slot is Redis's TRYAGAIN.
  ASK: "ASK",
  SLOT_MIGRATING: "TRYAGAIN",
  CROSS_SLOT: "CROSSSLOT",
  CROSS_SHARD: "CROSSSLOT",
  OUT_OF_MEMORY: "OOM",
  NOT_IMPLEMENTED: "ERR",
};

/** The error line's text without the leading '-', e.g. "WRONGTYPE Operation against a key…". */
export function errorText(code: ErrorCode, message: string): string {
  return `${PREFIX[code]} ${message}`;
}

/** An exception as an error reply: a ShoalError keeps its code; anything else is a bug, reported as INTERNAL. */
export function errorFromException(error: unknown): Reply {
  if (error instanceof ShoalError) return { kind: "error", code: error.code, message: error.message };
  const detail = error instanceof Error ? error.message : String(error);
  return { kind: "error", code: "INTERNAL", message: `internal error: ${detail}` };
}

/** Appends `reply` to `writer` in the writer's protocol version. */
export function writeReply(writer: RespWriter, reply: Reply): void {
  switch (reply.kind) {
    case "simple":
      writer.simple(reply.value);
      return;
    case "encoded":
      writer.encoded(reply.bytes);
      return;
    case "error":
      writer.error(errorText(reply.code, reply.message));
      return;
    case "integer":
      writer.integer(reply.value);
      return;
    case "bulk":
      writer.bulk(reply.value);
      return;
    case "null":
      writer.null();
      return;
    case "nullArray":
      writer.nullArray();
      return;
    case "array":
      writer.arrayHeader(reply.items.length);
      for (const item of reply.items) writeReply(writer, item);
      return;
    case "map":
      writer.mapHeader(reply.entries.length);
      for (const [key, value] of reply.entries) {
        writeReply(writer, key);
        writeReply(writer, value);
      }
      return;
    case "pairs":
      if (writer.version === 3) {
        writer.arrayHeader(reply.pairs.length);
        for (const [first, second] of reply.pairs) {
          writer.arrayHeader(2);
          writeReply(writer, first);
          writeReply(writer, second);
        }
      } else {
        writer.arrayHeader(reply.pairs.length * 2);
        for (const [first, second] of reply.pairs) {
          writeReply(writer, first);
          writeReply(writer, second);
        }
      }
      return;
    case "set":
      writer.setHeader(reply.items.length);
      for (const item of reply.items) writeReply(writer, item);
      return;
    case "double":
      writer.double(reply.value);
      return;
    case "verbatim":
      writer.verbatim("txt", reply.value);
      return;
  }
}
