/**
 * End-to-end: a 3-node cluster started with --requirepass. Commands before AUTH answer -NOAUTH, a wrong password
 * -WRONGPASS (Redis's exact bytes, over a bare socket), and ioredis, node-redis (RESP3's HELLO AUTH and RESP2's
 * AUTH) and redis-cli -a all work with the password. SHOAL_REDIS_TARGET=redis-server checks the tests themselves.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { createClient } from "redis";
import { assertReplyError, connectIoredis } from "./ioredis-client.js";
import { RawConnection } from "./raw-connection.js";
import {
  hasRedisCli,
  missingPrerequisite,
  NODE_IDS,
  REDIS_CLI,
  type RedisTarget,
  startTarget,
  targetKind,
} from "./target.js";

const PASSWORD = "s3cret pass";
const NOAUTH = "-NOAUTH Authentication required.\r\n";
const WRONGPASS = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

function skipReason(): string | undefined {
  if (targetKind() === "external")
    return "the servers of SHOAL_REDIS_TARGET=external were started without --requirepass";
  return missingPrerequisite();
}

describe("a cluster started with --requirepass", { timeout: 180_000, skip: skipReason() }, () => {
  let target: RedisTarget;
  const open: RawConnection[] = [];
  const raw = async (id: number): Promise<RawConnection> => {
    const connection = await RawConnection.open(target.port(id));
    open.push(connection);
    return connection;
  };

  before(async () => {
    target = await startTarget({ requirepass: PASSWORD });
  });
  after(async () => {
    for (const connection of open) connection.close();
    await target?.stop();
  });

  test("every node answers NOAUTH before AUTH, WRONGPASS for a wrong password, and OK for the right one", async () => {
    for (const id of NODE_IDS) {
      const c = await raw(id);
      assert.equal(await c.command(["PING"]), NOAUTH, `node ${id}`);
      assert.equal(await c.command(["SET", "auth:k", "v"]), NOAUTH, `node ${id}`);
      assert.equal(await c.command(["GET", "auth:k"]), NOAUTH, `node ${id}`);
      assert.equal(await c.command(["AUTH", "wrong"]), WRONGPASS, `node ${id}`);
      assert.equal(await c.command(["AUTH", "default", "wrong"]), WRONGPASS, `node ${id}`);
      assert.equal(await c.command(["AUTH", "alice", PASSWORD]), WRONGPASS, `node ${id}`);
      assert.equal(await c.command(["AUTH", "a", "b", "c"]), "-ERR syntax error\r\n", `node ${id}`);
      assert.equal(await c.command(["GET", "auth:k"]), NOAUTH, `node ${id}: failed AUTHs do not authenticate`);
      assert.equal(await c.command(["AUTH", PASSWORD]), "+OK\r\n", `node ${id}`);
      assert.equal(await c.command(["PING"]), "+PONG\r\n", `node ${id}`);
      assert.equal(await c.command(["SET", `auth:node${id}`, "v"]), "+OK\r\n", `node ${id}`);
      // Redis keeps an authenticated connection authenticated after a failed AUTH.
      assert.equal(await c.command(["AUTH", "wrong"]), WRONGPASS, `node ${id}`);
      assert.equal(await c.command(["GET", `auth:node${id}`]), "$1\r\n", `node ${id}`);
    }
  });

  test("AUTH default <password> and HELLO 3 AUTH authenticate; HELLO without AUTH is refused", async () => {
    const two = await raw(2);
    assert.equal(await two.command(["AUTH", "default", PASSWORD]), "+OK\r\n");
    assert.equal(await two.command(["PING"]), "+PONG\r\n");

    const hello = await raw(3);
    assert.equal(
      await hello.command(["HELLO", "3"]),
      "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n",
    );
    assert.equal(await hello.command(["HELLO", "3", "AUTH", "default", "nope"]), WRONGPASS);
    assert.equal(await hello.command(["PING"]), NOAUTH);
    assert.equal(await hello.command(["HELLO", "3", "AUTH", "default", PASSWORD]), "%7\r\n", "a RESP3 map of 7 fields");
  });

  test("ioredis with `password` works on every node over RESP3 and RESP2; without it commands fail with NOAUTH", async () => {
    // ioredis 6 connects with HELLO 3 AUTH default <password>; with protocol 2 it sends AUTH <password>.
    const clients = NODE_IDS.map((id) =>
      connectIoredis(target.port(id), { password: PASSWORD, protocol: id === 2 ? 2 : 3 }),
    );
    // Over RESP3 an anonymous client's HELLO itself fails; over RESP2 it connects and each command gets NOAUTH.
    const anonymous = connectIoredis(target.port(1), { protocol: 2, enableReadyCheck: false });
    try {
      assert.equal(await clients[0]?.set("auth:io", "secret value"), "OK");
      for (const client of clients) assert.equal(await client.get("auth:io"), "secret value");
      assert.deepEqual(await clients[2]?.multi().incr("auth:n").incr("auth:n").exec(), [
        [null, 1],
        [null, 2],
      ]);
      await assertReplyError(anonymous.get("auth:io"), "NOAUTH Authentication required.");
    } finally {
      for (const client of [...clients, anonymous]) client.disconnect();
    }
  });

  test("node-redis with `password` authenticates over RESP3 (HELLO AUTH) and RESP2 (AUTH)", async () => {
    const socket = { host: "127.0.0.1", port: target.port(2), reconnectStrategy: false as const };
    const resp3 = createClient({ socket, password: PASSWORD, RESP: 3 });
    const resp2 = createClient({ socket: { ...socket, port: target.port(3) }, password: PASSWORD, RESP: 2 });
    for (const client of [resp3, resp2]) client.on("error", () => {});
    try {
      await resp3.connect();
      await resp2.connect();
      assert.equal(await resp3.set("auth:nr", "v3"), "OK");
      assert.equal(await resp2.get("auth:nr"), "v3");
      assert.equal((await resp3.clientInfo()).resp, 3);
    } finally {
      for (const client of [resp3, resp2]) if (client.isOpen) client.destroy();
    }
  });

  test("redis-cli -a authenticates; without it the reply is the NOAUTH error", {
    skip: !hasRedisCli() && `${REDIS_CLI} is not installed`,
  }, () => {
    const cli = (args: string[]) =>
      spawnSync(REDIS_CLI, ["-h", "127.0.0.1", "-p", String(target.port(1)), ...args], { encoding: "utf8" });
    assert.equal(cli(["--no-auth-warning", "-a", PASSWORD, "set", "auth:cli", "ok"]).stdout, "OK\n");
    assert.equal(cli(["--no-auth-warning", "-a", PASSWORD, "get", "auth:cli"]).stdout, "ok\n");
    assert.equal(cli(["--no-raw", "get", "auth:cli"]).stdout, "(error) NOAUTH Authentication required.\n");
    const wrong = cli(["--no-auth-warning", "-a", "nope", "ping"]);
    assert.match(
      wrong.stdout + wrong.stderr,
      /AUTH failed: WRONGPASS invalid username-password pair or user is disabled\./,
    );
  });
});
