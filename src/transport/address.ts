/**
 * @module Peer addresses as configured ("host:port", "[v6]:port"). Parsed once when a peer is set, so a typo
 * fails at `setPeer` instead of as an endless reconnect loop.
 */

import { ShoalError } from "../lib/errors.js";

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses "host:port" or "[ipv6]:port". Throws ShoalError BAD_REQUEST on anything else. */
export function parsePeerAddress(address: string): PeerAddress {
  const colon = address.lastIndexOf(":");
  if (colon <= 0) {
    throw new ShoalError("BAD_REQUEST", `Cannot parse peer address "${address}": expected host:port`);
  }
  let host = address.slice(0, colon);
  const portText = address.slice(colon + 1);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const port = Number(portText);
  if (!/^[0-9]+$/.test(portText) || port < 1 || port > 65535) {
    throw new ShoalError("BAD_REQUEST", `Cannot parse peer address "${address}": port must be 1-65535`);
  }
  if (host.length === 0) {
    throw new ShoalError("BAD_REQUEST", `Cannot parse peer address "${address}": host is empty`);
  }
  return { host, port };
}

export function formatPeerAddress(address: PeerAddress): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** The peer id a node that is joining the cluster dials a member's address under: it knows the address, not the
 * id. Any node accepts a connection for it (inbound-connection.ts); above every real node id. */
export const ANY_MEMBER_ID = 0x7fffffff;
