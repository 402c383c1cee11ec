/**
 * @module The simulator's options and command line. Every option that changes a run appears in the replay
 * command printed with a failure, so `npm run sim -- --seed N ...` reproduces it exactly.
 */
import { type CheckerName, SAFETY_CHECKERS } from "./checkers/violation.js";
import { findMutation, type MutationName } from "./mutation.js";
import { findNodeMutation, NODE_MUTATIONS, type NodeMutationName } from "./node/node-mutations.js";
import type { FaultMix } from "./seed-profile.js";

export type ScenarioName = "random" | "disruption";

/** `node` (default): the real node (RaftHost, WAL, store, codec) in virtual time, sim/node/. `core`: the Raft
 * core alone under the model host (sim-host.ts), synchronous and several times faster, with its own mutations. */
export type SimTier = "node" | "core";

export interface SimOptions {
  readonly tier: SimTier;
  /** A node-level mutation (sim/node/node-mutations.ts); implies the node tier. */
  readonly nodeMutation: NodeMutationName | undefined;
  /** The first seed, and how many consecutive seeds. */
  readonly start: number;
  readonly seeds: number;
  /** 3 or 5; undefined: odd seeds run 5 nodes and even seeds 3. */
  readonly nodes: number | undefined;
  /** Node tier: Raft groups per member, 1 to 3; undefined: drawn per seed. */
  readonly groups: number | undefined;
  /** Node tier: slot moves between the groups in every seed with 2 or 3 of them; undefined: in half (drawn). */
  readonly slotMoves?: boolean | undefined;
  /** Length of the safety phase. */
  readonly ticks: number;
  /** Bound on the liveness phase. */
  readonly livenessTicks: number;
  readonly mutation: MutationName | undefined;
  readonly scenario: ScenarioName | undefined;
  readonly mix: FaultMix;
  /** Lease-based ReadIndex (with CheckQuorum) instead of the heartbeat round. */
  readonly leaseReads: boolean;
  readonly checkers: readonly CheckerName[];
  /** One seed, with a trace of the run. */
  readonly verbose: boolean;
  readonly workers: number;
}

export const DEFAULT_TICKS = 3000;
export const DEFAULT_LIVENESS_TICKS = 2000;

/** The node tier's safety phase: 800 ticks of 10 virtual ms. */
export const NODE_DEFAULT_TICKS = 800;

export const DEFAULT_OPTIONS: SimOptions = {
  tier: "node",
  nodeMutation: undefined,
  start: 1,
  seeds: 200,
  nodes: undefined,
  groups: undefined,
  ticks: DEFAULT_TICKS,
  livenessTicks: DEFAULT_LIVENESS_TICKS,
  mutation: undefined,
  scenario: undefined,
  mix: "default",
  leaseReads: false,
  checkers: SAFETY_CHECKERS,
  verbose: false,
  workers: 2,
};

export function nodeCountFor(options: Pick<SimOptions, "nodes">, seed: number): number {
  return options.nodes ?? (seed % 2 === 1 ? 5 : 3);
}

/** The command that replays `seed` with these options. */
export function replayCommand(options: SimOptions, seed: number): string {
  const parts = ["npm run sim -- --seed", String(seed)];
  if (options.nodes !== undefined) parts.push("--nodes", String(options.nodes));
  if (options.groups !== undefined) parts.push("--groups", String(options.groups));
  if (options.slotMoves === true) parts.push("--slot-moves");
  if (options.ticks !== DEFAULT_TICKS) parts.push("--ticks", String(options.ticks));
  if (options.livenessTicks !== DEFAULT_LIVENESS_TICKS) parts.push("--liveness-ticks", String(options.livenessTicks));
  if (options.tier === "core" && options.mutation === undefined && options.scenario === undefined) parts.push("--core");
  if (options.mutation !== undefined) parts.push("--unsafe", options.mutation);
  if (options.nodeMutation !== undefined) parts.push("--unsafe", options.nodeMutation);
  if (options.scenario !== undefined) parts.push("--scenario", options.scenario);
  if (options.mix !== "default") parts.push("--mix", options.mix);
  if (options.leaseReads) parts.push("--lease-reads");
  if (options.checkers.join(",") !== SAFETY_CHECKERS.join(",")) parts.push("--checkers", options.checkers.join(","));
  return parts.join(" ");
}

export const USAGE = `Usage: npm run sim -- [options]
  --seeds N            run N seeds (default 200)
  --start S            first seed (default 1)
  --seed S             run the one seed S with a trace
  --nodes 3|5          cluster size (default: 5 for odd seeds, 3 for even)
  --groups 1|2|3       node tier: Raft groups (shards) each member hosts (default: drawn per seed, 1 in half)
  --slot-moves         node tier: move hash slots between the groups in every seed with 2 or 3 of them
                       (default: in half of those)
  --ticks T            safety-phase ticks (default ${DEFAULT_TICKS})
  --liveness-ticks T   bound on the liveness phase (default ${DEFAULT_LIVENESS_TICKS})
  --core               run the Raft core under the model host instead of the real node
  --unsafe NAME        switch a safety mechanism off. Node tier: ${NODE_MUTATIONS.map((m) => m.name).join(", ")}.
                       Core tier: commit-prior-term, vote-not-persisted, no-prevote-checkquorum,
                       vote-without-log-check, skip-append-check, local-reads, ack-before-persist,
                       move-promote-early, move-remove-into-minority
  --scenario NAME      random (default) or disruption
  --mix NAME           fault mix: default, or churn (leader churn, small messages)
  --lease-reads        lease-based reads (readOnlyOption leaseBased, CheckQuorum on)
  --checkers A,B       only these checkers (default: all safety checkers)
  --workers W          worker threads (default 2)`;

export function parseArgs(argv: readonly string[]): SimOptions {
  let options: SimOptions = DEFAULT_OPTIONS;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes("=") ? (arg.split("=", 2) as [string, string]) : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new RangeError(`Missing value for ${flag}`);
      return v;
    };
    options = applyFlag(options, flag, value);
  }
  return options;
}

function applyFlag(options: SimOptions, flag: string, value: () => string): SimOptions {
  switch (flag) {
    case "--seeds":
      return { ...options, seeds: positiveInt(flag, value()) };
    case "--start":
      return { ...options, start: nonNegativeInt(flag, value()) };
    case "--seed":
      return { ...options, start: nonNegativeInt(flag, value()), seeds: 1, verbose: true };
    case "--nodes": {
      const nodes = positiveInt(flag, value());
      if (nodes !== 3 && nodes !== 5) throw new RangeError("--nodes must be 3 or 5");
      return { ...options, nodes };
    }
    case "--groups": {
      const groups = positiveInt(flag, value());
      if (groups > 3) throw new RangeError("--groups must be 1, 2 or 3");
      return { ...options, tier: "node", groups };
    }
    case "--slot-moves":
      return { ...options, tier: "node", slotMoves: true };
    case "--ticks":
      return { ...options, ticks: positiveInt(flag, value()) };
    case "--liveness-ticks":
      return { ...options, livenessTicks: positiveInt(flag, value()) };
    case "--unsafe": {
      const name = value();
      const nodeMutation = findNodeMutation(name);
      if (nodeMutation !== undefined) return { ...options, tier: "node", nodeMutation: nodeMutation.name };
      try {
        return { ...options, tier: "core", mutation: findMutation(name).name };
      } catch {
        throw new RangeError(
          `Unknown mutation ${name}; node tier: ${NODE_MUTATIONS.map((m) => m.name).join(", ")}; core tier: ` +
            "commit-prior-term, vote-not-persisted, no-prevote-checkquorum, vote-without-log-check, " +
            "skip-append-check, local-reads, ack-before-persist",
        );
      }
    }
    case "--core":
      return { ...options, tier: "core" };
    case "--scenario":
      return { ...options, tier: "core", scenario: scenarioName(value()) };
    case "--mix": {
      const mix = value();
      if (mix !== "default" && mix !== "churn") throw new RangeError(`Unknown fault mix ${mix}`);
      return { ...options, tier: "core", mix };
    }
    case "--checkers":
      return { ...options, checkers: checkerNames(value()) };
    case "--workers":
      return { ...options, workers: positiveInt(flag, value()) };
    case "--lease-reads":
      return { ...options, tier: "core", leaseReads: true };
    case "--quiet":
      return { ...options, verbose: false };
    default:
      throw new RangeError(`Unknown option ${flag}\n${USAGE}`);
  }
}

function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!(Number.isSafeInteger(n) && n > 0)) throw new RangeError(`${flag} needs a positive integer, got ${text}`);
  return n;
}

function nonNegativeInt(flag: string, text: string): number {
  const n = Number(text);
  if (!(Number.isSafeInteger(n) && n >= 0 && n < 2 ** 32)) throw new RangeError(`${flag} needs a seed in [0, 2^32)`);
  return n;
}

function scenarioName(text: string): ScenarioName {
  if (text !== "random" && text !== "disruption") throw new RangeError(`Unknown scenario ${text}`);
  return text;
}

function checkerNames(text: string): CheckerName[] {
  const names = text.split(",").filter((name) => name.length > 0);
  for (const name of names) {
    if (!(SAFETY_CHECKERS as readonly string[]).includes(name)) throw new RangeError(`Unknown checker ${name}`);
  }
  return names as CheckerName[];
}

/** The defaults with the core tier (the model host): its tests and mutation tests. */
export const CORE_OPTIONS: SimOptions = { ...DEFAULT_OPTIONS, tier: "core" };
