/** @module The transport's public surface: PeerTransport and the types a host needs around it. */

export { ANY_MEMBER_ID, type PeerAddress, parsePeerAddress } from "./address.js";
export { encodeFrames, FrameDecoder } from "./frame-codec.js";
export {
  type MessageHandler,
  PeerTransport,
  type PeerTransportOptions,
  type RequestHandler,
} from "./peer-transport.js";
export { DEFAULT_TRANSPORT_BOUNDS, type TransportBounds } from "./transport-config.js";
export type { PeerStats, TransportStats } from "./transport-stats.js";
