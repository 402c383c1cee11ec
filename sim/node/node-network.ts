/**
 * @module The peer network of the node simulation: each member's `PeerNetwork` (src/node/ports.ts) over one
 * `SimNetwork`, in virtual milliseconds. Every Raft message is encoded into a transport envelope and decoded
 * (and validated) back, with the real codec (src/transport/envelope.ts), before the network decides its fate —
 * drop, duplicate, delay, a cut link — and a delivery is one event on the `SimClock` per due millisecond.
 * A member that is down has no handler: what arrives for it is lost, as on a closed socket.
 */

import { ShoalError } from "../../src/lib/errors.js";
import type { Prng } from "../../src/lib/prng.js";
import type { PeerNetwork } from "../../src/node/ports.js";
import type { Message, NodeId } from "../../src/raft/types.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/transport/envelope.js";
import { type NetworkFaults, SimNetwork } from "../network.js";
import type { SimClock } from "../sim-clock.js";

export class NodeNetwork {
  readonly links: SimNetwork;
  readonly #clock: SimClock;
  readonly #handlers = new Map<NodeId, (message: Message) => void>();
  /** Sees every message a member sends (election safety), before the network decides its fate. */
  readonly #onSent: (message: Message) => void;

  constructor(clock: SimClock, random: Prng, faults: NetworkFaults, onSent: (message: Message) => void) {
    this.#clock = clock;
    this.#onSent = onSent;
    this.links = new SimNetwork(random, faults, (dueMs) =>
      clock.schedule(dueMs - clock.now(), () => this.#deliver(dueMs)),
    );
  }

  /** The network one incarnation of member `id` sees; `detach` when it crashes. */
  attach(id: NodeId): PeerNetwork {
    return {
      send: (messages) => {
        for (const message of messages) {
          this.#onSent(message);
          const envelope = decodeEnvelope(encodeEnvelope({ k: "raft", m: message }));
          if (envelope.k !== "raft") throw new Error("The envelope codec changed a message's kind");
          this.links.send(envelope.m, this.#clock.now());
        }
      },
      onMessage: (handler) => {
        this.#handlers.set(id, handler);
      },
      request: () => Promise.reject(new ShoalError("UNAVAILABLE", "No peer requests in the simulation")),
      onRequest: () => {},
    };
  }

  detach(id: NodeId): void {
    this.#handlers.delete(id);
  }

  #deliver(dueMs: number): void {
    for (const message of this.links.takeDue(dueMs)) this.#handlers.get(message.to)?.(message);
  }
}
