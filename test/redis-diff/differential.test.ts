/**
 * Differential test: seeded random command sequences (generator.ts) sent to a real redis-server (the reference)
 * and to a subject, every reply compared byte for byte except for the normalisations in normalise.ts.
 *
 *   SHOAL_DIFF_SEED=N      run only seed N (to replay a failure)
 *   SHOAL_DIFF_SEEDS=K     run seeds 1..K (default 3)
 *   SHOAL_DIFF_STEPS=M     commands per seed (default 300)
 *   SHOAL_DIFF_SUBJECT=host:port[/password]  also compare an already running server
 *   SHOAL_DIFF_TRACE=1     print every command and both replies
 *   SHOAL_DIFF_CONTINUE=1  explore: after a mismatch, reset both servers and go on (lists more differences)
 *
 * Skips (with a message) when /usr/bin/redis-server is missing; .ci/run installs it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ProcessCluster } from "../support/process-cluster.js";
import { describeMismatch, formatCommand, type Mismatch, runSeedAgainst, show } from "./differential.js";
import { type Command, generateCommands } from "./generator.js";
import { normaliseReply } from "./normalise.js";
import type { Endpoint, ReplyChannel } from "./raw-connection.js";
import { type RedisServer, redisServerInstalled, respPing, startRedisServer } from "./redis-server.js";

const STEPS = Number(process.env.SHOAL_DIFF_STEPS ?? 300);
const SEEDS =
  process.env.SHOAL_DIFF_SEED !== undefined
    ? [Number(process.env.SHOAL_DIFF_SEED)]
    : Array.from({ length: Number(process.env.SHOAL_DIFF_SEEDS ?? 3) }, (_, i) => i + 1);
const TRACE = process.env.SHOAL_DIFF_TRACE === "1";
const CONTINUE = process.env.SHOAL_DIFF_CONTINUE === "1";
const TEST_FILE = "dist/test/redis-diff/differential.test.js";

const NO_REDIS = redisServerInstalled()
  ? false
  : "/usr/bin/redis-server is not installed (Debian package redis-server; .ci/run installs it)";
function trace(step: number, command: Command, reference: Buffer, subject: Buffer): void {
  console.log(`${String(step).padStart(5)}  ${formatCommand(command)}\n       ${show(reference)}  |  ${show(subject)}`);
}

function replayLine(seed: number, suite: string): string {
  return `SHOAL_DIFF_SEED=${seed} SHOAL_DIFF_STEPS=${STEPS} node --test --test-name-pattern="${suite}" ${TEST_FILE}`;
}

/** Runs every seed (each stops at its first mismatch) and fails once with all of them. */
async function assertNoDifferences(suite: string, reference: Endpoint, subject: Endpoint): Promise<void> {
  const failures: string[] = [];
  for (const seed of SEEDS) {
    const report = (mismatch: Mismatch) => failures.push(describeMismatch(mismatch, replayLine(seed, suite)));
    const mismatch = await runSeedAgainst({
      seed,
      steps: STEPS,
      reference,
      subject,
      ...(TRACE ? { onStep: trace } : {}),
      ...(CONTINUE ? { onMismatch: report } : {}),
    });
    if (mismatch !== undefined && !CONTINUE) report(mismatch);
  }
  assert.equal(failures.length, 0, `${failures.length} of ${SEEDS.length} seeds differ:\n\n${failures.join("\n\n")}`);
}

const loopback = (label: string, port: number, password?: string): Endpoint =>
  password === undefined ? { label, host: "127.0.0.1", port } : { label, host: "127.0.0.1", port, password };

/** A channel whose replies are altered by `alter` (the checker's own tests). */
function tampered(alter: (call: number, command: Command, reply: Buffer) => Buffer): (c: ReplyChannel) => ReplyChannel {
  return (channel) => {
    let call = -1; // counts commands sent, the harness's reset (DISCARD, UNWATCH, FLUSHALL) included
    return {
      label: `${channel.label} (tampered)`,
      close: () => channel.close(),
      command: async (args) => alter(++call, args, await channel.command(args)),
    };
  };
}

describe("the command generator", () => {
  test("is a pure function of the seed", () => {
    assert.deepEqual(generateCommands(7, 500), generateCommands(7, 500));
    assert.notDeepEqual(generateCommands(7, 50), generateCommands(8, 50));
  });

  test("covers every command family of the issue in the default run", () => {
    const names = new Set(SEEDS.flatMap((seed) => generateCommands(seed, STEPS)).map((c) => c[0]?.toUpperCase()));
    const expected = [
      ..."SET GET GETSET GETDEL MGET MSET MSETNX APPEND STRLEN GETRANGE SETRANGE INCR DECR INCRBY DECRBY".split(" "),
      ..."INCRBYFLOAT DEL EXISTS TYPE RENAME RENAMENX EXPIRE PEXPIRE TTL PERSIST DBSIZE KEYS SCAN".split(" "),
      ..."HSET HGET HMGET HDEL HGETALL HKEYS HVALS HLEN HEXISTS HSTRLEN HINCRBY HINCRBYFLOAT HSETNX".split(" "),
      ..."MULTI EXEC".split(" "),
    ];
    if (process.env.SHOAL_DIFF_SEED === undefined)
      assert.deepEqual(
        expected.filter((name) => !names.has(name)),
        [],
      );
  });
});

describe("the checker against redis-server", { skip: NO_REDIS, timeout: 120_000 }, () => {
  let reference: RedisServer;
  let twin: RedisServer;
  before(async () => {
    [reference, twin] = await Promise.all([startRedisServer(), startRedisServer()]);
  });
  after(async () => Promise.all([reference?.stop(), twin?.stop()]));
  const endpoints = (): [Endpoint, Endpoint] => [
    loopback("redis-server", reference.port),
    loopback("redis-server (twin)", twin.port),
  ];

  test("finds no difference between two redis-servers", async () => {
    const [a, b] = endpoints();
    await assertNoDifferences("two redis-servers", a, b);
  });

  test("catches one altered reply and reports the seed, step, command, both replies and the replay", async () => {
    const [a, b] = endpoints();
    let altered: Command | undefined;
    const mismatch = await runSeedAgainst({
      seed: 2,
      steps: STEPS,
      reference: a,
      subject: b,
      wrapSubject: tampered((call, command, reply) => {
        if (call !== 123) return reply;
        altered = command;
        return Buffer.from("-ERR tampered\r\n");
      }),
    });
    assert.ok(mismatch !== undefined, "an altered reply went unnoticed");
    assert.deepEqual(mismatch.command, altered);
    assert.deepEqual(mismatch.subject, Buffer.from("-ERR tampered\r\n"));
    assert.deepEqual(generateCommands(2, STEPS)[mismatch.step - 1], altered);
    const text = describeMismatch(mismatch, replayLine(2, "x"));
    assert.match(text, new RegExp(`seed 2, step ${mismatch.step} of`));
    assert.match(text, /redis-server \(twin\) \(tampered\): "-ERR tampered\\r\\n"/);
    assert.match(text, /replay: SHOAL_DIFF_SEED=2 /);
    assert.ok(text.includes(`command:   ${formatCommand(altered ?? [])}`));
  });

  test("catches a one-byte change inside a bulk string", async () => {
    const [a, b] = endpoints();
    let altered: Command | undefined;
    const mismatch = await runSeedAgainst({
      seed: 3,
      steps: STEPS,
      reference: a,
      subject: b,
      wrapSubject: tampered((_call, command, reply) => {
        if (altered === undefined && command[0]?.toUpperCase() === "MGET" && reply.includes("$3\r\n")) {
          altered = command;
          const copy = Buffer.from(reply);
          const at = copy.indexOf("$3\r\n") + 4;
          copy[at] = (copy[at] as number) ^ 1;
          return copy;
        }
        return reply;
      }),
    });
    assert.ok(altered !== undefined, "the seed should produce an MGET with a 3-byte value");
    assert.deepEqual(mismatch?.command, altered);
  });

  test("in exploration mode, reports every difference and resynchronises after each", async () => {
    const [a, b] = endpoints();
    const steps: number[] = [];
    const first = await runSeedAgainst({
      seed: 4,
      steps: STEPS,
      reference: a,
      subject: b,
      wrapSubject: tampered((call, _command, reply) => (call === 40 || call === 200 ? Buffer.from(":666\r\n") : reply)),
      onMismatch: (mismatch) => steps.push(mismatch.step),
    });
    assert.equal(steps.length, 2, `mismatches at steps ${steps.join(", ")}`);
    assert.equal(first?.step, steps[0]);
  });

  test("TTL normalisation keeps -1 and -2 exact but ignores the positive value; KEYS ignores order only", () => {
    const ttl: Command = ["TTL", "k"];
    assert.deepEqual(normaliseReply(ttl, Buffer.from(":99\r\n")), normaliseReply(ttl, Buffer.from(":100\r\n")));
    assert.notDeepEqual(normaliseReply(ttl, Buffer.from(":-1\r\n")), normaliseReply(ttl, Buffer.from(":-2\r\n")));
    assert.notDeepEqual(normaliseReply(ttl, Buffer.from(":5\r\n")), normaliseReply(ttl, Buffer.from(":-1\r\n")));
    assert.notDeepEqual(normaliseReply(ttl, Buffer.from(":0\r\n")), normaliseReply(ttl, Buffer.from(":1\r\n")));
    const keys: Command = ["KEYS", "*"];
    const ab = Buffer.from("*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    const ba = Buffer.from("*2\r\n$1\r\nb\r\n$1\r\na\r\n");
    const abc = Buffer.from("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert.deepEqual(normaliseReply(keys, ab), normaliseReply(keys, ba));
    assert.notDeepEqual(normaliseReply(keys, ab), normaliseReply(keys, abc));
    const exec: Command = ["EXEC"];
    const queued: Command[] = [
      ["TTL", "k"],
      ["HGETALL", "h"],
    ];
    const pairs = (a: string, b: string) => `*2\r\n$1\r\n${a}\r\n$1\r\n${b}\r\n`;
    const execReply = (ttlValue: string, fields: string) => Buffer.from(`*2\r\n:${ttlValue}\r\n${fields}`);
    assert.deepEqual(
      normaliseReply(exec, execReply("10", pairs("f", "v")), queued),
      normaliseReply(exec, execReply("11", pairs("f", "v")), queued),
    );
    // Hash field order is compared exactly: Shoal promises Redis's (listpack) insertion order.
    assert.notDeepEqual(
      normaliseReply(exec, execReply("10", pairs("f", "v")), queued),
      normaliseReply(exec, execReply("10", pairs("v", "f")), queued),
    );
  });

  test("a reordered KEYS reply and a different positive TTL are not differences", async () => {
    const [a, b] = endpoints();
    let keysReordered = 0;
    let ttlsChanged = 0;
    const alter = tampered((_call, command, reply) => {
      const name = command[0]?.toUpperCase() ?? "";
      if (["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"].includes(name) && /^:[1-9]/.test(reply.toString())) {
        ttlsChanged++;
        return Buffer.from(":1\r\n");
      }
      if (name === "KEYS" && /^\*[2-9]/.test(reply.toString())) {
        keysReordered++;
        return reverseArray(reply);
      }
      return reply;
    });
    for (let seed = 1; seed <= 20 && (keysReordered === 0 || ttlsChanged === 0); seed++) {
      const mismatch = await runSeedAgainst({ seed, steps: STEPS, reference: a, subject: b, wrapSubject: alter });
      assert.equal(mismatch, undefined, mismatch && describeMismatch(mismatch, ""));
    }
    assert.ok(keysReordered > 0 && ttlsChanged > 0, `KEYS ${keysReordered}, TTL ${ttlsChanged}`);
  });
});

/** The elements of a flat array of bulk strings, in reverse order (only used on KEYS replies). */
function reverseArray(reply: Buffer): Buffer {
  const lines = reply.toString("latin1").split("\r\n");
  const items: string[] = [];
  for (let i = 1; i + 1 < lines.length; i += 2) items.push(`${lines[i]}\r\n${lines[i + 1]}\r\n`);
  return Buffer.from(`${lines[0]}\r\n${items.reverse().join("")}`, "latin1");
}

for (const size of [1, 3]) {
  const suite = `Shoal (${size} node${size > 1 ? "s" : ""}) against redis-server`;
  const pattern = `Shoal \\(${size} node`;
  describe(suite, { skip: NO_REDIS, timeout: 300_000 }, () => {
    let reference: RedisServer;
    let cluster: ProcessCluster;
    let notListening: string | false = false;
    before(async () => {
      [reference, cluster] = await Promise.all([startRedisServer(), ProcessCluster.start({ nodes: size })]);
      const leader = await cluster.waitForLeader();
      if (!(await respPing(cluster.respPort(leader))))
        notListening = "the Shoal node does not answer on its --resp-port";
    });
    after(async () => Promise.all([reference?.stop(), cluster?.stop()]));

    test("replies like redis-server, through the leader", async (t) => {
      if (notListening) return t.skip(notListening);
      const leader = await cluster.waitForLeader();
      const subject = loopback(`shoal node ${leader} (leader)`, cluster.respPort(leader));
      await assertNoDifferences(pattern, loopback("redis-server", reference.port), subject);
    });

    if (size > 1) {
      test("replies like redis-server, through a follower", async (t) => {
        if (notListening) return t.skip(notListening);
        const leader = await cluster.waitForLeader();
        const follower = leader === 1 ? 2 : 1;
        const subject = loopback(`shoal node ${follower} (follower)`, cluster.respPort(follower));
        await assertNoDifferences(pattern, loopback("redis-server", reference.port), subject);
      });
    }
  });
}

const external = process.env.SHOAL_DIFF_SUBJECT;
describe("an external subject against redis-server", {
  skip: NO_REDIS || (external ? false : "SHOAL_DIFF_SUBJECT is not set"),
  timeout: 600_000,
}, () => {
  let reference: RedisServer;
  before(async () => {
    reference = await startRedisServer();
  });
  after(async () => reference?.stop());

  test("replies like redis-server", async () => {
    const [address = "", password] = (external ?? "").split("/");
    const [host = "127.0.0.1", port = "0"] = address.split(":");
    const subject: Endpoint =
      password === undefined
        ? { label: address, host, port: Number(port) }
        : { label: address, host, port: Number(port), password };
    await assertNoDifferences("an external subject", loopback("redis-server", reference.port), subject);
  });
});
