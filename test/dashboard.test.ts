/**
 * The dashboard in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
 * opens node 1's page on a running 3-node cluster, sees three members and a leader, sees a killed member
 * marked unreachable, and, when node 1 itself dies, moves to another member's dashboard. Screenshots go to
 * test-results/. Skips when /usr/bin/chromium is absent (.ci/run installs it).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import { ProcessCluster } from "./support/process-cluster.js";

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

test("the dashboard shows members, marks a dead one unreachable, and survives its own node's death", {
  skip,
  timeout: 60_000,
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
  await page.goto(`${cluster.url(1)}/`);
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

  // A member other than the page's own node dies: its row says unreachable, the page stays live.
  await cluster.kill(3);
  await page.locator('#members tr[data-member-id="3"][data-role="unreachable"]').waitFor({ timeout: 15_000 });
  await page.locator('#members tr[data-role="leader"]').waitFor({ timeout: 15_000 }); // 1 and 2 still form a quorum
  assert.equal(await page.locator("#reachable").textContent(), "2 / 3");
  assert.equal(await page.locator("#connection").getAttribute("data-state"), "live");
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
  await page.screenshot({ path: `${RESULTS_DIR}/dashboard-failover.png`, fullPage: true });
  assert.deepEqual(pageErrors, []);
});
