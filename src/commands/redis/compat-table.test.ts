import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { renderCompatTable, updateCompatDocument } from "./compat-table.js";
import { COMMAND_TABLE } from "./table.js";

describe("docs/redis-compat.md", () => {
  it("shows the command table as the code has it (run `npm run docs:redis` after changing a command)", () => {
    const document = readFileSync(new URL("../../../../docs/redis-compat.md", import.meta.url), "utf8");
    assert.equal(updateCompatDocument(document), document);
  });

  it("lists every command, and a changed table changes the document", () => {
    const rendered = renderCompatTable();
    for (const spec of COMMAND_TABLE) assert.match(rendered, new RegExp(`\\| ${spec.name.toUpperCase()} \\|`));
    const first = COMMAND_TABLE[0];
    assert.ok(first !== undefined);
    const altered = [{ ...first, differences: "something else" }, ...COMMAND_TABLE.slice(1)];
    assert.notEqual(renderCompatTable(altered), rendered);
  });
});
