import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_OPTIONS, parseArgs, replayCommand } from "./sim-options.js";

test("defaults: 200 seeds from 1, mixed cluster sizes, all safety checkers", () => {
  const options = parseArgs([]);
  assert.equal(options.seeds, 200);
  assert.equal(options.start, 1);
  assert.equal(options.nodes, undefined);
  assert.deepEqual(options.checkers, DEFAULT_OPTIONS.checkers);
});

test("the replay command parses back to the options that produced it", () => {
  const options = parseArgs([
    "--seeds",
    "50",
    "--nodes",
    "5",
    "--ticks",
    "4000",
    "--unsafe",
    "skip-append-check",
    "--mix",
    "churn",
  ]);
  const command = replayCommand(options, 17);
  assert.equal(command, "npm run sim -- --seed 17 --nodes 5 --ticks 4000 --unsafe skip-append-check --mix churn");
  const replayed = parseArgs(command.split(" ").slice(4)); // after "npm run sim --"
  assert.deepEqual({ ...replayed, seeds: options.seeds, start: options.start, verbose: false }, options);
  assert.equal(replayed.start, 17);
  assert.equal(replayed.verbose, true);
});

test("bad flags are refused with a message", () => {
  assert.throws(() => parseArgs(["--nodes", "4"]), /3 or 5/);
  assert.throws(() => parseArgs(["--unsafe", "nope"]), /Unknown mutation/);
  assert.throws(() => parseArgs(["--frobnicate"]), /Unknown option/);
  assert.throws(() => parseArgs(["--seeds"]), /Missing value/);
});
