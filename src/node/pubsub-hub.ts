/**
 * @module Redis pub/sub across the cluster. Messages are not replicated (Redis pub/sub is fire-and-forget, at
 * most once): PUBLISH delivers to this node's subscribers and asks every peer, over the peer transport, to
 * deliver to theirs; the reply counts every receiver that answered in time. A peer that is down or slow
 * contributes 0 and its subscribers miss the message — the same guarantee Redis Cluster gives.
 */

import { globMatch } from "../commands/redis/glob.js";
import { keyFromId, keyId } from "../lib/bytes.js";
import type { NodeId } from "../raft/types.js";

export interface PubSubDelivery {
  readonly channel: Uint8Array;
  readonly message: Uint8Array;
  readonly pattern?: Uint8Array;
}

export interface PubSubSubscriber {
  deliver(message: PubSubDelivery): void;
}

/** The peer RPCs pub/sub uses (ShoalNode routes them to `answer`). */
export type PubSubRequest =
  | { readonly kind: "publish"; readonly channel: Uint8Array; readonly message: Uint8Array }
  | { readonly kind: "pubsub-channels"; readonly pattern?: Uint8Array }
  | { readonly kind: "pubsub-numsub"; readonly channels: readonly Uint8Array[] }
  | { readonly kind: "pubsub-numpat" };

export interface PubSubPeers {
  peerIds(): readonly NodeId[];
  request(to: NodeId, payload: PubSubRequest, timeoutMs: number): Promise<unknown>;
}

export class PubSubHub {
  readonly #channels = new Map<string, Set<PubSubSubscriber>>();
  readonly #patterns = new Map<string, Set<PubSubSubscriber>>();
  readonly #peers: PubSubPeers;
  readonly #timeoutMs: number;

  constructor(peers: PubSubPeers, timeoutMs: number) {
    this.#peers = peers;
    this.#timeoutMs = timeoutMs;
  }

  subscribe(subscriber: PubSubSubscriber, channel: Uint8Array): void {
    add(this.#channels, keyId(channel), subscriber);
  }

  unsubscribe(subscriber: PubSubSubscriber, channel: Uint8Array): void {
    remove(this.#channels, keyId(channel), subscriber);
  }

  psubscribe(subscriber: PubSubSubscriber, pattern: Uint8Array): void {
    add(this.#patterns, keyId(pattern), subscriber);
  }

  punsubscribe(subscriber: PubSubSubscriber, pattern: Uint8Array): void {
    remove(this.#patterns, keyId(pattern), subscriber);
  }

  drop(subscriber: PubSubSubscriber): void {
    for (const id of [...this.#channels.keys()]) remove(this.#channels, id, subscriber);
    for (const id of [...this.#patterns.keys()]) remove(this.#patterns, id, subscriber);
  }

  async publish(channel: Uint8Array, message: Uint8Array): Promise<number> {
    const local = this.deliverLocally(channel, message);
    const remote = await this.#askPeers({ kind: "publish", channel, message });
    return remote.reduce((sum: number, answer) => sum + (typeof answer === "number" ? answer : 0), local);
  }

  async channels(pattern: Uint8Array | undefined): Promise<Uint8Array[]> {
    const ids = new Set(this.localChannels(pattern).map(keyId));
    const request: PubSubRequest =
      pattern === undefined ? { kind: "pubsub-channels" } : { kind: "pubsub-channels", pattern };
    for (const answer of await this.#askPeers(request)) {
      if (Array.isArray(answer)) for (const c of answer) if (c instanceof Uint8Array) ids.add(keyId(c));
    }
    return [...ids].sort().map(keyFromId);
  }

  async numsub(channels: readonly Uint8Array[]): Promise<number[]> {
    const counts = this.localNumsub(channels);
    for (const answer of await this.#askPeers({ kind: "pubsub-numsub", channels })) {
      if (!Array.isArray(answer)) continue;
      answer.forEach((n, i) => {
        if (typeof n === "number" && i < counts.length) counts[i] = (counts[i] as number) + n;
      });
    }
    return counts;
  }

  /** Unique patterns subscribed on any node (Redis counts a pattern once, however many clients hold it). */
  async numpat(): Promise<number> {
    const ids = new Set(this.#patterns.keys());
    for (const answer of await this.#askPeers({ kind: "pubsub-numpat" })) {
      if (Array.isArray(answer)) for (const p of answer) if (p instanceof Uint8Array) ids.add(keyId(p));
    }
    return ids.size;
  }

  /** Answers a peer's pub/sub request from this node's subscribers only. */
  answer(request: PubSubRequest): unknown {
    switch (request.kind) {
      case "publish":
        return this.deliverLocally(request.channel, request.message);
      case "pubsub-channels":
        return this.localChannels(request.pattern);
      case "pubsub-numsub":
        return this.localNumsub(request.channels);
      case "pubsub-numpat":
        return [...this.#patterns.keys()].map(keyFromId);
    }
  }

  /** Delivers to this node's channel and pattern subscribers; returns how many deliveries were made (Redis
   * counts a client once per matching subscription). */
  deliverLocally(channel: Uint8Array, message: Uint8Array): number {
    let count = 0;
    for (const subscriber of this.#channels.get(keyId(channel)) ?? []) {
      subscriber.deliver({ channel, message });
      count++;
    }
    for (const [id, subscribers] of this.#patterns) {
      const pattern = keyFromId(id);
      if (!globMatch(pattern, channel)) continue;
      for (const subscriber of subscribers) {
        subscriber.deliver({ channel, message, pattern });
        count++;
      }
    }
    return count;
  }

  localChannels(pattern: Uint8Array | undefined): Uint8Array[] {
    return [...this.#channels.keys()].map(keyFromId).filter((c) => pattern === undefined || globMatch(pattern, c));
  }

  localNumsub(channels: readonly Uint8Array[]): number[] {
    return channels.map((channel) => this.#channels.get(keyId(channel))?.size ?? 0);
  }

  async #askPeers(request: PubSubRequest): Promise<unknown[]> {
    const asks = this.#peers.peerIds().map((id) => this.#peers.request(id, request, this.#timeoutMs));
    const settled = await Promise.allSettled(asks);
    return settled.map((outcome) => (outcome.status === "fulfilled" ? outcome.value : undefined));
  }
}

function add(map: Map<string, Set<PubSubSubscriber>>, id: string, subscriber: PubSubSubscriber): void {
  const set = map.get(id);
  if (set === undefined) map.set(id, new Set([subscriber]));
  else set.add(subscriber);
}

function remove(map: Map<string, Set<PubSubSubscriber>>, id: string, subscriber: PubSubSubscriber): void {
  const set = map.get(id);
  if (set === undefined) return;
  set.delete(subscriber);
  if (set.size === 0) map.delete(id);
}
