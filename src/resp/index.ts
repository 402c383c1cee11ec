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
export { splitInlineArgs } from "./split-inline-args.js";
