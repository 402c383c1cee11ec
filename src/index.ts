/**
 * @module The `shoal` package's entry point: `import { startNode } from "shoal"` starts a member of a Shoal cluster
 * inside this process (docs/embedding.md). Everything exported here is the public, typed surface; the modules
 * behind it may change.
 */

export type { ErrorCode } from "./lib/errors.js";
export { ShoalError } from "./lib/errors.js";
export {
  type EmbeddedNode,
  type EmbeddedNodeOptions,
  type KeyInput,
  type MemberView,
  type StoredValue,
  startNode,
} from "./member/embedded-node.js";
export { MemberStartError, type MemberStartStage } from "./member/start-member.js";
export type { FsyncPolicy } from "./node/node-options.js";
