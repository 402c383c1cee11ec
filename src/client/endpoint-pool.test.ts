import assert from "node:assert/strict";
import { test } from "node:test";
import { EndpointPool, normalizeEndpoint } from "./endpoint-pool.js";

test("normalizeEndpoint adds a scheme, drops trailing slashes and rejects what is not http", () => {
  assert.equal(normalizeEndpoint("127.0.0.1:8001"), "http://127.0.0.1:8001");
  assert.equal(normalizeEndpoint("https://db.example:443/"), "https://db.example");
  assert.equal(normalizeEndpoint("http://h:1/base//"), "http://h:1/base");
  assert.throws(() => normalizeEndpoint("ftp://h:1"), /expected an http or https URL/);
  assert.throws(() => normalizeEndpoint("http://"), /Cannot parse endpoint/);
});

test("a failed endpoint goes last, a successful one first, learnt ones join once", () => {
  const pool = new EndpointPool(["a:1", "b:2", "a:1"]);
  assert.deepEqual(pool.ordered(), ["http://a:1", "http://b:2"]);
  pool.failed("http://a:1");
  assert.equal(pool.current(), "http://b:2");
  pool.learn(["b:2", "c:3", ""]);
  assert.deepEqual(pool.ordered(), ["http://b:2", "http://a:1", "http://c:3"]);
  pool.succeeded("http://c:3");
  assert.deepEqual(pool.ordered(), ["http://c:3", "http://b:2", "http://a:1"]);
  assert.throws(() => new EndpointPool([]), /without an endpoint/);
});
