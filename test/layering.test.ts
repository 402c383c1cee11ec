/**
 * The layering rules (.dependency-cruiser.cjs, run by `npm run lint`) hold on the real tree and catch an upward
 * import: a fixture tree outside src/ whose Raft core imports the node layer must fail the same check.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const depcruise = path.join(repo, "node_modules/.bin/depcruise");
const config = path.join(repo, ".dependency-cruiser.cjs");

function cruise(cwd: string): { status: number | null; output: string } {
  const run = spawnSync(depcruise, ["src", "--config", config], { cwd, encoding: "utf8" });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

function fixture(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-layers-"));
  const tsconfig = { compilerOptions: { module: "nodenext", moduleResolution: "nodenext", strict: true } };
  fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

describe("layering (dependency-cruiser)", () => {
  it("passes on the real tree", () => {
    const { status, output } = cruise(repo);
    assert.equal(status, 0, output);
  });

  it("fails on an upward import, a cycle, a node: built-in in the Raft core and an import of the test tree", () => {
    const cases: Array<[string, Record<string, string>]> = [
      [
        "no-raft-upward",
        {
          "src/node/host.ts": "export const n = 1;\n",
          "src/raft/core.ts": 'import { n } from "../node/host.js";\nexport const r = n;\n',
        },
      ],
      [
        "no-circular",
        {
          "src/lib/a.ts": 'import { b } from "./b.js";\nexport const a = () => b;\n',
          "src/lib/b.ts": 'import { a } from "./a.js";\nexport const b = () => a;\n',
        },
      ],
      ["raft-no-node-builtins", { "src/raft/io.ts": 'import fs from "node:fs";\nexport const f = fs;\n' }],
      [
        "src-not-to-harness",
        {
          "test/helper.ts": "export const h = 1;\n",
          "src/node/uses-test.ts": 'import { h } from "../../test/helper.js";\nexport const u = h;\n',
        },
      ],
    ];
    for (const [rule, files] of cases) {
      const dir = fixture(files);
      try {
        const { status, output } = cruise(dir);
        assert.notEqual(status, 0, `${rule}: the check passed\n${output}`);
        assert.match(output, new RegExp(rule), output);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
