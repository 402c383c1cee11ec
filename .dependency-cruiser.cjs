/**
 * The layering of docs/architecture.md ("Layers"), checked by `npm run lint` (dependency-cruiser). A layer imports
 * only the layers below it:
 *
 *   lib → io → raft → wal | store | slots | commands | transport → node → resp | http | client → member → cli
 *
 * (`member` starts a node with its front ends: what `shoal start` and the embedded API share. `src/index.ts`, the
 * package's entry point, sits above all of them and nothing under src/ imports it.)
 * (`io` holds interfaces plus their real implementations in io/node; `commands` sits on `store`'s record shapes;
 * nothing under src/ imports sim/, test/ or bench/.) A rule names what a layer must NOT import.
 */
const layer = (name) => `^src/${name}/`;
const anyOf = (...names) => `^src/(${names.join("|")})/`;

const upward = (from, forbidden, comment) => ({
  name: `no-${from}-upward`,
  comment,
  severity: "error",
  from: { path: layer(from) },
  to: { path: anyOf(...forbidden) },
});

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "An import cycle makes the layers meaningless and module initialisation order-dependent.",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "src-not-to-harness",
      comment: "Production code never imports the simulator, the tests or the benchmarks.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(sim|test|bench)/" },
    },
    upward("lib", ["io", "raft", "wal", "store", "commands", "transport", "node", "resp", "http", "client", "member", "cli"], "lib imports nothing of ours."),
    upward("io", ["raft", "wal", "store", "commands", "transport", "node", "resp", "http", "client", "member", "cli"], "io is interfaces and their real implementations: only lib below it."),
    upward("raft", ["io", "wal", "store", "commands", "transport", "node", "resp", "http", "client", "member", "cli"], "The Raft core is pure: lib only."),
    upward("wal", ["store", "commands", "transport", "node", "resp", "http", "client", "member", "cli"], "The WAL sits on lib, io and raft's types."),
    upward("store", ["commands", "transport", "wal", "node", "resp", "http", "client", "member", "cli"], "The store knows nothing of commands (it applies entries through an injected EntryApplier)."),
    upward("slots", ["io", "raft", "wal", "store", "commands", "transport", "node", "resp", "http", "client", "member", "cli"], "Hash slots are pure: lib only."),
    upward("commands", ["transport", "wal", "node", "resp", "http", "client", "member", "cli"], "Command semantics are pure: lib, raft types and the store's record shapes."),
    upward("transport", ["store", "commands", "wal", "node", "resp", "http", "client", "member", "cli"], "The transport frames Raft messages and requests: lib, io, raft types."),
    upward("node", ["resp", "http", "client", "member", "cli"], "node joins the layers below it; the front ends sit on it."),
    upward("resp", ["http", "client", "member", "cli"], "The RESP server is a front end: nothing beside or above it."),
    upward("http", ["resp", "client", "member", "cli"], "The HTTP server is a front end: nothing beside or above it."),
    upward("client", ["node", "resp", "store", "wal", "raft", "transport", "member", "cli"], "The client library talks over the network; it never reaches into a node."),
    upward("member", ["cli"], "A member is started by the CLI or the embedded API, never the other way round."),
    {
      name: "no-entry-point-import",
      comment: "src/index.ts is the package's public entry: code inside the package imports the module it needs.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^src/index\\.ts$" },
    },
    {
      name: "raft-no-node-builtins",
      comment: "The Raft core does no I/O: no node: built-ins.",
      severity: "error",
      from: { path: "^src/raft/", pathNot: "\\.test\\.ts$" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "lmdb-only-in-store-lmdb",
      comment: "store/lmdb is the only importer of lmdb.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/store/lmdb/" },
      to: { path: "node_modules/lmdb/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    parser: "swc",
    exclude: { path: "^dist/" },
  },
};
