import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after } from "node:test";
import { runStoreContract } from "../store.contract.js";
import { LmdbStore } from "./lmdb-store.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-lmdb-contract-"));
let storeCount = 0;
after(() => fs.rmSync(root, { recursive: true, force: true }));

runStoreContract("LmdbStore", (options) => LmdbStore.open(path.join(root, `store-${++storeCount}`), options));
