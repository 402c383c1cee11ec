import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { COMMAND_LIMITS } from "../commands/limits.js";
import { defaultRaftConfig, resolveRaftConfig } from "../raft/config.js";
import { DEFAULT_TRANSPORT_BOUNDS } from "../transport/index.js";
import { checkLimitRelations } from "./limit-relations.js";

describe("the relations between the layers' bounds", () => {
  it("hold for the defaults: the largest entry fits a proposal, the largest proposal a peer frame", () => {
    checkLimitRelations(defaultRaftConfig, DEFAULT_TRANSPORT_BOUNDS);
    assert.ok(defaultRaftConfig.proposalBytesMax >= COMMAND_LIMITS.entrySizeBytesMax);
  });

  it("refuse a proposal limit below the entry limit, and a frame that cannot carry a proposal", () => {
    const small = { ...defaultRaftConfig, proposalBytesMax: COMMAND_LIMITS.valueSizeBytesMax };
    assert.throws(() => checkLimitRelations(small, DEFAULT_TRANSPORT_BOUNDS), /proposal limit .* below the entry/);
    const frame = { frameBytesMax: defaultRaftConfig.proposalBytesMax };
    assert.throws(() => checkLimitRelations(defaultRaftConfig, frame), /peer frame/);
  });

  it("Raft itself refuses an uncommitted bound smaller than one proposal", () => {
    assert.throws(
      () => resolveRaftConfig({ id: 1, groupId: 1, uncommittedBytesMax: defaultRaftConfig.proposalBytesMax - 1 }),
      RangeError,
    );
  });
});
