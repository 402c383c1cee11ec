// Three Shoal members in one Node.js process: a write on one member, a linearizable read on another.
// Run `npm run build` first, then `node examples/embedded.mjs`. docs/embedding.md explains each step.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNode } from "shoal";

/** A port free right now on loopback (the OS picks it; another process could still take it before we bind). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts a three-member cluster. Members know each other's peer addresses up front, so the ports are picked
 * first; a new cluster starts only once every member is up, so the three start together. */
async function startCluster() {
  const ids = [1, 2, 3];
  const peers = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, `127.0.0.1:${await freePort()}`])));
  const dirs = await Promise.all(ids.map((id) => mkdtemp(join(tmpdir(), `shoal-embedded-${id}-`))));
  const started = await Promise.allSettled(ids.map((id, i) => startNode({ id, dataDir: dirs[i], peers })));
  const nodes = started.filter((s) => s.status === "fulfilled").map((s) => s.value);
  const failure = started.find((s) => s.status === "rejected");
  if (failure !== undefined) {
    await Promise.all(nodes.map((node) => node.stop()));
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    throw failure.reason;
  }
  return { nodes, dirs };
}

/** Picking a port and binding it are two steps: if another process took one in between, start again. */
async function startClusterWithRetries(attempts = 3) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startCluster();
    } catch (error) {
      const inUse = /EADDRINUSE/.test(String(error?.message));
      if (!inUse || attempt >= attempts) throw error;
    }
  }
}

const { nodes, dirs } = await startClusterWithRetries();
try {
  const leader = await nodes[0].waitForLeader(10_000);
  // Any member takes any request: a write on a follower is forwarded to the leader.
  const [writer, reader] = nodes;
  const { revision } = await writer.put("greeting", "hello from an embedded member");
  // Linearizable: before answering, the reader confirms with the leader (ReadIndex) that it has applied every
  // write acknowledged before the read began, so it cannot answer with an older value.
  const read = await reader.get("greeting");
  if (read === undefined) throw new Error("the value written was not read back");
  console.log(`leader: node ${leader}; node ${writer.id} wrote greeting at revision ${revision}`);
  console.log(`node ${reader.id} read greeting: ${read.text}`);
} finally {
  await Promise.all(nodes.map((node) => node.stop()));
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}
