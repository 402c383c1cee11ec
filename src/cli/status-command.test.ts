import assert from "node:assert/strict";
import { test } from "node:test";
import type { ClusterStatus } from "../client/types.js";
import { quorumNote, renderStatus } from "./status-command.js";
import { makeStyle } from "./terminal.js";

/** Four members, four shards of three replicas (placement's seats), nodes `down` unreachable. */
function fourNodes(down: readonly number[], leaders: readonly number[]): ClusterStatus {
  const replicas = [
    [1, 2, 3],
    [4, 1, 2],
    [3, 4, 1],
    [2, 3, 4],
  ];
  return {
    id: 3,
    leader: leaders[0] ?? 0,
    term: 2,
    role: "follower",
    commitIndex: 1,
    appliedIndex: 1,
    lastIndex: 1,
    members: [1, 2, 3, 4].map((id) => ({ id, reachable: !down.includes(id) }) as ClusterStatus["members"][number]),
    shards: replicas.map((ids, i) => ({
      id: i + 1,
      slots: [[i * 4096, i * 4096 + 4095]],
      leader: leaders[i] ?? 0,
      replicas: ids.filter((id) => id !== leaders[i]),
      epoch: 2,
    })),
  };
}

test("on several shards, quorum is each shard's: two nodes down fail the shards holding both, not the cluster", () => {
  const note = quorumNote(fourNodes([1, 2], [0, 0, 3, 4]));
  assert.equal(note?.lost, true);
  assert.match(
    note?.text ?? "",
    /Quorum lost in 2 shards: shard 1 \(nodes 1 and 2 of 1, 2, 3 down\) and shard 2 \(nodes 1 and 2 of 1, 2, 4 down\)/,
  );
  assert.match(note?.text ?? "", /the other 2 shards serve/);
});

test("on several shards, one node down of four loses no shard; a shard without a leader is an election", () => {
  assert.equal(quorumNote(fourNodes([4], [1, 2, 3, 2])), undefined);
  const electing = quorumNote(fourNodes([4], [1, 0, 3, 2]));
  assert.equal(electing?.lost, false);
  assert.match(electing?.text ?? "", /election is under way/);
});

test("on several shards the member table says which shards each member leads and holds, and its worst lag", () => {
  const status = fourNodes([4], [1, 2, 3, 2]);
  const withLag = {
    ...status,
    endpoint: "http://x",
    shards: status.shards?.map((shard) => (shard.id === 1 ? { ...shard, lag: { 2: 5, 3: 0 } } : shard)),
  };
  const lines = renderStatus(withLag, makeStyle(false)).split("\n");
  assert.match(lines[0] ?? "", /4 reachable|3 reachable; 4 of 4 shards led/);
  assert.match(lines[2] ?? "", /^ID\s+STATE\s+LEADS\s+HOLDS\s+LAG\s+HTTP\s+PEER$/);
  const row = (id: number) => (lines.find((line) => line.startsWith(`${id} `)) ?? "").split(/\s{2,}/);
  assert.deepEqual(row(1).slice(0, 4), ["1", "up", "1", "1,2,3"]);
  assert.deepEqual(row(2).slice(0, 5), ["2", "up", "2,4", "1,2,4", "5"], "2 leads shards 2 and 4, is 5 behind in 1");
  assert.deepEqual(row(4).slice(0, 4), ["4", "unreachable", "-", "2,3,4"]);
});
