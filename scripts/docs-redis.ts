// Rewrites the generated command table in docs/redis-compat.md from the command table (npm run docs:redis).
import { readFileSync, writeFileSync } from "node:fs";
import { updateCompatDocument } from "../src/commands/redis/compat-table.js";
import { COMMAND_TABLE } from "../src/resp/server/command-table.js";

const path = new URL("../../docs/redis-compat.md", import.meta.url);
writeFileSync(path, updateCompatDocument(readFileSync(path, "utf8"), COMMAND_TABLE.entries));
process.stdout.write("docs/redis-compat.md: command table updated\n");
