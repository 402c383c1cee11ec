/**
 * End-to-end: Debian's redis-cli (/usr/bin/redis-cli, from redis-tools) against a real 3-node Shoal cluster:
 * one-shot commands in raw and --no-raw output, commands read from stdin, --pipe mass insertion, RESP3 (-3),
 * INFO's "key:value" sections, --scan, and errors printed the way redis-cli prints Redis's errors.
 * Skips itself when redis-cli is not installed. SHOAL_REDIS_TARGET=redis-server checks the tests themselves.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import {
  hasRedisCli,
  missingPrerequisite,
  NODE_IDS,
  REDIS_CLI,
  type RedisTarget,
  startTarget,
  targetKind,
} from "./target.js";

interface CliResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

function skipReason(): string | undefined {
  if (!hasRedisCli()) return `${REDIS_CLI} is not installed (Debian's redis-tools)`;
  return missingPrerequisite();
}

/** Runs redis-cli with `args`, feeding `stdin` when given (stdout is a pipe, so redis-cli prints raw replies). */
function redisCli(port: number, args: readonly string[], stdin?: string | Buffer): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(REDIS_CLI, ["-h", "127.0.0.1", "-p", String(port), ...args], { stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once("error", fail);
    child.once("close", (code) => done({ stdout, stderr, code }));
    // redis-cli reads stdin only for some commands and may exit before we close it: an EPIPE then means nothing.
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin ?? "");
  });
}

/** One command in RESP's multibulk form, as --pipe expects. */
function multibulk(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
}

describe("redis-cli against a 3-node cluster", { timeout: 180_000, skip: skipReason() }, () => {
  let target: RedisTarget;
  const port = (id: number): number => target.port(id);

  before(async () => {
    target = await startTarget();
  });
  after(async () => target?.stop());

  test("set and get as one-shot commands, across nodes, raw and --no-raw", async () => {
    assert.deepEqual(await redisCli(port(1), ["set", "cli:k", "hello world"]), { stdout: "OK\n", stderr: "", code: 0 });
    assert.deepEqual(await redisCli(port(3), ["get", "cli:k"]), { stdout: "hello world\n", stderr: "", code: 0 });
    assert.equal((await redisCli(port(2), ["--no-raw", "get", "cli:k"])).stdout, '"hello world"\n');
    assert.equal((await redisCli(port(2), ["get", "cli:missing"])).stdout, "\n");
    assert.equal((await redisCli(port(2), ["--no-raw", "get", "cli:missing"])).stdout, "(nil)\n");
    assert.equal((await redisCli(port(1), ["--no-raw", "incrby", "cli:n", "5"])).stdout, "(integer) 5\n");
    assert.equal((await redisCli(port(1), ["hset", "cli:h", "f1", "a", "f2", "b"])).stdout, "2\n");
    assert.equal(
      (await redisCli(port(2), ["--no-raw", "hmget", "cli:h", "f1", "nf", "f2"])).stdout,
      '1) "a"\n2) (nil)\n3) "b"\n',
    );
  });

  test("commands read from stdin, one per line, with quoting", async () => {
    const result = await redisCli(port(2), [], 'set cli:stdin "two words"\nget cli:stdin\nstrlen cli:stdin\nping\n');
    assert.deepEqual(result, { stdout: "OK\ntwo words\n9\nPONG\n", stderr: "", code: 0 });
  });

  test('errors are printed as "(error) ..." with --no-raw and as the bare error line raw', async () => {
    await redisCli(port(1), ["set", "cli:text", "abc"]);
    const noRaw = await redisCli(port(1), ["--no-raw", "incr", "cli:text"]);
    assert.equal(noRaw.stdout, "(error) ERR value is not an integer or out of range\n");
    assert.equal(
      (await redisCli(port(2), ["--no-raw", "hget", "cli:text", "f"])).stdout,
      "(error) WRONGTYPE Operation against a key holding the wrong kind of value\n",
    );
    assert.equal(
      (await redisCli(port(3), ["--no-raw", "nosuchcommand", "x"])).stdout,
      "(error) ERR unknown command 'nosuchcommand', with args beginning with: 'x' \n",
    );
    assert.equal(
      (await redisCli(port(3), ["--no-raw", "get"])).stdout,
      "(error) ERR wrong number of arguments for 'get' command\n",
    );
    assert.equal(
      (await redisCli(port(1), ["incr", "cli:text"])).stdout,
      "ERR value is not an integer or out of range\n\n",
    );
  });

  test("--pipe inserts a few thousand commands and reports every reply", async () => {
    const count = 3000;
    const input = Array.from({ length: count }, (_, i) =>
      i % 2 === 0 ? multibulk("SET", `cli:pipe:${i}`, `v${i}`) : multibulk("INCR", "cli:pipe:counter"),
    ).join("");
    const result = await redisCli(port(2), ["--pipe"], input);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /All data transferred\. Waiting for the last reply\.\.\./);
    assert.match(result.stdout, /Last reply received from server\./);
    assert.match(result.stdout, new RegExp(`errors: 0, replies: ${count}\\n$`));
    assert.equal((await redisCli(port(1), ["get", "cli:pipe:counter"])).stdout, `${count / 2}\n`);
    assert.equal((await redisCli(port(3), ["get", `cli:pipe:${count - 2}`])).stdout, `v${count - 2}\n`);

    // Inline commands work too, and an error is counted (and makes redis-cli exit 1).
    const inline =
      "SET cli:pipe:inline 1\r\nINCR cli:pipe:inline\r\nHGET cli:pipe:inline f\r\nINCR cli:pipe:inline\r\n";
    const withError = await redisCli(port(1), ["--pipe"], inline);
    assert.match(withError.stdout, /errors: 1, replies: 4\n$/);
    assert.equal(withError.code, 1);
    assert.equal((await redisCli(port(1), ["get", "cli:pipe:inline"])).stdout, "3\n");
  });

  test("-3 speaks RESP3: HELLO answers a map with proto 3, HGETALL a map", async () => {
    const hello = await redisCli(port(1), ["-3", "--no-raw", "hello"]);
    assert.equal(hello.code, 0, hello.stderr);
    const lines = hello.stdout.trimEnd().split("\n");
    assert.deepEqual(
      lines.map((line) => line.replace(/ => .*/, "")),
      ['1# "server"', '2# "version"', '3# "proto"', '4# "id"', '5# "mode"', '6# "role"', '7# "modules"'],
    );
    assert.equal(lines[2], '3# "proto" => (integer) 3');
    assert.equal((await redisCli(port(2), ["-3", "hset", "cli:map", "f", "v"])).stdout, "1\n");
    assert.equal((await redisCli(port(3), ["-3", "--no-raw", "hgetall", "cli:map"])).stdout, '1# "f" => "v"\n');
    assert.equal((await redisCli(port(3), ["-3", "--no-raw", "hgetall", "cli:nomap"])).stdout, "(empty hash)\n");
    assert.equal((await redisCli(port(3), ["--no-raw", "hgetall", "cli:nomap"])).stdout, "(empty array)\n");
  });

  test("INFO is '# Section' headers and 'key:value' lines; the keyspace line counts keys", async () => {
    // INFO reports this node's own state, which may trail the cluster; a DBSIZE (a linearizable read) first makes
    // node 1 catch up with every write acknowledged so far (earlier tests' keys).
    await redisCli(port(1), ["dbsize"]);
    const info = await redisCli(port(1), ["info"]);
    assert.equal(info.code, 0, info.stderr);
    const { sections, fields } = parseInfo(info.stdout);
    for (const section of ["Server", "Clients", "Memory", "Stats", "Keyspace"]) {
      assert.ok(sections.includes(section), `INFO has no ${section} section: ${sections.join(", ")}`);
    }
    assert.match(fields.get("redis_version") ?? "", /^\d+\.\d+\.\d+$/);
    assert.match(fields.get("connected_clients") ?? "", /^\d+$/);
    assert.match(fields.get("db0") ?? "", /^keys=\d+,expires=\d+,avg_ttl=\d+$/);
    if (targetKind() === "shoal") {
      // A Shoal extension: INFO reports the node's Raft state.
      assert.ok(
        sections.some((s) => /raft|replication/i.test(s)),
        `no raft section: ${sections.join(", ")}`,
      );
    }

    await redisCli(port(3), ["del", "cli:info:expiring"]);
    await redisCli(port(2), ["dbsize"]); // node 2 has applied the DEL
    const before = await keyspace(port(2));
    const sizeBefore = Number((await redisCli(port(1), ["dbsize"])).stdout);
    assert.equal((await redisCli(port(3), ["set", "cli:info:expiring", "v", "EX", "1000"])).stdout, "OK\n");
    await redisCli(port(2), ["dbsize"]); // a linearizable read: node 2 has applied the SET before INFO runs
    assert.deepEqual(await keyspace(port(2)), { keys: before.keys + 1, expires: before.expires + 1 });
    assert.equal((await redisCli(port(1), ["dbsize"])).stdout, `${sizeBefore + 1}\n`);
  });

  test("INFO replication: the Raft leader is role:master, every other node role:slave of it", async () => {
    if (targetKind() !== "shoal") {
      // One redis-server stands in for every node: a master.
      const { fields } = parseInfo((await redisCli(port(1), ["info", "replication"])).stdout);
      assert.equal(fields.get("role"), "master");
      return;
    }
    // Asked of every node at about the same time; retried while an election moves the leader.
    let nodes: Map<string, string>[] = [];
    for (let attempt = 0; attempt < 50; attempt++) {
      const infos = await Promise.all(NODE_IDS.map((id) => redisCli(port(id), ["info", "everything"])));
      nodes = infos.map((info) => parseInfo(info.stdout).fields);
      const leaders = new Set(nodes.map((fields) => fields.get("raft_leader_id")));
      if (leaders.size === 1 && !leaders.has("0")) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const masters = nodes.filter((fields) => fields.get("role") === "master");
    assert.equal(masters.length, 1, `one master: ${nodes.map((fields) => fields.get("role"))}`);
    const master = masters[0] as Map<string, string>;
    assert.equal(master.get("raft_role"), "leader");
    assert.equal(master.get("connected_slaves"), "2");
    assert.match(master.get("master_repl_offset") ?? "", /^\d+$/);
    for (const fields of nodes.filter((node) => node !== master)) {
      assert.equal(fields.get("role"), "slave");
      assert.equal(fields.get("raft_role"), "follower");
      assert.equal(fields.get("raft_leader_id"), master.get("raft_node_id"));
      assert.equal(fields.get("master_host"), "127.0.0.1");
      assert.equal(fields.get("master_link_status"), "up");
      assert.equal(fields.get("slave_read_only"), "0");
      assert.match(fields.get("slave_repl_offset") ?? "", /^\d+$/);
    }
  });

  test("--scan lists every matching key once", async () => {
    const expected = Array.from({ length: 120 }, (_, i) => `cli:scan:${i}`);
    await redisCli(port(1), ["--pipe"], expected.map((key) => multibulk("SET", key, "v")).join(""));
    const result = await redisCli(port(2), ["--scan", "--pattern", "cli:scan:*"]);
    assert.equal(result.code, 0, result.stderr);
    const keys = result.stdout.trimEnd().split("\n");
    assert.deepEqual([...new Set(keys)].sort(), [...expected].sort());
    const none = await redisCli(port(3), ["--scan", "--pattern", "cli:nothing:*"]);
    assert.equal(none.stdout, "");
  });

  test("every node answers PING", async () => {
    for (const id of NODE_IDS) assert.equal((await redisCli(port(id), ["ping"])).stdout, "PONG\n", `node ${id}`);
  });
});

/** INFO's text → its section names and its key:value fields; asserts every line is one or the other. */
function parseInfo(text: string): { sections: string[]; fields: Map<string, string> } {
  const sections: string[] = [];
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === "") continue;
    const header = /^# (\w+)$/.exec(line);
    if (header !== null) {
      sections.push(header[1] as string);
      continue;
    }
    const field = /^([A-Za-z0-9_.-]+):(.*)$/.exec(line);
    assert.ok(field !== null, `INFO line is neither a header nor key:value: ${JSON.stringify(line)}`);
    fields.set(field[1] as string, field[2] as string);
  }
  return { sections, fields };
}

async function keyspace(port: number): Promise<{ keys: number; expires: number }> {
  const { stdout } = await redisCli(port, ["info", "keyspace"]);
  const match = /db0:keys=(\d+),expires=(\d+)/.exec(stdout);
  if (match === null) return { keys: 0, expires: 0 };
  return { keys: Number(match[1]), expires: Number(match[2]) };
}
