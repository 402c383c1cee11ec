/**
 * @module One chaos run, start to verdict:
 * 1. start the cluster behind the fault proxy and wait for a leader; the workload's setup;
 * 2. for `--time` seconds, the clients run operations (each bound to one node) while the nemesis injects faults;
 * 3. stop the clients (each finishes its operation), stop the nemesis, heal everything (resume, restart, heal
 *    the network), wait until the slot moves the nemesis asked for are done, and wait until every node agrees on
 *    the leader and the applied index;
 * 4. the final reads, through every node; stop the cluster;
 * 5. check the history; write summary.json; print the report with the verdict as the very last line.
 *
 * Exit codes: 0 valid; 1 a violation was found; 2 the run could not be judged (harness error, a node exiting on
 * its own, the cluster not converging after the heal — slot moves included —, or a search that gave up).
 */
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Prng } from "../../src/lib/prng.js";
import { hashSlot } from "../../src/slots/hash-slot.js";
import { ChaosCluster, sleep } from "./chaos-cluster.js";
import { type ChaosOptions, replayCommand } from "./chaos-options.js";
import { type HistoryOp, HistoryRecorder } from "./history.js";
import { Nemesis } from "./nemesis.js";
import { NodeClient } from "./node-client.js";
import type { ClientContext, Verdict, Workload, WorkloadContext } from "./workload.js";
import { BankWorkload } from "./workloads/bank-workload.js";
import { RedisRegisterWorkload } from "./workloads/redis-register-workload.js";
import { RegisterWorkload } from "./workloads/register-workload.js";
import { SetWorkload } from "./workloads/set-workload.js";

const LEADER_TIMEOUT_MS = 30_000;
const CONVERGE_TIMEOUT_MS = 60_000;
/** After a definite failure (503, refused) a client waits a little: the node is down or leaderless. */
const FAIL_PAUSE_MS = 100;

export interface ChaosResult {
  readonly exitCode: number;
  readonly verdict: Verdict | undefined;
}

export function makeWorkload(options: ChaosOptions): Workload {
  switch (options.workload) {
    case "register":
      return new RegisterWorkload({
        keys: options.keys,
        opsPerKey: options.opsPerKey,
        readShare: options.readShare ?? 0.5,
      });
    case "redis-register":
      return new RedisRegisterWorkload({
        keys: options.keys,
        opsPerKey: options.opsPerKey,
        readShare: options.readShare ?? 0.5,
      });
    case "set":
      return new SetWorkload({ keys: options.keys, readShare: options.readShare ?? 0.1, attemptsMax: 10 });
    case "bank":
      return new BankWorkload({
        accounts: options.keys,
        initialBalance: 100,
        readShare: options.readShare ?? 0.3,
        transferMax: 5,
      });
  }
}

export async function runChaos(options: ChaosOptions, print: (line: string) => void): Promise<ChaosResult> {
  const dir = resolve(options.resultsDir);
  mkdirSync(dir, { recursive: true });
  const nemesisLog = join(dir, "nemesis.log");
  writeFileSync(nemesisLog, "");
  const recorder = new HistoryRecorder(join(dir, "history.jsonl"));
  const workload = makeWorkload(options);
  const summary: Record<string, unknown> = {
    options,
    replay: replayCommand(options),
    startedAt: new Date().toISOString(),
  };
  print(
    `chaos: workload ${options.workload}, nemesis ${options.nemesis.join(",") || "none"}, ${options.timeS} s, ` +
      `${options.nodes} nodes, ${options.clients} clients, seed ${options.seed}${options.unsafe ? `, UNSAFE ${options.unsafe}` : ""}`,
  );
  print(`results: ${dir}`);
  print(`replay: ${summary.replay}`);

  let cluster: ChaosCluster | undefined;
  let verdict: Verdict | undefined;
  let exitCode = 2;
  try {
    cluster = await ChaosCluster.start({
      nodes: options.nodes,
      dir,
      ...(options.unsafe === undefined ? {} : { unsafe: options.unsafe }),
      nodeArgs: [...(options.shards === 1 ? [] : ["--shards", String(options.shards)]), ...options.nodeArgs],
    });
    const context: WorkloadContext = { cluster, recorder, opTimeoutMs: options.opTimeoutMs };
    print(`cluster up: ${options.nodes} nodes behind the fault proxy, leader ${await waitForLeader(cluster)}`);
    await workload.setup(context);
    const nemesis = await runLoad(options, context, workload, (line) => appendFileSync(nemesisLog, `${line}\n`));
    print(`load done: ${countOps(recorder.ops)}; ${nemesis.faults} faults`);
    const membership = nemesis.membershipSummary();
    if (membership !== undefined) print(`membership: ${membership}`);
    await nemesis.healAll();
    // The slot moves still under way finish once every node is back (a move never stops halfway).
    const slots = await nemesis.slots?.settle(CONVERGE_TIMEOUT_MS);
    if (slots !== undefined) {
      print(
        slots.settled
          ? "slot moves: every move done"
          : `slot moves: ${slots.moving < 0 ? "no node answered" : `${slots.moving} slots still moving`} ${CONVERGE_TIMEOUT_MS / 1000} s after the heal`,
      );
    }
    const converged = (await cluster.waitConverged(CONVERGE_TIMEOUT_MS)) && slots?.settled !== false;
    print(
      converged
        ? "healed: every node agrees on the leader and the applied index"
        : "healed, but the cluster did NOT converge",
    );
    await workload.finalReads(context);
    const exits = cluster.unexpectedExits;
    await cluster.stop();
    cluster = undefined;
    Object.assign(summary, {
      converged,
      unexpectedExits: exits,
      ...(membership === undefined
        ? {}
        : {
            membership: { replicaMoves: nemesis.replicaMoves, ...(nemesis.slots?.counts ?? {}), slotsSettled: slots },
          }),
    });

    verdict = workload.check(recorder.ops);
    Object.assign(summary, { check: verdict.details, valid: verdict.valid });
    exitCode = verdict.valid === true ? 0 : verdict.valid === false ? 1 : 2;
    for (const exit of exits) {
      print(
        `node ${exit.id} exited on its own (code ${exit.code}, signal ${exit.signal}): see nodes/node-${exit.id}.stderr`,
      );
    }
    if (!converged) print("the cluster did not converge after the heal: see nemesis.log and nodes/");
    if (exitCode === 0 && (exits.length > 0 || !converged)) exitCode = 2;
  } catch (error) {
    print(`chaos: harness error: ${(error as Error).stack ?? error}`);
    summary.error = (error as Error).message;
  } finally {
    if (cluster !== undefined) await cluster.stop().catch(() => undefined);
    recorder.close();
  }
  Object.assign(summary, { exitCode, operations: countOps(recorder.ops), finishedAt: new Date().toISOString() });
  writeFileSync(join(dir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  if (exitCode === 0 && !options.keepData) rmSync(join(dir, "data"), { recursive: true, force: true });
  for (const line of verdict?.lines ?? []) print(line);
  print(verdict?.lastLine ?? `${verdictName(options)}: unknown`);
  return { exitCode, verdict };
}

/** The clients run for `--time` seconds while the nemesis injects faults; returns the stopped nemesis (the faults
 * it left in place are undone by `healAll`). */
async function runLoad(
  options: ChaosOptions,
  context: WorkloadContext,
  workload: Workload,
  log: (line: string) => void,
): Promise<Nemesis> {
  const { cluster, recorder } = context;
  const random = new Prng(options.seed);
  const nemesis = new Nemesis(
    cluster,
    recorder,
    new Prng(random.nextUint32()),
    {
      kinds: options.nemesis,
      shapes: options.shapes,
      faultMs: options.faultMs,
      quietMs: options.quietMs,
      concurrency: options.faultsAtOnce,
      shards: options.shards,
      hotSlots: () => [...new Set((workload.hotKeys?.() ?? []).map((key) => hashSlot(Buffer.from(key))))],
    },
    log,
  );
  const clients = makeClients(cluster, options, recorder, random);
  const stopAtNs = recorder.nowNs() + options.timeS * 1e9;
  const nemesisDone = nemesis.run();
  await Promise.all(clients.map((client) => clientLoop(workload, client, () => recorder.nowNs() >= stopAtNs)));
  nemesis.stop();
  await nemesisDone;
  for (const client of clients) client.http.close();
  return nemesis;
}

function makeClients(
  cluster: ChaosCluster,
  options: ChaosOptions,
  recorder: HistoryRecorder,
  random: Prng,
): ClientContext[] {
  return Array.from({ length: options.clients }, (_, i) => {
    const node = cluster.ids[i % cluster.ids.length]!;
    return {
      id: i,
      http: new NodeClient(node, cluster.httpPort(node), options.opTimeoutMs),
      random: new Prng(random.nextUint32()),
      recorder,
    };
  });
}

async function clientLoop(workload: Workload, client: ClientContext, done: () => boolean): Promise<void> {
  while (!done()) {
    const op = await workload.step(client);
    if (op.outcome === "fail" && op.error !== "compare failed") await sleep(FAIL_PAUSE_MS);
  }
}

async function waitForLeader(cluster: ChaosCluster): Promise<number> {
  const deadline = Date.now() + LEADER_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const leader = await cluster.leader();
    if (leader !== undefined) return leader;
    await sleep(100);
  }
  throw new Error(`No leader within ${LEADER_TIMEOUT_MS} ms`);
}

function countOps(history: readonly HistoryOp[]): string {
  const ops = history.filter((op) => op.client !== "nemesis");
  const by = (outcome: string) => ops.filter((op) => op.outcome === outcome).length;
  return `${ops.length} operations (${by("ok")} ok, ${by("fail")} failed, ${by("info")} indeterminate)`;
}

function verdictName(options: ChaosOptions): string {
  switch (options.workload) {
    case "register":
    case "redis-register":
      return "linearizable";
    case "set":
      return "lost";
    case "bank":
      return "total conserved";
  }
}
