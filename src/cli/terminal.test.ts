import assert from "node:assert/strict";
import { test } from "node:test";
import { colourEnabled, formatMs, makeStyle, renderTable, stripColour, visibleWidth } from "./terminal.js";

test("colour only on a TTY and only without NO_COLOR", () => {
  assert.equal(colourEnabled({ isTTY: true }, {}), true);
  assert.equal(colourEnabled({ isTTY: true }, { NO_COLOR: "1" }), false);
  assert.equal(
    colourEnabled({ isTTY: true }, { NO_COLOR: "" }),
    true,
    "an empty NO_COLOR does not count (no-color.org)",
  );
  assert.equal(colourEnabled({ isTTY: false }, {}), false);
  assert.equal(colourEnabled({}, {}), false);
  assert.equal(makeStyle(false).red("x"), "x");
  assert.equal(makeStyle(true).red("x"), "\x1b[31mx\x1b[39m");
});

test("tables align by visible width, numbers to the right", () => {
  const style = makeStyle(true);
  const table = renderTable(
    ["ID", "ROLE", "N"],
    [
      ["1", style.green("leader"), "7"],
      ["22", "follower", "123"],
    ],
    new Set([2]),
    style,
  );
  const lines = table.split("\n").map(stripColour);
  assert.deepEqual(lines, ["ID  ROLE        N", "1   leader      7", "22  follower  123", ""]);
  assert.equal(visibleWidth(style.bold("abc")), 3);
});

test("formatMs keeps about three significant digits", () => {
  assert.deepEqual([0.01234, 0.456, 1.234, 12.34, 123.4].map(formatMs), ["0.012", "0.46", "1.23", "12.3", "123"]);
});
