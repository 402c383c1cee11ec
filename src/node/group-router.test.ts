import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import type { Message } from "../raft/types.js";
import { heartbeat } from "../transport/loopback-kit.js";
import { GroupRouter, groupTagged } from "./group-router.js";
import type { AskPeer } from "./leader-forwarding.js";
import { answerPeerRequest, type PeerAnswers, type PeerRequest, peerRequest } from "./peer-rpc.js";
import type { PeerNetwork } from "./ports.js";

const silentLogger = pino({ level: "silent" });

function fakeNetwork(): { network: PeerNetwork; deliver(message: Message): void; sent: Message[] } {
  let handler: ((message: Message) => void) | undefined;
  const sent: Message[] = [];
  return {
    network: {
      send: (messages) => sent.push(...messages),
      onMessage: (h) => {
        handler = h;
      },
      request: async () => undefined,
      onRequest: () => {},
    },
    deliver: (message) => handler?.(message),
    sent,
  };
}

test("each group's host receives its own Raft messages only; a message for a group not hosted is dropped", () => {
  const fake = fakeNetwork();
  const router = new GroupRouter(fake.network, silentLogger);
  const got = new Map<number, number[]>([
    [1, []],
    [2, []],
  ]);
  for (const group of [1, 2]) router.networkOf(group).onMessage((m) => got.get(group)?.push(m.groupId));
  for (const group of [1, 2, 2, 3, 1]) fake.deliver(heartbeat(2, 1, 0, group));
  assert.deepEqual(Object.fromEntries(got), { 1: [1, 1], 2: [2, 2] });
  router.networkOf(2).send([heartbeat(1, 2, 0, 2)]);
  assert.deepEqual(
    fake.sent.map((m) => m.groupId),
    [2],
  );
});

test("a forwarded write names its group (group 1 unnamed, as before groups; the meta group 0 named), and is answered by that group", async () => {
  const asked: PeerRequest[] = [];
  const ask: AskPeer = async (_to, request) => {
    asked.push(request);
    return undefined;
  };
  const data = new Uint8Array([1, 2, 3]);
  await groupTagged(ask, 1)(2, peerRequest.propose(data), 100);
  await groupTagged(ask, 7)(2, peerRequest.propose(data), 100);
  await groupTagged(ask, 7)(2, peerRequest.info(), 100);
  assert.deepEqual(
    asked.map((r) => (r as { group?: number }).group),
    [undefined, 7, undefined],
  );
  const proposedTo: number[] = [];
  const answers = {
    propose: async (_data: Uint8Array, groupId: number) => {
      proposedTo.push(groupId);
      return { kind: "ok" };
    },
  } as unknown as PeerAnswers;
  for (const request of asked.slice(0, 2)) await answerPeerRequest(answers, silentLogger, 2, request);
  // The meta group is group 0: named, and answered by it.
  await groupTagged(ask, 0)(2, peerRequest.propose(data), 100);
  await answerPeerRequest(answers, silentLogger, 2, asked[asked.length - 1]);
  assert.deepEqual(proposedTo, [1, 7, 0]);
  for (const group of [-1, 1.5, "2", null]) {
    assert.throws(
      () => answerPeerRequest(answers, silentLogger, 2, { kind: "propose", data, group }),
      /Unknown peer request/,
      `group ${String(group)}`,
    );
  }
});
