import assert from "node:assert/strict";
import { test } from "node:test";
import { ShoalError } from "../lib/errors.js";
import type { NodeId } from "../raft/types.js";
import { type ClusterMap, initialClusterMap } from "../slots/cluster-map.js";
import { Placement } from "../slots/placement.js";
import { SlotMap } from "../slots/slot-map.js";
import { type AdmissionContext, admitMember } from "./join-request.js";
import type { MemberAddress } from "./node-options.js";
import type { JoinRequest } from "./peer-rpc.js";

const identity = {
  clusterId: "c-test",
  nodeId: 1,
  memberIds: [1, 2, 3],
  createdAt: "2026-12-07T00:00:00.000Z",
  shardCount: 3,
  replicationFactor: 3,
};

/** A member's view: the map it follows and the addresses it knows; updateMap changes both like the keeper would. */
function memberContext() {
  let map: ClusterMap = initialClusterMap(new SlotMap(3), new Placement([1, 2, 3], 3, 3));
  const addresses = new Map<NodeId, MemberAddress>(
    [1, 2, 3].map((id) => [id, { peer: `127.0.0.1:710${id}`, http: `http://127.0.0.1:800${id}` }]),
  );
  let updates = 0;
  const context: AdmissionContext = {
    identity,
    map: () => map,
    addresses: () => addresses,
    updateMap: async (change) => {
      updates++;
      map = change(map);
      for (const [id, address] of Object.entries(map.joined ?? {})) addresses.set(Number(id), address);
      return map;
    },
  };
  return { context, map: () => map, updates: () => updates };
}

const request = (id: NodeId, peer: string, restart = false): JoinRequest => ({
  kind: "join",
  id,
  peer,
  http: `http://${peer.replace(/:71/, ":80")}`,
  restart,
});

const refused = (pattern: RegExp) => (error: unknown) =>
  error instanceof ShoalError && error.code === "BAD_REQUEST" && pattern.test(error.message);

test("a new node is admitted once; its restart with the same address is answered without a new epoch", async () => {
  const member = memberContext();
  const answer = await admitMember(member.context, request(4, "127.0.0.1:7104"));
  assert.equal(answer.clusterId, "c-test");
  assert.deepEqual(answer.memberIds, [1, 2, 3], "placement derives from the members the cluster was created with");
  assert.deepEqual(
    answer.members.map((m) => m.id),
    [1, 2, 3, 4],
  );
  assert.deepEqual(member.map().members, [1, 2, 3, 4]);
  assert.equal(member.map().epoch, 2);
  const again = await admitMember(member.context, request(4, "127.0.0.1:7104", true));
  assert.deepEqual(again.members, answer.members);
  assert.equal(member.updates(), 1, "a restart records nothing");
});

test("an id in use or once used is refused with a clear error, whatever the directory holds", async () => {
  const member = memberContext();
  // An empty directory under a member's id: it may have voted with a log it lost.
  await assert.rejects(admitMember(member.context, request(2, "127.0.0.1:7199")), refused(/already a member/));
  await assert.rejects(admitMember(member.context, request(2, "127.0.0.1:7102")), refused(/already a member/));
  // A restart from elsewhere than the address the member joined with.
  await assert.rejects(
    admitMember(member.context, request(2, "127.0.0.1:7199", true)),
    refused(/is a member at 127.0.0.1:7102, not 127.0.0.1:7199/),
  );
  // A directory of this cluster whose node is not (or no longer) a member.
  await assert.rejects(admitMember(member.context, request(9, "127.0.0.1:7109", true)), refused(/not a member/));
  assert.equal(member.updates(), 0);
});

test("a joining node's addresses are checked before they reach the map every member dials", async () => {
  const member = memberContext();
  await assert.rejects(admitMember(member.context, request(5, "no-port")), refused(/expected host:port/));
  await assert.rejects(admitMember(member.context, request(5, "127.0.0.1:99999")), refused(/port must be 1-65535/));
  await assert.rejects(
    admitMember(member.context, request(5, `${"h".repeat(400)}:7105`)),
    refused(/at most 300 characters/),
  );
  assert.equal(member.updates(), 0);
  assert.deepEqual(member.map().members, [1, 2, 3]);
});
