#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's test runner. Node 20's runner has no glob
// support, so the files are listed here. `--only unit` skips the end-to-end tests under test/.
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
const onlyUnit = args.includes("--only") && args[args.indexOf("--only") + 1] === "unit";
const filters = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--only");

function find(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith(".test.js")) out.push(path);
  }
  return out;
}

let files = find("dist", []).sort();
if (onlyUnit) files = files.filter((f) => !f.startsWith(join("dist", "test")));
if (filters.length > 0) files = files.filter((f) => filters.some((filter) => f.includes(filter)));
if (files.length === 0) {
  console.error("No test files found under dist/ (did the build run?)");
  process.exit(1);
}
// While the tests run, npm start's default ports are held here: a test that binds one fails at once, and one that
// connects to one is named below and fails the run (test/support/default-port-guard.ts).
const { DefaultPortGuard, defaultPorts } = await import("../dist/test/support/default-port-guard.js");
const guard = await DefaultPortGuard.hold(defaultPorts());
const child = spawn(process.execPath, ["--test", "--test-concurrency=2", ...files], { stdio: "inherit" });
const status = await new Promise((done) => child.once("exit", (code) => done(code ?? 1)));
await guard.release();
const dialed = guard.report();
for (const line of dialed) console.error(`default-port guard: ${line}`);
process.exit(status !== 0 ? status : dialed.length > 0 ? 1 : 0);
