import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { renderCompatTable, updateCompatDocument } from "../../commands/redis/compat-table.js";
import { COMMAND_TABLE } from "./command-table.js";

describe("docs/redis-compat.md", () => {
  const table = COMMAND_TABLE.entries;

  it("shows the command table as the code has it (run `npm run docs:redis` after changing a command)", () => {
    const document = readFileSync(new URL("../../../../docs/redis-compat.md", import.meta.url), "utf8");
    assert.equal(updateCompatDocument(document, table), document);
  });

  it("lists every command, and a changed table changes the document", () => {
    const rendered = renderCompatTable(table);
    for (const spec of table) assert.match(rendered, new RegExp(`\\| ${spec.name.toUpperCase()} \\|`));
    const first = table[0];
    assert.ok(first !== undefined);
    const altered = [{ ...first, differences: "something else" }, ...table.slice(1)];
    assert.notEqual(renderCompatTable(altered), rendered);
  });
});
