/**
 * Every package in the lock file runs on the oldest Node that package.json's `engines` admits, so a fresh
 * `npm ci` there prints no EBADENGINE warning (cookie@2, pulled in by fastify → light-my-request, once wanted
 * Node 22; package.json overrides it with cookie 1.1.1, which has the same API).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

type Version = readonly [number, number, number];

function parseVersion(text: string): Version {
  const match = /^v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?$/.exec(text.trim());
  if (match === null) throw new Error(`Cannot read version "${text}"`);
  const part = (value: string | undefined): number =>
    value === undefined || value === "x" || value === "*" ? 0 : Number(value);
  return [Number(match[1]), part(match[2]), part(match[3])];
}

function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return 0;
}

/** Whether `version` satisfies an engines range of the forms the tree uses: ">=V", "^M", "M", "M.*", joined by "||". */
function satisfies(version: Version, range: string): boolean {
  return range.split("||").some((alternative) => {
    const text = alternative.trim();
    if (text.startsWith(">=")) return compare(version, parseVersion(text.slice(2))) >= 0;
    if (text.startsWith("^") || /^\d+(\.[x*])*$/.test(text)) {
      const wanted = parseVersion(text.replace(/^\^/, ""));
      return version[0] === wanted[0] && compare(version, wanted) >= 0;
    }
    throw new Error(`Cannot read engines range "${range}": extend this test`);
  });
}

test("the range reader admits and refuses what it should", () => {
  assert.equal(satisfies([20, 0, 0], ">=18"), true);
  assert.equal(satisfies([20, 0, 0], ">= 20.0.0"), true);
  assert.equal(satisfies([20, 0, 0], "^16 || ^18 || >=20"), true);
  assert.equal(satisfies([20, 0, 0], ">=22"), false);
  assert.equal(satisfies([20, 0, 0], "^18 || >=21"), false);
  assert.equal(satisfies([20, 0, 0], "6.* || 8.* || >= 10.*"), true);
  assert.equal(satisfies([20, 0, 0], "6.* || 8.*"), false);
  assert.equal(satisfies([8, 1, 0], "6.* || 8.*"), true);
  assert.throws(() => satisfies([20, 0, 0], "~20"), /extend this test/);
});

test("every locked package runs on the oldest Node package.json admits", () => {
  const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { engines: { node: string } };
  const floor = /^>=\s*(\S+)$/.exec(pkg.engines.node)?.[1];
  assert.ok(floor !== undefined, `engines.node is "${pkg.engines.node}": expected >=V`);
  const oldest = parseVersion(floor);
  const lock = JSON.parse(readFileSync("package-lock.json", "utf8")) as {
    packages: Record<string, { version?: string; engines?: { node?: string } }>;
  };
  const refusing = Object.entries(lock.packages)
    .filter(([path, entry]) => path !== "" && entry.engines?.node !== undefined)
    .filter(([, entry]) => !satisfies(oldest, entry.engines?.node as string))
    .map(([path, entry]) => `${path.replace(/^.*node_modules\//, "")}@${entry.version} wants ${entry.engines?.node}`);
  assert.deepEqual(refusing, []);
});
