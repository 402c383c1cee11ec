import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { DataDirLock } from "./data-dir-lock.js";

const dir = (): string => mkdtempSync(join(tmpdir(), "shoal-lock-"));
const MODULE = fileURLToPath(new URL("./data-dir-lock.js", import.meta.url));

test("a second lock on a directory is refused with the directory and the holder's pid, until released", () => {
  const d = dir();
  const lock = DataDirLock.acquire(d);
  assert.throws(
    () => DataDirLock.acquire(d),
    (error: Error) => error.message.includes(d) && error.message.includes(`pid ${process.pid}`),
  );
  lock.release();
  DataDirLock.acquire(d).release();
});

/** A child process that takes the lock and then waits to be killed. */
function holder(d: string): Promise<{ kill: () => Promise<void>; pid: number }> {
  const script = `import { DataDirLock } from ${JSON.stringify(MODULE)}; DataDirLock.acquire(${JSON.stringify(d)}); console.log("locked"); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.stdout.on("data", () =>
      resolve({
        pid: child.pid as number,
        kill: () =>
          new Promise((done) => {
            child.once("exit", () => done());
            child.kill("SIGKILL");
          }),
      }),
    );
    child.once("exit", (code) => reject(new Error(`holder exited ${code}`)));
  });
}

test("another process's lock is refused; after its kill -9 the kernel has released it", async () => {
  const d = dir();
  const other = await holder(d);
  try {
    assert.throws(() => DataDirLock.acquire(d), new RegExp(`in use by another Shoal process \\(pid ${other.pid}\\)`));
  } finally {
    await other.kill();
  }
  DataDirLock.acquire(d).release();
});
