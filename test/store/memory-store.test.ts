import { memoryCommandStore } from "../../src/node/command-store.js";
import { runStoreContract } from "./store.contract.js";

runStoreContract("MemoryStore", (options) => memoryCommandStore(options));
