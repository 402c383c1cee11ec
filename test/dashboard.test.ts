/**
 * The dashboard in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
 * opens node 1's page on a running 3-node cluster that has served RESP traffic for a few seconds: the charts
 * have points at once (the node's kept samples), RESP commands are charted, every member's keys, memory and disk
 * are shown. A killed member is marked unreachable with its lag unknown; when node 1 itself dies too, the page
 * moves to node 2's dashboard, which says the quorum is lost. Screenshots go to test-results/. Skips when
 * /usr/bin/chromium is absent (.ci/run installs it). A second test: a replica move in progress shows on the shard's
 * row, and the new replica once done; then slots moving between shards show on both shards' rows until done.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { connect } from "node:net";
import { resolve } from "node:path";
import { test } from "node:test";
import { eventually, ProcessCluster, sleep } from "./support/process-cluster.js";

const CHROMIUM = "/usr/bin/chromium";
const RESULTS_DIR = resolve("test-results");
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is absent: install Debian's chromium (apt-get install chromium; .ci/run does)`;

test("the dashboard shows members, history, resources; marks a dead one unreachable and a lost quorum; survives its own node's death", {
  skip,
  timeout: 90_000,
}, async (t) => {
  const { chromium } = await import("playwright-core");
  mkdirSync(RESULTS_DIR, { recursive: true });
  const cluster = await ProcessCluster.start({ nodes: 3 });
  t.after(() => cluster.stop());
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));

  await cluster.waitForLeader();
  // A few seconds of RESP traffic before the page exists: its charts must show them from their kept samples.
  for (let second = 0; second < 4; second++) {
    await respPipeline(cluster.respPort(1), 50);
    await sleep(1000);
  }
  const kept = (await (await fetch(`${cluster.url(1)}/v1/dashboard/samples`)).json()) as {
    samples: { respCommandsPerSecond: number | null; respP99Ms: number | null; keys: number | null }[];
  };
  assert.ok(kept.samples.length >= 4, `${kept.samples.length} samples kept`);
  assert.ok(kept.samples.some((sample) => (sample.respCommandsPerSecond ?? 0) > 0 && sample.respP99Ms !== null));
  const openedAt = Date.now();
  await page.goto(`${cluster.url(1)}/`);
  // The first drawing already holds the history: more points than the seconds the page has been open.
  const points = page.locator("#chart-throughput[data-points]");
  await points.waitFor({ timeout: 5_000 });
  const secondsOpen = (Date.now() - openedAt) / 1000;
  const firstPoints = Number(await points.getAttribute("data-points"));
  assert.ok(firstPoints >= 4 && firstPoints > secondsOpen + 1, `${firstPoints} points after ${secondsOpen} s`);
  assert.ok(Number(await page.locator("#chart-latency").getAttribute("data-points")) >= 4);
  const legend = (await page.locator(".charts").textContent()) ?? "";
  for (const series of ["HTTP requests/s", "RESP commands/s", "HTTP p99 ms", "RESP p99 ms"]) {
    assert.ok(legend.includes(series), `the charts show ${series}`);
  }
  // Polled through locators, not page.waitForFunction: evaluating a predicate string runs `eval` in the page,
  // which the dashboard's Content-Security-Policy (script-src 'self') refuses — intermittently, depending on
  // which world Playwright evaluates in.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const members = await page.locator("#members tbody tr[data-member-id]").count();
    const leaders = await page.locator('#members tbody tr[data-role="leader"]').count();
    if (members === 3 && leaders === 1) break;
    assert.ok(Date.now() < deadline, `the dashboard shows ${members} members and ${leaders} leaders`);
    await page.waitForTimeout(100);
  }
  assert.equal(await page.locator("#connection").getAttribute("data-state"), "live");
  assert.match((await page.locator("#leader").textContent()) ?? "", /^node \d$/);
  assert.equal(await page.locator("body").getAttribute("data-quorum"), "ok");
  assert.equal(await page.locator("#quorum-banner").isVisible(), false);
  // Every member's keys, memory and disk, each asked of the member itself.
  // One shard of every slot, led by the leader the members table shows.
  const shard = (await page.locator('#shards tr[data-shard-id="1"] td').allTextContents()).map((t) => t.trim());
  const leaderId = await page.locator('#members tbody tr[data-role="leader"]').getAttribute("data-member-id");
  assert.equal(shard[1], "0–16383");
  assert.equal(shard[2], `node ${leaderId}`);
  assert.equal(shard[3]?.split(", ").length, 2, `two replicas: ${shard[3]}`);
  await page.locator('#resources tr[data-known="yes"]').nth(2).waitFor({ timeout: 10_000 });
  const node1 = (await page.locator('#resources tr[data-member-id="1"] td').allTextContents()).slice(1);
  assert.match(node1[0] ?? "", /^\d[\d,]*$/, `keys: ${node1}`);
  // RSS, store file, WAL, data (no maxmemory: no "of …"), then keys evicted.
  for (const bytes of node1.slice(1, 5)) assert.match(bytes, /^\d+(\.\d)? (B|KiB|MiB|GiB)$/, `bytes: ${node1}`);
  assert.equal(node1[5], "0", `evicted: ${node1}`);
  // The lag chart has the leader's recent history too.
  assert.ok(Number(await page.locator("#chart-lag").getAttribute("data-points")) >= 4, "lag history on open");

  // A member other than the page's own node dies: its row says unreachable, the page stays live.
  await cluster.kill(3);
  await page.locator('#members tr[data-member-id="3"][data-role="unreachable"]').waitFor({ timeout: 15_000 });
  await page.locator('#members tr[data-role="leader"]').waitFor({ timeout: 15_000 }); // 1 and 2 still form a quorum
  assert.equal(await page.locator("#reachable").textContent(), "2 / 3");
  assert.equal(await page.locator("#connection").getAttribute("data-state"), "live");
  // Its lag and figures are unknown (a leader elected since it died would count its whole log), and two of
  // three still form a quorum.
  await page.locator('#members tr[data-member-id="3"] td.num', { hasText: "unknown" }).waitFor({ timeout: 5_000 });
  await page.locator('#resources tr[data-member-id="3"][data-known="no"]').waitFor({ timeout: 5_000 });
  assert.equal(await page.locator("#quorum-banner").isVisible(), false);
  await page.waitForTimeout(1500); // let the charts gather a few points for the screenshot
  await page.screenshot({ path: `${RESULTS_DIR}/dashboard-member-down.png`, fullPage: true });

  // The page's own node dies: the page says so, finds node 2 (the only one left) and moves to its dashboard.
  const node2 = new URL(cluster.url(2));
  await cluster.kill(1);
  await page.locator("#banner", { hasText: "stopped answering" }).waitFor({ timeout: 10_000 });
  await page.waitForURL((url) => url.port === node2.port, { timeout: 15_000 });
  await page.locator('#members tr[data-member-id="1"][data-role="unreachable"]').waitFor({ timeout: 15_000 });
  await page.locator('#members tr[data-member-id="3"][data-role="unreachable"]').waitFor({ timeout: 15_000 });
  assert.equal(await page.locator("#reachable").textContent(), "1 / 3");
  // Node 2 alone: no leader can be elected, and the page says so.
  const quorum = page.locator("#quorum-banner");
  await quorum.waitFor({ state: "visible", timeout: 10_000 });
  assert.match(
    (await quorum.textContent()) ?? "",
    /^Quorum lost — writes are failing\. 2 of 3 members are down \(nodes 1 and 3\); a leader needs 2 of 3\./,
  );
  await page.locator('#resources tr[data-member-id="2"][data-known="yes"]').waitFor({ timeout: 5_000 });
  await page.screenshot({ path: `${RESULTS_DIR}/dashboard-failover.png`, fullPage: true });
  assert.deepEqual(pageErrors, []);
});

test("the dashboard shows a replica move while it runs, and the new replica once it is done; then a slot move", {
  skip,
  timeout: 150_000,
}, async (t) => {
  const { chromium } = await import("playwright-core");
  mkdirSync(RESULTS_DIR, { recursive: true });
  const cluster = await ProcessCluster.start({ nodes: 4, extraArgs: ["--shards", "2", "--replicas", "3"] });
  t.after(() => cluster.stop());
  await cluster.pauseRebalancer();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  const shard = await eventually("shard 1's leader", async () => {
    const view = (await (await fetch(`${cluster.url(1)}/v1/admin/shards`)).json()) as {
      shards: { id: number; replicas: number[]; leader: number }[];
    };
    const one = view.shards.find((each) => each.id === 1);
    return one !== undefined && one.leader > 0 ? one : undefined;
  });
  const to = [1, 2, 3, 4].find((id) => !shard.replicas.includes(id)) as number;
  const from = shard.replicas.find((id) => id !== shard.leader && id !== 1) ?? (shard.replicas[0] as number);
  const watcher = [1, 2, 3, 4].find((id) => id !== to) as number;
  // The new member is paused: its learner cannot catch up, so the move stays in progress on the page.
  cluster.signal(to, "SIGSTOP");
  const moved = await fetch(`${cluster.url(watcher)}/v1/admin/shards/1/move`, {
    method: "POST",
    body: JSON.stringify({ from, to }),
  });
  assert.equal(moved.status, 202, await moved.text());
  await page.goto(`${cluster.url(watcher)}/`);
  const moving = page.locator('#shards tr[data-shard-id="1"] .moving');
  await moving.waitFor({ timeout: 15_000 });
  assert.equal((await moving.textContent())?.trim(), `· moving off node ${from}`);
  await page.screenshot({ path: `${RESULTS_DIR}/dashboard-move.png`, fullPage: true });
  cluster.signal(to, "SIGCONT");
  await moving.waitFor({ state: "detached", timeout: 30_000 });
  const replicas = (await page.locator('#shards tr[data-shard-id="1"] td').nth(3).textContent()) ?? "";
  assert.ok(replicas.includes(`node ${to}`) && !replicas.includes(`node ${from}`), replicas);

  // Slots moving between shards show on both rows. Keys to copy keep the move on the page for a few of its
  // one-second refreshes (8000 empty slots move in well under a second).
  await respPipeline(cluster.respPort(watcher), 9_999);
  const slotMove = await fetch(`${cluster.url(watcher)}/v1/admin/slots/move`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ slots: Array.from({ length: 8000 }, (_, i) => i), to: 2 }),
  });
  assert.equal(slotMove.status, 202, await slotMove.text());
  const leaving = page.locator('#shards tr[data-shard-id="1"] .slots-moving');
  await leaving.waitFor({ timeout: 10_000 });
  assert.match((await leaving.textContent()) ?? "", /^ · [\d,]+ slots? moving to shard 2$/);
  const arriving = (await page.locator('#shards tr[data-shard-id="2"] .slots-moving').textContent()) ?? "";
  assert.match(arriving, /^ · [\d,]+ slots? arriving from shard 1$/);
  await page.screenshot({ path: `${RESULTS_DIR}/dashboard-slot-move.png`, fullPage: true });
  await leaving.waitFor({ state: "detached", timeout: 60_000 });
  const slots = (await page.locator('#shards tr[data-shard-id="2"] td').nth(1).textContent()) ?? "";
  assert.equal(slots, "0–7999, 8192–16383");
  assert.deepEqual(pageErrors, []);
});

/** Sends `count` pipelined SETs over RESP and waits for their replies. */
function respPipeline(port: number, count: number): Promise<void> {
  const command = (i: number) => `*3\r\n$3\r\nSET\r\n$9\r\ndash-${String(i).padStart(4, "0")}\r\n$1\r\nx\r\n`;
  return new Promise((done, fail) => {
    const socket = connect(port, "127.0.0.1", () =>
      socket.write(Array.from({ length: count }, (_, i) => command(i)).join("")),
    );
    let replies = "";
    socket.on("data", (chunk) => {
      replies += chunk.toString();
      if (replies.split("\r\n").length > count) {
        socket.end();
        done();
      }
    });
    socket.once("error", fail);
  });
}
