/**
 * @module Node processes a harness started are killed when the harness exits, however it exits: a crashed test or
 * bench must not leave nodes behind (four orphans of a crashed bench once held 2 GB each and skewed the next run).
 */
import type { ChildProcess } from "node:child_process";

const liveChildren = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveChildren) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** Kills `child` with this process if it is still running then. */
export function reapOnExit(child: ChildProcess): void {
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
}
