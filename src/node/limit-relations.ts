/**
 * @module The relations between the bounds of the layers a node joins: every entry the command checks accept
 * (COMMAND_LIMITS.entrySizeBytesMax) must fit one Raft proposal, and the largest proposal, inside one
 * AppendEntries, one peer frame. Otherwise a request every check accepted would be refused by Raft, or a
 * committed entry could never reach a follower. Checked when a node starts, against its actual configuration.
 */
import { COMMAND_LIMITS } from "../commands/limits.js";
import { ShoalError } from "../lib/errors.js";
import type { RaftConfig } from "../raft/config.js";
import type { TransportBounds } from "../transport/index.js";

/** The message fields and msgpack framing around the entries of one AppendEntries, rounded up generously. */
const PEER_FRAME_OVERHEAD_BYTES = 64 * 1024;

/** Throws ShoalError BAD_REQUEST naming the first relation `raft` and `transport` break. */
export function checkLimitRelations(
  raft: Pick<RaftConfig, "proposalBytesMax" | "messageBytesMax">,
  transport: Pick<TransportBounds, "frameBytesMax">,
): void {
  const { proposalBytesMax, messageBytesMax } = raft;
  if (proposalBytesMax < COMMAND_LIMITS.entrySizeBytesMax) {
    throw new ShoalError(
      "BAD_REQUEST",
      `Cannot start: the Raft proposal limit ${proposalBytesMax} is below the entry limit ${COMMAND_LIMITS.entrySizeBytesMax}`,
    );
  }
  // A message carries entries up to messageBytesMax, and always at least one (which may be a whole proposal).
  if (transport.frameBytesMax < proposalBytesMax + messageBytesMax + PEER_FRAME_OVERHEAD_BYTES) {
    throw new ShoalError(
      "BAD_REQUEST",
      `Cannot start: a peer frame of ${transport.frameBytesMax} bytes cannot carry a proposal of ${proposalBytesMax}`,
    );
  }
}
