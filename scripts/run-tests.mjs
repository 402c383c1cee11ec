#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's test runner. Node 20's runner has no glob
// support, so the files are listed here. `--only unit` skips the end-to-end tests under test/.
import { spawnSync } from "node:child_process";
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
const result = spawnSync(process.execPath, ["--test", "--test-concurrency=2", ...files], { stdio: "inherit" });
process.exit(result.status ?? 1);
