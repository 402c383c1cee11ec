/**
 * @module The register workload through the Redis front end: the same registers, values and checker as
 * register-workload.ts, but every client speaks RESP to its node (SET, GET, and a compare-and-set built from
 * WATCH/MULTI/EXEC), so the linearizability check covers the RESP path: the command table, the redis log entries,
 * readRedis's ReadIndex barrier and EXEC's watch check.
 *
 * Replies and their outcomes (history.ts):
 * - SET: `+OK` ok; `-TRYAGAIN …` (no leader, or the key's slot is being moved between shards), `-ASK`, `-MOVED`,
 *   `-CLUSTERDOWN`: fail (the node says nothing was applied); any other error (`-UNCERTAIN`, `-ERR … timed out`),
 *   a timeout or a lost connection: indeterminate; a connection that could not be made: fail.
 * - GET: a bulk or nil is an ok read; anything else fails (a read changes nothing, so it is simply dropped).
 * - CAS from `expected` (the value this client last saw) to a fresh value: WATCH k, GET k; if GET does not answer
 *   `expected`, UNWATCH and the CAS failed ("compare failed": there was a moment in its span when k held another
 *   value); otherwise MULTI, SET k new, EXEC (pipelined). EXEC answering an array means the SET applied while k
 *   still held the value GET saw (no write to k between WATCH and EXEC's apply): ok. EXEC answering nil means k
 *   was written after WATCH — or that k's slot moved to another shard meanwhile, which changes nothing of k — so
 *   a GET follows: another value than `expected` proves k held something else within the op's span ("compare
 *   failed"); `expected` (values are unique: k held it over one unbroken stretch, from before WATCH until that
 *   GET) makes it a plain failure, left out by the checker. An error before EXEC was sent: fail; EXEC answering
 *   `-TRYAGAIN`, `-ASK`, `-MOVED`, `-CLUSTERDOWN` or `-EXECABORT`: fail (nothing was done); any other error
 *   (`-UNCERTAIN`, `-ERR … timed out`), a timeout or a lost connection after EXEC: indeterminate.
 */
import type { Completion, HistoryOp } from "../history.js";
import { describeReply, RespClient, RespFailure, type RespValue } from "../resp-client.js";
import { type ClientContext, finalRead, type Verdict, type Workload, type WorkloadContext } from "../workload.js";
import { RegisterKeys } from "./register-keys.js";
import { RegisterWorkload, type RegisterWorkloadOptions } from "./register-workload.js";

export class RedisRegisterWorkload implements Workload {
  readonly name = "redis-register";
  readonly #options: RegisterWorkloadOptions;
  /** The HTTP register workload, for its checker and report only (the histories have the same shape). */
  readonly #report: RegisterWorkload;
  readonly #keys: RegisterKeys;
  readonly #sequence = new Map<number, number>();
  /** Per client: its RESP connection to its node. */
  readonly #connections = new Map<number, RespClient>();
  #context: WorkloadContext | undefined;

  constructor(options: RegisterWorkloadOptions) {
    this.#options = options;
    this.#report = new RegisterWorkload(options);
    this.#keys = new RegisterKeys(options.keys, options.opsPerKey);
  }

  async setup(context: WorkloadContext): Promise<void> {
    this.#context = context;
  }

  step(client: ClientContext): Promise<HistoryOp> {
    const connection = this.#connection(client);
    const key = this.#keys.next(client.random.int(this.#keys.slotCount));
    const seen = this.#keys.seenBy(client.id);
    const last = seen.get(key);
    const roll = client.random.next();
    const node = connection.node;
    if (roll < this.#options.readShare) {
      return client.recorder.run({ client: client.id, node, op: "read", key }, async () => {
        const completion = await read(connection, key);
        if (completion.outcome === "ok" && typeof completion.value === "string") seen.set(key, completion.value);
        return completion;
      });
    }
    const sequence = (this.#sequence.get(client.id) ?? 0) + 1;
    this.#sequence.set(client.id, sequence);
    const value = `${client.id}.${sequence}`;
    if (last === undefined || roll < this.#options.readShare + (1 - this.#options.readShare) / 2) {
      return client.recorder.run({ client: client.id, node, op: "write", key, value }, async () => {
        const completion = await write(connection, key, value);
        if (completion.outcome === "ok") seen.set(key, value);
        return completion;
      });
    }
    return client.recorder.run({ client: client.id, node, op: "cas", key, value, expected: last }, async () => {
      const { completion, observed } = await compareAndSet(connection, key, last, value);
      if (completion.outcome === "ok") seen.set(key, value);
      else if (typeof observed === "string") seen.set(key, observed);
      else if (completion.error === "compare failed") seen.delete(key);
      return completion;
    });
  }

  hotKeys(): readonly string[] {
    return this.#keys.hotKeys();
  }

  async finalReads(context: WorkloadContext): Promise<void> {
    for (const connection of this.#connections.values()) connection.close();
    this.#connections.clear();
    await Promise.all(
      context.cluster.ids.map(async (id) => {
        const connection = new RespClient(id, context.cluster.respPort(id), context.opTimeoutMs);
        for (const key of [...this.#keys.used].sort()) {
          await finalRead(() =>
            context.recorder.run({ client: "final", node: id, op: "read", key }, () => read(connection, key)),
          );
        }
        connection.close();
      }),
    );
  }

  check(history: readonly HistoryOp[]): Verdict {
    const verdict = this.#report.check(history);
    return { ...verdict, lines: verdict.lines.map((line) => line.replace(/^register: /, "redis-register: ")) };
  }

  #connection(client: ClientContext): RespClient {
    let connection = this.#connections.get(client.id);
    if (connection === undefined) {
      const context = this.#context;
      if (context === undefined) throw new Error("redis-register: step before setup");
      const node = client.http.node;
      connection = new RespClient(node, context.cluster.respPort(node), context.opTimeoutMs);
      this.#connections.set(client.id, connection);
    }
    return connection;
  }
}

/** Errors that say nothing was done: Redis Cluster's "not now" (TRYAGAIN: no leader or quorum, leadership lost
 * before the entry committed, or the key's slot being moved between shards), its redirects (ASK, MOVED: another
 * shard holds the slot) and CLUSTERDOWN (the shard has no quorum: refused before it was sent), and EXECABORT.
 * Anything else — UNCERTAIN (the leader went away after taking the write), ERR … timed out — may have applied. */
function certainlyNotApplied(reply: RespValue): boolean {
  return reply.type === "error" && /^(TRYAGAIN|ASK|MOVED|CLUSTERDOWN|EXECABORT)\b/.test(reply.message);
}

function noReply(error: unknown): Completion {
  if (error instanceof RespFailure) return { outcome: error.definite ? "fail" : "info", error: error.message };
  return { outcome: "info", error: (error as Error).message };
}

async function read(connection: RespClient, key: string): Promise<Completion> {
  try {
    const reply = await connection.command(["GET", key]);
    if (reply.type === "bulk") return { outcome: "ok", value: reply.value };
    return { outcome: "fail", error: describeReply(reply) };
  } catch (error) {
    // A read that got no reply changed nothing: whatever happened, it is dropped from the history.
    return { outcome: "fail", error: (error as Error).message };
  }
}

async function write(connection: RespClient, key: string, value: string): Promise<Completion> {
  try {
    const reply = await connection.command(["SET", key, value]);
    if (reply.type === "simple" && reply.value === "OK") return { outcome: "ok" };
    return { outcome: certainlyNotApplied(reply) ? "fail" : "info", error: describeReply(reply) };
  } catch (error) {
    return noReply(error);
  }
}

/** WATCH, GET, then MULTI/SET/EXEC when GET saw `expected` (see the module comment). `observed` is the value GET
 * answered, when it answered one. */
async function compareAndSet(
  connection: RespClient,
  key: string,
  expected: string,
  value: string,
): Promise<{ completion: Completion; observed?: string | null }> {
  // Before EXEC is sent nothing can apply: any trouble is a certain failure. The connection is dropped so that
  // no WATCH or half-built MULTI outlives the operation.
  let observed: string | null;
  let session: number | undefined;
  try {
    const watched = await connection.command(["WATCH", key]);
    if (watched.type !== "simple") return abandon(connection, `WATCH: ${describeReply(watched)}`);
    session = connection.session;
    const got = await connection.command(["GET", key]);
    if (got.type !== "bulk") return abandon(connection, `GET: ${describeReply(got)}`);
    observed = got.value;
    if (observed !== expected) {
      const unwatched = await connection.command(["UNWATCH"]);
      if (unwatched.type !== "simple") connection.reset();
      return { completion: { outcome: "fail", error: "compare failed" }, observed };
    }
  } catch (error) {
    connection.reset();
    return { completion: { outcome: "fail", error: `before EXEC: ${(error as Error).message}` } };
  }
  try {
    const [, , exec] = await connection.pipeline([["MULTI"], ["SET", key, value], ["EXEC"]], session ?? -1);
    if (exec === undefined) throw new RespFailure("no EXEC reply", false);
    if (exec.type === "array" && exec.items === null) return afterAbort(connection, key, expected);
    const first = exec.type === "array" ? exec.items?.[0] : undefined;
    if (first?.type === "simple" && first.value === "OK") return { completion: { outcome: "ok" } };
    return {
      completion: { outcome: certainlyNotApplied(exec) ? "fail" : "info", error: `EXEC: ${describeReply(exec)}` },
    };
  } catch (error) {
    // Sent (EXEC may have applied): indeterminate; or certainly not sent (the connection was lost after the GET,
    // so the WATCH went with it): failed.
    connection.reset();
    return { completion: noReply(error) };
  }
}

/**
 * EXEC answered nil: the SET did not apply. A write to k since WATCH aborts it — and so does a move of k's slot to
 * another shard between WATCH and EXEC (the new shard numbers k's revisions anew), which says nothing of k's value.
 * A GET tells them apart: a value other than `expected` means k held another value within the operation's span
 * ("compare failed"); `expected` again means k held it all along (values are written once, and k held `expected`
 * before WATCH, when this client last saw it), so the abort is a plain failure, which the checker leaves out.
 */
async function afterAbort(
  connection: RespClient,
  key: string,
  expected: string,
): Promise<{ completion: Completion; observed?: string | null }> {
  try {
    const got = await connection.command(["GET", key]);
    if (got.type === "bulk" && got.value !== expected) {
      return { completion: { outcome: "fail", error: "compare failed" }, observed: got.value };
    }
    const error = got.type === "bulk" ? "EXEC aborted, value unchanged" : `EXEC aborted; GET: ${describeReply(got)}`;
    return { completion: { outcome: "fail", error } };
  } catch (error) {
    return { completion: { outcome: "fail", error: `EXEC aborted; GET: ${(error as Error).message}` } };
  }
}

function abandon(connection: RespClient, error: string): { completion: Completion } {
  connection.reset();
  return { completion: { outcome: "fail", error } };
}
