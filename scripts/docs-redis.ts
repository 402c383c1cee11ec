// Rewrites the generated command table in docs/redis-compat.md from the command table (npm run docs:redis).
import { readFileSync, writeFileSync } from "node:fs";
import { updateCompatDocument } from "../src/commands/redis/compat-table.js";

const path = new URL("../../docs/redis-compat.md", import.meta.url);
writeFileSync(path, updateCompatDocument(readFileSync(path, "utf8")));
process.stdout.write("docs/redis-compat.md: command table updated\n");
