import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ShoalError } from "../../lib/errors.js";
import { hashSlot } from "../../slots/hash-slot.js";
import { clusterNodeName } from "./commands/cluster.js";
import { RespServer } from "./resp-server.js";
import { RawClient, show } from "./testing/raw-client.js";
import { TestBackend } from "./testing/test-backend.js";

async function startServer(
  options: { requirePass?: string; clusterRedirects?: boolean } = {},
): Promise<{ server: RespServer; backend: TestBackend }> {
  const backend = new TestBackend();
  const server = await RespServer.start({ host: "127.0.0.1", port: 0, backend, ...options });
  return { server, backend };
}

async function calls(client: RawClient, ...commands: string[][]): Promise<string[]> {
  client.send(...commands);
  return (await client.read(commands.length)).map(show);
}

describe("RespServer: connection commands", () => {
  let server: RespServer;
  let backend: TestBackend;
  before(async () => {
    ({ server, backend } = await startServer());
  });
  after(() => server.close());

  it("answers PING, ECHO, SET/GET, unknown commands and arity errors with Redis's texts", async () => {
    const client = await RawClient.connect(server.port);
    assert.deepEqual(
      await calls(
        client,
        ["PING"],
        ["PING", "hi"],
        ["ECHO", "x"],
        ["SET", "a", "1"],
        ["GET", "a"],
        ["GET", "nope"],
        ["FOO", "bar"],
        ["GET"],
        ["PING", "a", "b"],
      ),
      [
        "+PONG",
        "$hi",
        "$x",
        "+OK",
        "$1",
        "(nil)",
        "-ERR unknown command 'FOO', with args beginning with: 'bar' ",
        "-ERR wrong number of arguments for 'get' command",
        "-ERR wrong number of arguments for 'ping' command",
      ],
    );
    client.close();
  });

  it("batches a run that starts with a write (reads after it included) into one log entry, and reads into one read batch", async () => {
    const client = await RawClient.connect(server.port);
    const entriesBefore = backend.entries.length;
    const readsBefore = backend.readBatches.length;
    client.send(
      ["GET", "w0"],
      ["GET", "w1"],
      ["SET", "w1", "a"],
      ["SET", "w2", "b"],
      ["GET", "w1"],
      ["SET", "w3", "c"],
      ["GET", "w2"],
      ["PING"],
      ["GET", "w3"],
    );
    assert.deepEqual((await client.read(9)).map(show), [
      "(nil)",
      "(nil)",
      "+OK",
      "+OK",
      "$a",
      "+OK",
      "$b",
      "+PONG",
      "$c",
    ]);
    assert.deepEqual(
      backend.entries.slice(entriesBefore).map((entry) => entry.length),
      [5],
    );
    assert.deepEqual(
      backend.readBatches.slice(readsBefore).map((batch) => batch.size),
      [2, 1],
    );
    client.close();
  });

  it("never takes a read whose cost follows the data (KEYS, HGETALL, SCAN) into a write run: it starts a read run", async () => {
    const client = await RawClient.connect(server.port);
    const entriesBefore = backend.entries.length;
    const readsBefore = backend.readBatches.length;
    client.send(
      ["SET", "kr1", "a"],
      ["GET", "kr1"],
      ["KEYS", "kr*"],
      ["GET", "kr1"],
      ["SET", "kr2", "b"],
      ["SCAN", "0"],
    );
    const replies = (await client.read(6)).map(show);
    assert.deepEqual(replies.slice(0, 4), ["+OK", "$a", "[$kr1]", "$a"]);
    assert.equal(replies[4], "+OK");
    assert.deepEqual(
      backend.entries.slice(entriesBefore).map((entry) => entry.map((argv) => Buffer.from(argv[0] ?? []).toString())),
      [["SET", "GET"], ["SET"]],
    );
    assert.deepEqual(
      backend.readBatches.slice(readsBefore).map((batch) => batch.size),
      [2, 1],
    );
    client.close();
  });

  it("turns a backend rejection into an error reply for each command of the run and goes on", async () => {
    const client = await RawClient.connect(server.port);
    backend.failNext = new ShoalError("UNAVAILABLE", "no leader");
    assert.deepEqual(
      await calls(
        client,
        ["SET", "f", "1"],
        ["SET", "g", "1"],
        ["PING"],
        ["GET", "f"],
        ["SET", "f", "2"],
        ["GET", "f"],
      ),
      ["-TRYAGAIN no leader", "-TRYAGAIN no leader", "+PONG", "(nil)", "+OK", "$2"],
    );
    backend.failNext = new ShoalError("TIMEOUT", "the outcome is unknown");
    assert.deepEqual(await calls(client, ["GET", "f"]), ["-ERR the outcome is unknown"]);
    client.close();
  });

  it("HELLO switches to RESP3, answers Redis's map, and rejects other versions", async () => {
    const client = await RawClient.connect(server.port);
    const hello = show(await client.call("HELLO", "3"));
    assert.match(
      hello,
      /^\{\$server: \$redis, \$version: \$7\.0\.15, \$proto: :3, \$id: :\d+, \$mode: \$standalone, \$role: \$master, \$modules: \[\]\}$/,
    );
    assert.deepEqual(await calls(client, ["GET", "nope"], ["HELLO", "4"], ["HELLO", "x"], ["HELLO", "3", "FOO"]), [
      "(nil)",
      "-NOPROTO unsupported protocol version",
      "-ERR Protocol version is not an integer or out of range",
      "-ERR Syntax error in HELLO option 'FOO'",
    ]);
    // RESP3 null is `_`.
    client.received = [];
    await client.call("GET", "nope");
    assert.equal(Buffer.concat(client.received).toString(), "_\r\n");
    client.close();
  });

  it("SELECT, AUTH without a password, CLIENT, READONLY, TIME, CONFIG", async () => {
    const client = await RawClient.connect(server.port);
    assert.deepEqual(
      await calls(
        client,
        ["SELECT", "0"],
        ["SELECT", "1"],
        ["SELECT", "x"],
        ["AUTH", "pw"],
        ["AUTH", "bob", "pw"],
        ["AUTH", "default", "anything"],
        ["CLIENT", "SETNAME", "conn-a"],
        ["CLIENT", "GETNAME"],
        ["CLIENT", "SETNAME", "a b"],
        ["CLIENT", "SETINFO", "LIB-NAME", "node-redis"],
        ["CLIENT", "NO-EVICT", "on"],
        ["CLIENT", "FOO"],
        ["READONLY"],
        ["READWRITE"],
        ["CONFIG", "GET", "databases"],
        ["CONFIG", "SET", "x", "y"],
      ),
      [
        "+OK",
        "-ERR DB index is out of range",
        "-ERR value is not an integer or out of range",
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        "-WRONGPASS invalid username-password pair or user is disabled.",
        "+OK",
        "+OK",
        "$conn-a",
        "-ERR Client names cannot contain spaces, newlines or special characters.",
        "+OK",
        "+OK",
        "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.",
        "+OK",
        "+OK",
        "[$databases, $1]",
        "-ERR Unknown option or number of arguments for CONFIG SET - 'x' (Shoal sets maxmemory, maxmemory-policy, maxmemory-samples at run time; the rest are flags of shoal start)",
      ],
    );
    const id = show(await client.call("CLIENT", "ID"));
    const info = show(await client.call("CLIENT", "INFO"));
    assert.match(
      info,
      new RegExp(`^\\$id=${id.slice(1)} addr=127\\.0\\.0\\.1:\\d+ .* name=conn-a .*lib-name=node-redis`),
    );
    const time = await client.call("TIME");
    assert.equal(time.type, "array");
    assert.ok(Math.abs(Number(show(time).split(", ")[0]?.slice(2)) - Date.now() / 1000) < 5);
    client.close();
  });

  it("CLUSTER KEYSLOT answers Redis's slots, hash tags included; slot management is unknown", async () => {
    const client = await RawClient.connect(server.port);
    assert.deepEqual(
      await calls(
        client,
        ["CLUSTER", "KEYSLOT", "foo"],
        ["CLUSTER", "KEYSLOT", "{user1000}.following"],
        ["CLUSTER", "KEYSLOT", "{user1000}.followers"],
        ["CLUSTER", "KEYSLOT", "foo{}{bar}"],
        ["CLUSTER", "KEYSLOT", "foo{{bar}}zap"],
        ["CLUSTER", "KEYSLOT", "foo{bar}{zap}"],
        ["CLUSTER", "KEYSLOT", ""],
        ["CLUSTER", "KEYSLOT"],
        ["CLUSTER", "KEYSLOT", "a", "b"],
        ["CLUSTER", "SETSLOT", "1"],
        ["CLUSTER"],
      ),
      // As a cluster-enabled redis-server 7 answers them.
      [
        ":12182",
        ":3443",
        ":3443",
        ":8363",
        ":4015",
        ":5061",
        ":0",
        "-ERR wrong number of arguments for 'cluster|keyslot' command",
        "-ERR wrong number of arguments for 'cluster|keyslot' command",
        "-ERR unknown subcommand 'SETSLOT'. Try CLUSTER HELP.",
        "-ERR wrong number of arguments for 'cluster' command",
      ],
    );
    client.close();
  });

  it("CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT list a slot's keys, with Redis's errors", async () => {
    const client = await RawClient.connect(server.port);
    assert.deepEqual(
      await calls(
        client,
        ["MSET", "{s}b", "1", "{s}a", "2", "{s}c", "3", "foo", "4"],
        ["CLUSTER", "KEYSLOT", "{s}"],
        ["CLUSTER", "COUNTKEYSINSLOT", "12182"],
        ["CLUSTER", "GETKEYSINSLOT", "12182", "10"],
        ["CLUSTER", "COUNTKEYSINSLOT", "0"],
        ["CLUSTER", "GETKEYSINSLOT", "0", "0"],
        ["CLUSTER", "COUNTKEYSINSLOT", "16384"],
        ["CLUSTER", "COUNTKEYSINSLOT", "-1"],
        ["CLUSTER", "COUNTKEYSINSLOT", "x"],
        ["CLUSTER", "GETKEYSINSLOT", "16384", "1"],
        ["CLUSTER", "GETKEYSINSLOT", "1", "-1"],
        ["CLUSTER", "GETKEYSINSLOT", "1"],
      ),
      // Error texts as redis-server 7's cluster.c words them.
      [
        "+OK",
        ":3828",
        ":1",
        "[$foo]",
        ":0",
        "[]",
        "-ERR Invalid slot",
        "-ERR Invalid slot",
        "-ERR value is not an integer or out of range",
        "-ERR Invalid slot or number of keys",
        "-ERR Invalid slot or number of keys",
        "-ERR wrong number of arguments for 'cluster|getkeysinslot' command",
      ],
    );
    const [count, keys] = await calls(
      client,
      ["CLUSTER", "COUNTKEYSINSLOT", "3828"],
      ["CLUSTER", "GETKEYSINSLOT", "3828", "2"],
    );
    // More than 10,000 keys in one answer is refused (it would be listed on the event loop); asking for fewer works.
    const many: string[] = [];
    for (let i = 0; i < 10_001; i++) many.push(`{s}m${i}`, "v");
    const [set, big, within] = await calls(
      client,
      ["MSET", ...many],
      ["CLUSTER", "GETKEYSINSLOT", "3828", "20000"],
      ["CLUSTER", "GETKEYSINSLOT", "3828", "10000"],
    );
    assert.equal(set, "+OK");
    assert.equal(big, "-ERR GETKEYSINSLOT would list 10004 keys; at most 10000 per call (ask for fewer)");
    assert.match(within ?? "", /^\[/);
    // `show` prefixes a bulk string with $: the keys are {s}a and {s}b.
    assert.deepEqual([count, keys], [":3", ["[$", "{s}a, $", "{s}b]"].join("")]);
    client.close();
  });

  it("CLUSTER SLOTS, SHARDS, NODES, INFO and MYID show one shard of every slot, led by the Raft leader", async () => {
    const client = await RawClient.connect(server.port);
    const name = (id: number) => clusterNodeName("test-cluster", id);
    const [slots, shards, nodes, info, myid] = await calls(
      client,
      ["CLUSTER", "SLOTS"],
      ["CLUSTER", "SHARDS"],
      ["CLUSTER", "NODES"],
      ["CLUSTER", "INFO"],
      ["CLUSTER", "MYID"],
    );
    // The leader first, then the replica that answered; the unreachable one is left out.
    assert.equal(slots, `[[:0, :16383, [$127.0.0.1, :7001, $${name(1)}, []], [$127.0.0.1, :7002, $${name(2)}, []]]]`);
    assert.match(shards ?? "", /\$slots, \[:0, :16383\], \$nodes, /);
    assert.match(shards ?? "", new RegExp(`\\$id, \\$${name(2)}, \\$port, :7002, .*\\$role, \\$replica`));
    assert.match(shards ?? "", /\$health, \$fail/);
    assert.equal(
      nodes,
      `$${name(1)} 127.0.0.1:7001@7101 myself,master - 0 0 3 connected 0-16383\n` +
        `${name(2)} 127.0.0.1:7002@7102 slave ${name(1)} 0 0 3 connected\n` +
        `${name(3)} 127.0.0.1:0@7103 slave,fail ${name(1)} 0 0 3 disconnected\n`,
    );
    assert.match(info ?? "", /^\$cluster_state:ok\r\ncluster_slots_assigned:16384\r\n.*cluster_known_nodes:3\r\n/s);
    assert.equal(myid, `$${name(1)}`);
    assert.match(name(1), /^[0-9a-f]{40}$/);
    // No leader known: SLOTS says the cluster is down, INFO says fail.
    const saved = backend.topology;
    backend.topology = { ...saved, leaderId: 0 };
    try {
      const [downSlots, downInfo] = await calls(client, ["CLUSTER", "SLOTS"], ["CLUSTER", "INFO"]);
      assert.equal(downSlots, "-CLUSTERDOWN The cluster is down: no leader is known right now");
      assert.match(downInfo ?? "", /^\$cluster_state:fail\r\n/);
    } finally {
      backend.topology = saved;
    }
    client.close();
  });

  it("READONLY makes the connection's reads stale", async () => {
    const client = await RawClient.connect(server.port);
    const before = backend.readBatches.length;
    await calls(client, ["GET", "a"], ["READONLY"], ["GET", "a"], ["READWRITE"], ["GET", "a"]);
    assert.deepEqual(
      backend.readBatches.slice(before).map((batch) => batch.stale),
      [false, true, false],
    );
    client.close();
  });

  it("COMMAND COUNT/INFO/DOCS/GETKEYS come from the table in Redis's shapes", async () => {
    const client = await RawClient.connect(server.port);
    const [count, info, docs, getkeys, nokeys, bad, infoMissing] = await calls(
      client,
      ["COMMAND", "COUNT"],
      ["COMMAND", "INFO", "get"],
      ["COMMAND", "DOCS", "echo"],
      ["COMMAND", "GETKEYS", "SET", "k", "v"],
      ["COMMAND", "GETKEYS", "PING", "x"],
      ["COMMAND", "GETKEYS", "NOPE", "x"],
      ["COMMAND", "INFO", "nope"],
    );
    assert.match(count ?? "", /^:\d+$/);
    assert.equal(
      info,
      "[[$get, :2, [+readonly, +fast], :1, :1, :1, [+@read, +@string, +@fast], [], [[$flags, [+RO, +access], $begin_search, [$type, $index, $spec, [$index, :1]], $find_keys, [$type, $range, $spec, [$lastkey, :0, $keystep, :1, $limit, :0]]]], []]]",
    );
    assert.equal(
      docs,
      "[$echo, [$summary, $Echo the given string, $since, $1.0.0, $group, $connection, $complexity, $O(1)]]",
    );
    assert.equal(getkeys, "[$k]");
    assert.equal(nokeys, "-ERR The command has no key arguments");
    assert.equal(bad, "-ERR Invalid command specified");
    assert.equal(infoMissing, "[(nil)]");
    const client3 = await RawClient.connect(server.port);
    await client3.call("HELLO", "3");
    assert.equal(
      show(await client3.call("COMMAND", "INFO", "client|id")),
      "[[$client|id, :2, ~[+noscript, +loading, +stale], :0, :0, :0, ~[+@slow, +@connection], ~[], ~[], ~[]]]",
    );
    client.close();
    client3.close();
  });

  it("INFO prints Redis-style sections with the keyspace and raft figures", async () => {
    const client = await RawClient.connect(server.port);
    await client.call("SET", "info-key", "v");
    const text = show(await client.call("INFO"));
    assert.match(text, /^\$# Server\r\nredis_version:7\.0\.15\r\n/);
    assert.match(text, /\r\n\r\n# Clients\r\nconnected_clients:\d+\r\n/);
    assert.match(text, /# Raft\r\nraft_node_id:1\r\nraft_role:leader\r\n/);
    assert.match(text, /# Keyspace\r\ndb0:keys=\d+,expires=0,avg_ttl=0\r\n$/);
    assert.equal(show(await client.call("INFO", "nosuchsection")), "$");
    client.close();
  });

  it("INFO replication and HELLO report the Raft role: the leader a master, any other member a replica", async () => {
    const client = await RawClient.connect(server.port);
    const replication = async (): Promise<string> => show(await client.call("INFO", "replication"));
    const helloRole = async (): Promise<string> => show(await client.call("HELLO", "2")).split("role, ")[1] ?? "";
    try {
      assert.match(
        await replication(),
        /^\$# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:\d+\r\n$/,
      );
      assert.match(await helloRole(), /^\$master,/);
      backend.raftRole = "follower";
      assert.match(
        await replication(),
        /^\$# Replication\r\nrole:slave\r\nmaster_host:10\.0\.0\.2\r\nmaster_port:0\r\nmaster_link_status:up\r\nmaster_sync_in_progress:0\r\nslave_repl_offset:\d+\r\nslave_read_only:0\r\nconnected_slaves:0\r\nmaster_repl_offset:\d+\r\n$/,
      );
      assert.match(await helloRole(), /^\$replica,/);
      // An election in progress: a replica that knows no master, its link down.
      backend.raftRole = "preCandidate";
      const electing = await replication();
      assert.match(electing, /\r\nrole:slave\r\nmaster_host:\r\n/);
      assert.match(electing, /\r\nmaster_link_status:down\r\n/);
    } finally {
      backend.raftRole = "leader";
      client.close();
    }
  });
});

describe("RespServer: AUTH", () => {
  let server: RespServer;
  before(async () => {
    ({ server } = await startServer({ requirePass: "sekret" }));
  });
  after(() => server.close());

  it("answers NOAUTH before AUTH, except to AUTH/HELLO/QUIT/RESET, and WRONGPASS for a bad password", async () => {
    const client = await RawClient.connect(server.port);
    assert.deepEqual(
      await calls(
        client,
        ["GET", "a"],
        ["PING"],
        ["FOO"],
        ["HELLO", "3"],
        ["AUTH", "wrong"],
        ["AUTH", "x", "sekret"],
        ["AUTH", "sekret"],
        ["GET", "a"],
      ),
      [
        "-NOAUTH Authentication required.",
        "-NOAUTH Authentication required.",
        // Redis checks the command exists before authentication.
        "-ERR unknown command 'FOO', with args beginning with: ",
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        "-WRONGPASS invalid username-password pair or user is disabled.",
        "-WRONGPASS invalid username-password pair or user is disabled.",
        "+OK",
        "(nil)",
      ],
    );
    // RESET de-authenticates.
    assert.deepEqual(await calls(client, ["RESET"], ["GET", "a"]), ["+RESET", "-NOAUTH Authentication required."]);
    client.close();
  });

  it("HELLO 3 AUTH default <pass> authenticates; before AUTH Redis's stricter request limits apply", async () => {
    const client = await RawClient.connect(server.port);
    const hello = show(await client.call("HELLO", "3", "AUTH", "default", "sekret", "SETNAME", "me"));
    assert.match(hello, /\$proto: :3/);
    assert.equal(show(await client.call("CLIENT", "GETNAME")), "$me");
    client.close();
    const stranger = await RawClient.connect(server.port);
    stranger.send(Array.from({ length: 11 }, () => "x"));
    assert.equal(show(await stranger.readOne()), "-ERR Protocol error: unauthenticated multibulk length");
    assert.equal(await stranger.waitClosed(), true);
  });
});

describe("RespServer: MULTI/EXEC/WATCH", () => {
  let server: RespServer;
  let backend: TestBackend;
  before(async () => {
    ({ server, backend } = await startServer());
  });
  after(() => server.close());

  it("queues, runs the block as one entry (reads included), answers PING/ECHO at their position", async () => {
    const client = await RawClient.connect(server.port);
    const before = backend.entries.length;
    assert.deepEqual(
      await calls(client, ["MULTI"], ["SET", "m", "1"], ["PING"], ["GET", "m"], ["ECHO", "e"], ["EXEC"]),
      ["+OK", "+QUEUED", "+QUEUED", "+QUEUED", "+QUEUED", "[+OK, +PONG, $1, $e]"],
    );
    assert.deepEqual(
      backend.entries.slice(before).map((entry) => entry.length),
      [2],
    );
    assert.deepEqual(await calls(client, ["MULTI"], ["EXEC"]), ["+OK", "[]"]);
    client.close();
  });

  it("answers Redis's errors for misuse and EXECABORT after a queue-time error", async () => {
    const client = await RawClient.connect(server.port);
    assert.deepEqual(
      await calls(
        client,
        ["EXEC"],
        ["DISCARD"],
        ["MULTI"],
        ["MULTI"],
        ["WATCH", "a"],
        ["SET", "q", "1"],
        ["FOO"],
        ["GET"],
        ["EXEC"],
        ["GET", "q"],
        ["MULTI"],
        ["SET", "q", "2"],
        ["DISCARD"],
        ["GET", "q"],
        ["MULTI"],
        ["SUBSCRIBE", "c"],
        ["EXEC"],
      ),
      [
        "-ERR EXEC without MULTI",
        "-ERR DISCARD without MULTI",
        "+OK",
        "-ERR MULTI calls can not be nested",
        "-ERR WATCH inside MULTI is not allowed",
        "+QUEUED",
        "-ERR unknown command 'FOO', with args beginning with: ",
        "-ERR wrong number of arguments for 'get' command",
        "-EXECABORT Transaction discarded because of previous errors.",
        "(nil)",
        "+OK",
        "+QUEUED",
        "+OK",
        "(nil)",
        "+OK",
        "-ERR Command not allowed inside a transaction",
        "-EXECABORT Transaction discarded because of previous errors.",
      ],
    );
    client.close();
  });

  it("WATCH: a key changed by another connection aborts EXEC with a null array; unchanged runs", async () => {
    const a = await RawClient.connect(server.port);
    const b = await RawClient.connect(server.port);
    await a.call("SET", "wk", "0");
    assert.deepEqual(await calls(a, ["WATCH", "wk"], ["MULTI"], ["SET", "wk", "a"]), ["+OK", "+OK", "+QUEUED"]);
    assert.equal(show(await b.call("SET", "wk", "b")), "+OK");
    a.received = [];
    assert.deepEqual(await calls(a, ["EXEC"], ["GET", "wk"]), ["(nil)", "$b"]);
    assert.equal(Buffer.concat(a.received).toString(), "*-1\r\n$1\r\nb\r\n");
    // After EXEC nothing is watched any more; an unchanged watched key lets EXEC run.
    assert.deepEqual(await calls(a, ["WATCH", "wk", "other"], ["MULTI"], ["SET", "wk", "c"], ["EXEC"]), [
      "+OK",
      "+OK",
      "+QUEUED",
      "[+OK]",
    ]);
    assert.deepEqual(await calls(a, ["WATCH", "wk"], ["UNWATCH"], ["MULTI"], ["GET", "wk"], ["EXEC"]), [
      "+OK",
      "+OK",
      "+OK",
      "+QUEUED",
      "[$c]",
    ]);
    a.close();
    b.close();
  });
});

describe("RespServer: pub/sub", () => {
  let server: RespServer;
  before(async () => {
    ({ server } = await startServer());
  });
  after(() => server.close());

  it("RESP2: subscribe replies, messages, pattern messages, the subscribe-mode restriction and PING", async () => {
    const sub = await RawClient.connect(server.port);
    const pub = await RawClient.connect(server.port);
    sub.send(["SUBSCRIBE", "news", "sport"], ["PSUBSCRIBE", "n*"]);
    assert.deepEqual((await sub.read(3)).map(show), [
      "[$subscribe, $news, :1]",
      "[$subscribe, $sport, :2]",
      "[$psubscribe, $n*, :3]",
    ]);
    assert.deepEqual(await calls(pub, ["PUBLISH", "news", "hello"], ["PUBLISH", "none", "x"]), [":2", ":1"]);
    assert.deepEqual((await sub.read(3)).map(show), [
      "[$message, $news, $hello]",
      "[$pmessage, $n*, $news, $hello]",
      "[$pmessage, $n*, $none, $x]",
    ]);
    assert.deepEqual(
      await calls(pub, ["PUBSUB", "CHANNELS"], ["PUBSUB", "NUMSUB", "news", "zzz"], ["PUBSUB", "NUMPAT"]),
      ["[$news, $sport]", "[$news, :1, $zzz, :0]", ":1"],
    );
    assert.deepEqual(await calls(sub, ["GET", "a"], ["PING"], ["PING", "x"]), [
      "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
      "[$pong, $]",
      "[$pong, $x]",
    ]);
    sub.send(["UNSUBSCRIBE"], ["PUNSUBSCRIBE", "n*"], ["UNSUBSCRIBE"]);
    assert.deepEqual((await sub.read(4)).map(show), [
      "[$unsubscribe, $news, :2]",
      "[$unsubscribe, $sport, :1]",
      "[$punsubscribe, $n*, :0]",
      "[$unsubscribe, (nil), :0]",
    ]);
    assert.deepEqual(await calls(sub, ["GET", "a"]), ["(nil)"]);
    assert.deepEqual(await calls(pub, ["PUBLISH", "news", "x"]), [":0"]);
    sub.close();
    pub.close();
  });

  it("RESP3: subscriptions and messages are pushes, other commands still work", async () => {
    const sub = await RawClient.connect(server.port);
    await sub.call("HELLO", "3");
    assert.equal(show(await sub.call("SUBSCRIBE", "r3")), ">[$subscribe, $r3, :1]");
    assert.deepEqual(await calls(sub, ["GET", "a"], ["PING"]), ["(nil)", "+PONG"]);
    const pub = await RawClient.connect(server.port);
    assert.equal(show(await pub.call("PUBLISH", "r3", "m")), ":1");
    assert.equal(show(await sub.readOne()), ">[$message, $r3, $m]");
    // A closed subscriber is dropped from the hub.
    sub.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(show(await pub.call("PUBLISH", "r3", "m")), ":0");
    pub.close();
  });
});

describe("RespServer with strict Redis Cluster redirects", () => {
  let server: RespServer;
  let backend: TestBackend;
  before(async () => {
    ({ server, backend } = await startServer({ clusterRedirects: true }));
  });
  after(() => server.close());

  it("a follower answers -MOVED with the leader's address, -CROSSSLOT across slots, and serves READONLY reads", async () => {
    backend.raftRole = "follower";
    backend.topology = { ...backend.topology, leaderId: 2 };
    const client = await RawClient.connect(server.port);
    // The leader's address is learned in the background; the first answer may still say CLUSTERDOWN.
    let first = "";
    for (let i = 0; i < 50 && !first.startsWith("-MOVED"); i++) {
      [first = ""] = await calls(client, ["GET", "foo"]);
      await new Promise((resolve) => setTimeout(resolve, 1100 * Number(i === 0)));
    }
    assert.equal(first, "-MOVED 12182 127.0.0.1:7002");
    assert.deepEqual(
      await calls(
        client,
        ["SET", "{user1000}.a", "1"],
        ["MSET", "a", "1", "b", "2"],
        ["MSET", "{t}a", "1", "{t}b", "2"],
        ["PING"],
        ["DBSIZE"],
        ["READONLY"],
        ["GET", "foo"],
        ["SET", "foo", "1"],
      ),
      [
        "-MOVED 3443 127.0.0.1:7002",
        "-CROSSSLOT Keys in request don't hash to the same slot",
        `-MOVED ${hashSlotOf("t")} 127.0.0.1:7002`,
        "+PONG",
        ":0", // no key: served here
        "+OK",
        "(nil)", // a replica read after READONLY
        "-MOVED 12182 127.0.0.1:7002",
      ],
    );
    // Inside MULTI a redirect is a queue-time error: EXEC aborts.
    assert.deepEqual(await calls(client, ["READWRITE"], ["MULTI"], ["GET", "foo"], ["EXEC"]), [
      "+OK",
      "+OK",
      "-MOVED 12182 127.0.0.1:7002",
      "-EXECABORT Transaction discarded because of previous errors.",
    ]);
    // The leader serves everything of one slot, and still refuses CROSSSLOT.
    backend.raftRole = "leader";
    assert.deepEqual(await calls(client, ["SET", "foo", "1"], ["MSET", "a", "1", "b", "2"]), [
      "+OK",
      "-CROSSSLOT Keys in request don't hash to the same slot",
    ]);
    client.close();
  });

  it("a slot its shard handed off answers -ASK with the new shard's leader; ASKING lets the next command through", async () => {
    backend.raftRole = "leader";
    const slot = hashSlotOf("foo");
    backend.topology = {
      ...backend.topology,
      leaderId: 1,
      shards: [
        { id: 1, slots: [{ from: 0, to: 16383 }], leaderId: 1, term: 3, replicaIds: [1, 2] },
        { id: 2, slots: [], leaderId: 2, term: 3, replicaIds: [1, 2] },
      ],
    };
    backend.handedOff.set(slot, 2);
    const client = await RawClient.connect(server.port);
    try {
      let first = "";
      for (let i = 0; i < 50 && !first.startsWith("-ASK"); i++) {
        [first = ""] = await calls(client, ["GET", "foo"]);
        if (!first.startsWith("-ASK")) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(first, `-ASK ${slot} 127.0.0.1:7002`);
      // ASKING covers one command: the one after it is served, the next is sent away again.
      assert.deepEqual(await calls(client, ["ASKING"], ["SET", "foo", "1"], ["GET", "foo"]), [
        "+OK",
        "+OK",
        `-ASK ${slot} 127.0.0.1:7002`,
      ]);
      assert.deepEqual(await calls(client, ["GET", "bar"]), ["(nil)"]); // another slot: served
    } finally {
      backend.handedOff.clear();
      backend.topology = { ...backend.topology, shards: undefined };
      client.close();
    }
  });
});

function hashSlotOf(key: string): number {
  return hashSlot(new TextEncoder().encode(key));
}
