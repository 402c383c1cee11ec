import assert from "node:assert/strict";
import { test } from "node:test";
import type { Entry } from "../src/raft/types.js";
import { decodeWrite, encodeWrite, SimStateMachine, SnapshotDecodeError } from "./state-machine.js";

function write(index: number, valueId: number, key: number): Entry {
  return { index, term: 1, type: "normal", data: encodeWrite({ valueId, key }) };
}

test("a write round-trips through its entry; no-ops and conf changes are not writes", () => {
  assert.deepEqual(decodeWrite(write(1, 77, 3)), { valueId: 77, key: 3 });
  assert.equal(decodeWrite({ index: 2, term: 1, type: "normal", data: new Uint8Array(0) }), undefined);
  assert.equal(
    decodeWrite({ index: 3, term: 1, type: "confChange", data: encodeWrite({ valueId: 1, key: 1 }) }),
    undefined,
  );
});

test("registers remember the last write and its index; the hash depends on every applied entry", () => {
  const a = new SimStateMachine();
  const b = new SimStateMachine();
  a.apply(write(1, 10, 2));
  a.apply(write(2, 11, 2));
  b.apply(write(1, 10, 2));
  b.apply(write(2, 12, 2));
  assert.deepEqual(a.read(2), { valueId: 11, writeIndex: 2 });
  assert.deepEqual(a.read(5), { valueId: 0, writeIndex: 0 });
  assert.notEqual(a.hash, b.hash);
});

test("a snapshot restores the same state; a damaged or truncated one is refused", () => {
  const machine = new SimStateMachine();
  for (let i = 1; i <= 40; i++) machine.apply(write(i, 100 + i, i % 16));
  const bytes = machine.toBytes();
  const restored = SimStateMachine.fromBytes(bytes);
  assert.equal(restored.hash, machine.hash);
  assert.equal(restored.appliedIndex, 40);
  assert.deepEqual(restored.read(7), machine.read(7));
  const damaged = bytes.slice();
  damaged[30] = (damaged[30] as number) ^ 1;
  assert.throws(() => SimStateMachine.fromBytes(damaged), SnapshotDecodeError);
  assert.throws(() => SimStateMachine.fromBytes(bytes.subarray(0, bytes.length - 16)), SnapshotDecodeError);
});
