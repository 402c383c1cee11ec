/**
 * @module One peer transport, many Raft groups: every Raft message carries its group id (raft/raft.ts asserts it
 * on arrival), and the router hands each to the group's host. A message for a group this node does not host (a
 * peer configured with more shards, or a group being created) is dropped — Raft treats it as lost — and logged
 * once per group.
 */
import type { Logger } from "../io/logger.js";
import { memberOfReplica } from "../lib/replica-id.js";
import type { GroupId, Message } from "../raft/types.js";
import type { AskPeer } from "./leader-forwarding.js";
import { LIVENESS_GROUP_ID, type NodeLiveness } from "./node-liveness.js";
import { type PeerRequest, withGroup } from "./peer-rpc.js";
import type { PeerNetwork } from "./ports.js";

/** What a group's host needs of the network: sending its messages and receiving its own. */
export type GroupNetwork = Pick<PeerNetwork, "send" | "onMessage">;

export class GroupRouter {
  readonly #network: PeerNetwork;
  readonly #handlers = new Map<GroupId, (message: Message) => void>();
  readonly #unknownLogged = new Set<GroupId>();

  /** `liveness` hears of every inbound message's sender and consumes the liveness pings (node-liveness.ts). */
  constructor(network: PeerNetwork, logger: Logger, liveness?: NodeLiveness) {
    this.#network = network;
    network.onMessage((message) => {
      liveness?.heard(memberOfReplica(message.from)); // a replica id (lib/replica-id.ts)
      if (message.groupId === LIVENESS_GROUP_ID) return;
      const handler = this.#handlers.get(message.groupId);
      if (handler !== undefined) {
        handler(message);
        return;
      }
      if (this.#unknownLogged.has(message.groupId) || this.#unknownLogged.size >= 64) return;
      this.#unknownLogged.add(message.groupId);
      logger.warn(
        { group: message.groupId, from: message.from },
        "Dropping Raft messages for a group this node does not host",
      );
    });
  }

  /** The network as group `groupId`'s host sees it. */
  networkOf(groupId: GroupId): GroupNetwork {
    return {
      send: (messages) => this.#network.send(messages),
      onMessage: (handler) => {
        this.#handlers.set(groupId, handler);
      },
    };
  }
}

/** `ask` with each request that names a group (a forwarded write, a SCAN cursor) naming `groupId`. */
export function groupTagged(ask: AskPeer, groupId: GroupId): AskPeer {
  return (to, request: PeerRequest, timeoutMs, abandon, ordered) =>
    ask(to, withGroup(request, groupId), timeoutMs, abandon, ordered);
}
