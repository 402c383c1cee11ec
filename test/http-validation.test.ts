/**
 * Every validation failure of the HTTP API reads as a sentence that names the parameter and says what it
 * accepts, never the validator's regular expression. The cases are generated from the API itself: every query
 * parameter and header of every route in /v1/openapi.json (a wrong value where the schema constrains it, the
 * parameter twice, an unknown one) and every field of the txn body's schema (wrong type, missing, unknown) —
 * so a parameter added later is covered without a new case. Against one node in this process.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { txnBody } from "../src/http/schemas.js";
import { createHttpServer } from "../src/http/server.js";
import { nodeDefaults } from "../src/node/node-options.js";
import { ShoalNode } from "../src/node/shoal-node.js";
import { freePort, sleep } from "./support/process-cluster.js";

/** What a regular expression or a validator's own wording looks like in a message. */
const REGEX_LIKE = /\^|\$|\\[dswDSW.]|\[[^\]]*-[^\]]*\]|\{\d+,\d*\}|\(\?|\.\*|\.\+|must match|pattern|schema|#\//;

interface Case {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** The parameter the message must name, as a client spells it. */
  readonly parameter: string;
}

interface OpenApiParameter {
  readonly name: string;
  readonly in: "path" | "query" | "header";
  readonly schema: { readonly pattern?: string; readonly enum?: readonly string[] };
}

describe("validation errors are sentences", { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "shoal-http-validation-"));
  let node: ShoalNode;
  let http: FastifyInstance;
  let url: string;
  before(async () => {
    const port = await freePort();
    node = await ShoalNode.start({
      ...nodeDefaults,
      id: 1,
      dataDir: dir,
      members: new Map([[1, { peer: `127.0.0.1:${port}`, http: "" }]]),
      tickMs: 10,
      fsync: "never",
      logger: pino({ level: "silent" }),
      onFatal: (error) => {
        throw error;
      },
    });
    http = createHttpServer(node);
    await http.listen({ host: "127.0.0.1", port: 0 });
    const address = http.server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
    while ((await fetch(`${url}/readyz`)).status !== 200) await sleep(20);
  });
  after(async () => {
    await http?.close();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a wrong value for every parameter of every route, and for every txn body field", async () => {
    const document = (await (await fetch(`${url}/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { parameters?: OpenApiParameter[] }>>;
    };
    const cases = [...parameterCases(document.paths), ...txnBodyCases(), ...handlerCheckedCases()];
    assert.ok(cases.length > 40, `${cases.length} cases`);
    const routes = new Set(cases.map((c) => `${c.method} ${c.path.split("?")[0]}`));
    for (const route of [
      "GET /v1/kv",
      "GET /v1/kv/k",
      "PUT /v1/kv/k",
      "DELETE /v1/kv/k",
      "GET /v1/watch",
      "GET /v1/dashboard/samples",
    ]) {
      assert.ok(routes.has(route), `${route} is covered`);
    }
    for (const c of cases) {
      const response = await fetch(`${url}${c.path}`, {
        method: c.method,
        headers: c.headers ?? {},
        ...(c.body === undefined ? {} : { body: c.body }),
      });
      const answer = (await response.json()) as { code: string; message: string; parameter?: string };
      const label = `${c.name}: ${answer.message}`;
      assert.equal(response.status, 400, label);
      assert.equal(answer.code, "BAD_REQUEST", label);
      assert.ok(
        answer.message.toLowerCase().includes(`'${c.parameter.toLowerCase()}'`),
        `names the parameter; ${label}`,
      );
      assert.doesNotMatch(answer.message, REGEX_LIKE, label);
      assert.match(answer.message, /^[A-Z][^\n]+[^.\s]$/, `one sentence; ${label}`);
    }
  });

  test("the messages say what is accepted", async () => {
    const message = async (path: string, init: RequestInit = {}) =>
      ((await (await fetch(`${url}${path}`, init)).json()) as { message: string }).message;
    assert.equal(
      await message("/v1/kv/k?ttl=-1", { method: "PUT", body: "x" }),
      `Query parameter 'ttl' must be a positive number of seconds (up to 3 decimals, at most 315360000), not "-1"`,
    );
    assert.equal(
      await message("/v1/kv/k?consistency=sometimes"),
      `Query parameter 'consistency' must be one of "linearizable" or "stale", not "sometimes"`,
    );
    assert.equal(
      await message("/v1/kv?limt=3"),
      "Query parameter 'limt' is not accepted: expected prefix, after, limit or consistency",
    );
    assert.equal(await message("/v1/kv?limit=1&limit=2"), "Query parameter 'limit' must be given once");
    assert.equal(
      await message("/v1/txn", { method: "POST", body: '{"success":[{"op":"put","key":"a"}]}' }),
      "Body field 'success[0].value' is required",
    );
    assert.equal(
      await message("/v1/txn", { method: "POST", body: "[]" }),
      "The body must be a JSON object, not an array",
    );
  });
});

/** Per route and parameter: a value its schema refuses (if it constrains one), the parameter twice, an unknown one. */
function parameterCases(paths: Record<string, Record<string, { parameters?: OpenApiParameter[] }>>): Case[] {
  const cases: Case[] = [];
  for (const [template, operations] of Object.entries(paths)) {
    const path = template.replace("{key}", "k");
    for (const [verb, operation] of Object.entries(operations)) {
      const method = verb.toUpperCase();
      const body = method === "PUT" || method === "POST" ? "{}" : undefined;
      const base = { method, ...(body === undefined ? {} : { body }) };
      for (const parameter of operation.parameters ?? []) {
        const constrained = parameter.schema.pattern !== undefined || parameter.schema.enum !== undefined;
        const name = parameter.name;
        if (parameter.in === "query") {
          if (constrained) {
            cases.push({
              ...base,
              name: `${method} ${template} ${name}=bad`,
              path: `${path}?${name}=no%20good!`,
              parameter: name,
            });
          }
          cases.push({
            ...base,
            name: `${method} ${template} ${name} twice`,
            path: `${path}?${name}=1&${name}=2`,
            parameter: name,
          });
        } else if (parameter.in === "header" && constrained) {
          cases.push({
            ...base,
            name: `${method} ${template} ${name}: bad`,
            path,
            headers: { [name]: "no good!" },
            parameter: name,
          });
        }
      }
      // The data routes refuse what they do not know; the status routes (health, cluster, metrics) ignore it.
      if (!/^\/v1\/(kv|txn|watch|dashboard)/.test(path)) continue;
      cases.push({
        ...base,
        name: `${method} ${template} unknown parameter`,
        path: `${path}?bogus=1`,
        parameter: "bogus",
      });
    }
  }
  return cases;
}

/** Every field of a compare and an op: a value of the wrong type, left out when required, and an unknown field. */
function txnBodyCases(): Case[] {
  const compare = { key: "a", target: "value", op: "==", value: "x" };
  const op = { op: "put", key: "a", value: "v", ttl: 1 };
  const items: [string, Record<string, unknown>, { properties: object; required: readonly string[] }][] = [
    ["compare", compare, txnBody.properties.compare.items],
    ["success", op, txnBody.properties.success.items],
    ["failure", op, txnBody.properties.failure.items],
  ];
  const cases: Case[] = [];
  const post = (name: string, body: unknown, parameter: string): Case => ({
    name,
    method: "POST",
    path: "/v1/txn",
    body: JSON.stringify(body),
    parameter,
  });
  for (const [list, valid, schema] of items) {
    cases.push(post(`${list} not an array`, { [list]: "x" }, list));
    cases.push(post(`${list} unknown field`, { [list]: [{ ...valid, bogus: 1 }] }, `${list}[0].bogus`));
    for (const field of Object.keys(schema.properties)) {
      cases.push(
        post(
          `${list}[0].${field} wrong type`,
          { [list]: [{ ...valid, [field]: { no: "good" } }] },
          `${list}[0].${field}`,
        ),
      );
    }
    for (const field of schema.required) {
      const { [field]: _left, ...without } = valid;
      cases.push(post(`${list}[0] without ${field}`, { [list]: [without] }, `${list}[0].${field}`));
    }
  }
  cases.push(
    post(
      "revision compare with a string",
      { compare: [{ ...compare, target: "version", value: "1" }] },
      "compare[0].value",
    ),
  );
  cases.push(post("put with a negative ttl", { success: [{ ...op, ttl: -1 }] }, "success[0].ttl"));
  cases.push(post("unknown top-level field", { compares: [] }, "compares"));
  return cases;
}

/** Values the schema lets through and the handler refuses: the same voice. */
function handlerCheckedCases(): Case[] {
  return [
    { name: "ttl 0", method: "PUT", path: "/v1/kv/k?ttl=0", body: "x", parameter: "ttl" },
    { name: "ttl beyond ten years", method: "PUT", path: "/v1/kv/k?ttl=9999999999", body: "x", parameter: "ttl" },
    { name: "limit 0", method: "GET", path: "/v1/kv?limit=0", parameter: "limit" },
    { name: "limit 5000", method: "GET", path: "/v1/kv?limit=5000", parameter: "limit" },
    { name: "watch from revision 0", method: "GET", path: "/v1/watch?from_revision=0", parameter: "from_revision" },
  ];
}
