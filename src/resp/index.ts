/** @module The RESP2/RESP3 codec: pure, no sockets. See README.md for what is supported. */
export { formatDouble } from "./format-double.js";
export { ReplyParser, type ReplyParserOptions } from "./reply-parser.js";
export {
  parseStrictInteger,
  REQUEST_LIMITS_DEFAULT,
  RequestParser,
  type RequestParserOptions,
  RespProtocolError,
} from "./request-parser.js";
export type { RespValue, RespVersion } from "./resp-value.js";
export { encodeReply, RespWriter } from "./resp-writer.js";
export type {
  LogOutcome,
  NodeFacts,
  PubSub,
  PubSubMessage,
  RedisBackend,
  Subscriber,
} from "./server/backend.js";
export { CLIENTS_MAX_DEFAULT, RespServer, type RespServerOptions } from "./server/resp-server.js";
export { splitInlineArgs } from "./split-inline-args.js";
