import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type CommandEntry, commandFamily, NO_KEYS, subcommands } from "../../commands/redis/command-spec.js";
import { CommandTable, handlerProblems } from "../../commands/redis/command-table.js";
import { DATA_COMMAND_TABLE } from "../../commands/redis/table.js";
import { COMMAND_TABLE, isDataCommand } from "./command-table.js";

type Fn = () => string;
const command = commandFamily<Fn>("server");
const DOC = { summary: "s", since: "1.0.0", complexity: "O(1)", syntax: "" };
const answer: Fn = () => "ok";

/** Every entry the dispatcher can resolve to: commands without subcommands, and each subcommand. */
function leaves(entries: readonly CommandEntry<unknown>[]): CommandEntry<unknown>[] {
  return entries.flatMap((entry) => (entry.subcommands?.length ? entry.subcommands : [entry]));
}

describe("the full command table", () => {
  it("gives every command and every subcommand exactly one reachable handler", () => {
    assert.deepEqual(handlerProblems(COMMAND_TABLE.entries), []);
    for (const entry of leaves(COMMAND_TABLE.entries)) {
      assert.equal(typeof entry.handler, "function", entry.name);
    }
    for (const entry of COMMAND_TABLE.entries) {
      if (entry.subcommands?.length) assert.equal(entry.handler, undefined, `${entry.name}: container`);
    }
  });

  it("holds the data table and the server's own commands, and tells them apart", () => {
    const data = new Set<unknown>(DATA_COMMAND_TABLE.entries);
    for (const entry of DATA_COMMAND_TABLE.entries) assert.equal(COMMAND_TABLE.find(entry.name), entry);
    for (const entry of COMMAND_TABLE.entries) assert.equal(isDataCommand(entry), data.has(entry), entry.name);
    for (const name of ["ping", "client", "multi", "watch", "subscribe", "info", "config", "command", "readonly"]) {
      const entry = COMMAND_TABLE.find(name);
      assert.ok(entry !== undefined && !isDataCommand(entry), name);
    }
  });

  it("resolves a container and a subcommand to the subcommand's entry, which carries its handler", () => {
    const argv = ["CLIENT", "id"].map((text) => new TextEncoder().encode(text));
    const entry = COMMAND_TABLE.resolve(argv);
    assert.equal(entry.name, "client|id");
    assert.equal(typeof entry.handler, "function");
  });
});

describe("handlerProblems (the check the table is built under)", () => {
  it("finds nothing wrong with a sound table", () => {
    const table = [
      command("alpha", 1, [], NO_KEYS, DOC, answer),
      command("box", -2, [], NO_KEYS, DOC, subcommands(command("box|open", 2, [], NO_KEYS, DOC, answer))),
    ];
    assert.deepEqual(handlerProblems(table), []);
    assert.equal(new CommandTable(table).entries.length, 2);
  });

  it("reports a command without a handler, and the table refuses it", () => {
    const broken: CommandEntry<Fn>[] = [
      command("alpha", 1, [], NO_KEYS, DOC, answer),
      { ...command("beta", 1, [], NO_KEYS, DOC, answer), handler: undefined },
    ];
    assert.deepEqual(handlerProblems(broken), ["'beta' has no handler"]);
    assert.throws(() => new CommandTable(broken), /'beta' has no handler/);
  });

  it("reports a subcommand without a handler", () => {
    const open = { ...command("box|open", 2, [], NO_KEYS, DOC, answer), handler: undefined };
    const broken = [command("box", -2, [], NO_KEYS, DOC, subcommands<Fn>(open))];
    assert.deepEqual(handlerProblems(broken), ["'box|open' has no handler"]);
  });

  it("reports handlers no command reaches: a container's own, a misnamed subcommand's, a repeated name's", () => {
    const container = {
      ...command("box", -2, [], NO_KEYS, DOC, subcommands(command("box|open", 2, [], NO_KEYS, DOC, answer))),
      handler: answer,
    };
    const misnamed = command("crate", -2, [], NO_KEYS, DOC, subcommands(command("open", 2, [], NO_KEYS, DOC, answer)));
    const twice = [command("alpha", 1, [], NO_KEYS, DOC, answer), command("alpha", 2, [], NO_KEYS, DOC, answer)];
    assert.deepEqual(handlerProblems([container]), ["'box' has subcommands, so its own handler is never called"]);
    assert.deepEqual(handlerProblems([misnamed]), ["subcommand 'open' of 'crate' is not named 'crate|…'"]);
    assert.deepEqual(handlerProblems(twice), ["'alpha' is in the table twice"]);
  });
});
