/**
 * Shoal dashboard: plain JavaScript served as is (no build step), one module. Every second it asks the node that
 * served the page for `/v1/cluster` (members, roles, terms, indexes, lag) and `/metrics` (request latency, when
 * the node exposes a request-duration histogram), renders the table and feeds three uPlot charts.
 *
 * When the serving node stops answering, the table stays with its last answer (greyed) under a banner, and the
 * page probes the other members' HTTP addresses it has learnt, `/healthz` in no-cors mode (an opaque answer
 * still proves the node is up, and needs no CORS headers on the API), then moves to the first one's dashboard.
 *
 * All text goes into the DOM through textContent, never innerHTML.
 */

const POLL_INTERVAL_MS = 1000;
/** A slow answer is still an answer: a node asks its peers for /v1/cluster, waiting up to 500 ms for each. */
const REQUEST_TIMEOUT_MS = 2000;
/** Consecutive failed polls before the node is declared lost (one can be a hiccup). */
const FAILURES_BEFORE_LOST = 2;
/** Points kept per chart: five minutes at one a second. */
const HISTORY_POINTS_MAX = 300;
const SWITCH_DELAY_MS = 1500;
const CHART_WINDOW_S_MIN = 60;
const LAG_WARN = 1;
const LAG_BAD = 100;

const state = {
  /** Id of the node serving this page, once it has answered. */
  selfId: undefined,
  /** id → { http, peer }: the last addresses each member was known by (kept while it is down). */
  members: new Map(),
  /**
   * id → http address handed over by the previous page (in the URL), for members this node cannot describe.
   * Used only where it matches the member's peer host or this page's host, so a crafted link cannot send the
   * page to an arbitrary site.
   */
  hinted: new Map(),
  failures: 0,
  lostSince: undefined,
  probing: false,
  switching: false,
  /** { t, commitIndex } of the previous answer, for the commit rate. */
  previous: undefined,
  /** The previous /metrics histogram and its time, for rates and latency over the last interval. */
  previousMetrics: undefined,
  metricsAvailable: true,
  history: { t: [], committed: [], requests: [], p50: [], p99: [], lag: new Map() },
  charts: { throughput: undefined, latency: undefined, lag: undefined, lagIds: "" },
};

const $ = (id) => document.getElementById(id);

// ---- Polling ----

async function tick() {
  const now = Date.now() / 1000;
  const [status, metrics] = await Promise.all([fetchJson("/v1/cluster"), fetchMetrics()]);
  if (status.ok) onStatus(status.value, now, metrics);
  else onFailure(status.reason);
  setTimeout(tick, POLL_INTERVAL_MS);
}

async function fetchJson(path) {
  try {
    const response = await fetch(path, { cache: "no-store", signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (!response.ok) return { ok: false, reason: `HTTP ${response.status}` };
    return { ok: true, value: await response.json() };
  } catch (error) {
    return { ok: false, reason: error?.name === "TimeoutError" ? "no answer within 2 s" : "connection failed" };
  }
}

/** The chosen latency histogram from /metrics, or undefined (no /metrics, no histogram, node down). */
async function fetchMetrics() {
  if (!state.metricsAvailable) return undefined;
  try {
    const response = await fetch("/metrics", { cache: "no-store", signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (response.status === 404) {
      state.metricsAvailable = false;
      $("latency-hint").textContent = "This node serves no /metrics, so there is no latency to show.";
      return undefined;
    }
    if (!response.ok) return undefined;
    const histogram = pickLatencyHistogram(parseHistograms(await response.text()));
    if (histogram === undefined) {
      $("latency-hint").textContent = "This node's /metrics has no request-duration histogram yet.";
    } else {
      $("latency-hint").textContent =
        `Client request latency (p50, p99) from this node's /metrics (${histogram.name}), over each second.`;
    }
    return histogram;
  } catch {
    return undefined;
  }
}

function onStatus(status, now, metrics) {
  if (state.failures >= FAILURES_BEFORE_LOST && !state.switching)
    showBanner(`Node ${status.id} answers again.`, "info", 5000);
  state.failures = 0;
  state.lostSince = undefined;
  state.selfId = status.id;
  for (const member of status.members) {
    const known = state.members.get(member.id) ?? { http: "", peer: "" };
    const peer = member.peer || known.peer;
    state.members.set(member.id, { http: member.http || known.http || plausibleHint(member.id, peer), peer });
  }
  const committedRate = rate(state.previous, { t: now, value: status.commitIndex });
  state.previous = { t: now, value: status.commitIndex };
  const latency = latencySample(metrics, now);
  $("members").classList.remove("stale");
  renderSummary(status, committedRate);
  renderMembers(status);
  renderProblems(status);
  record(now, committedRate, latency, status);
  renderCharts();
  const live = status.leader === 0 ? "no leader" : `leader is node ${status.leader}`;
  setConnection("live", `Live from node ${status.id}: ${live} · ${new Date(now * 1000).toLocaleTimeString()}`);
  document.title = `Shoal · ${status.leader === 0 ? "no leader" : `leader ${status.leader}`}`;
}

function onFailure(reason) {
  state.failures++;
  if (state.failures < FAILURES_BEFORE_LOST || state.switching) return;
  state.lostSince ??= new Date();
  const who = describeSelf();
  setConnection("lost", `${who} is not answering`);
  $("members").classList.add("stale");
  for (const row of document.querySelectorAll("#members tbody tr[data-member-id]")) {
    if (Number(row.dataset.memberId) === state.selfId) setRowRole(row, "unreachable");
  }
  showBanner(
    `${who} stopped answering at ${state.lostSince.toLocaleTimeString()} (${reason}). ` +
      "The table shows its last answer. Looking for another member…",
    "error",
  );
  if (!state.probing) probeOtherMembers(who);
}

/** Finds another member that answers and moves to its dashboard; retried on the next failed poll otherwise. */
async function probeOtherMembers(who) {
  state.probing = true;
  try {
    const candidates = [...state.members].filter(([id, m]) => id !== state.selfId && m.http !== "");
    if (candidates.length === 0) {
      showBanner(`${who} stopped answering, and no other member's address is known. Retrying every second.`, "error");
      return;
    }
    for (const [id, member] of candidates) {
      const base = baseUrl(member.http);
      try {
        await fetch(`${base}/healthz`, {
          mode: "no-cors",
          cache: "no-store",
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch {
        continue;
      }
      if (state.failures < FAILURES_BEFORE_LOST) return; // our own node came back meanwhile
      switchTo(id, base, who);
      return;
    }
    const tried = candidates.map(([id, m]) => `node ${id} (${m.http})`).join(", ");
    showBanner(`${who} stopped answering, and so did ${tried}. Retrying every second.`, "error");
  } finally {
    state.probing = false;
  }
}

function switchTo(id, base, who) {
  state.switching = true;
  setConnection("switching", `Moving to node ${id}`);
  showBanner(`${who} stopped answering. Node ${id} at ${base} answers: opening its dashboard…`, "error");
  // The next page learns who we came from and every address we know (its node may not know the dead ones').
  const known = [...state.members].filter(([, m]) => m.http !== "").map(([memberId, m]) => `${memberId}=${m.http}`);
  const hash = `#from=${state.selfId ?? ""}&known=${encodeURIComponent(known.join(","))}`;
  setTimeout(() => location.replace(`${base}/${hash}`), SWITCH_DELAY_MS);
}

function plausibleHint(id, peer) {
  const hint = state.hinted.get(id) ?? "";
  const host = splitHostPort(hint)[0];
  return hint !== "" && (host === splitHostPort(peer)[0] || host === location.hostname) ? hint : "";
}

function describeSelf() {
  const self = state.members.get(state.selfId);
  return state.selfId === undefined
    ? `This node (${location.host})`
    : `Node ${state.selfId} (${self?.http || location.host})`;
}

/** A member's "host:port" as a URL this page can reach; a wildcard bind address means this page's host. */
function baseUrl(http) {
  const [host, port] = splitHostPort(http);
  const reachableHost = host === "0.0.0.0" || host === "::" || host === "[::]" ? location.hostname : host;
  return `${location.protocol}//${reachableHost}${port === "" ? "" : `:${port}`}`;
}

function splitHostPort(address) {
  const colon = address.lastIndexOf(":");
  return colon <= 0 ? [address, ""] : [address.slice(0, colon), address.slice(colon + 1)];
}

// ---- Rendering ----

function renderSummary(status, committedRate) {
  $("leader").textContent = status.leader === 0 ? "none" : `node ${status.leader}`;
  $("leader").classList.toggle("lag-bad", status.leader === 0);
  $("term").textContent = String(status.term);
  $("commit").textContent = status.commitIndex.toLocaleString();
  const up = status.members.filter((m) => m.reachable).length;
  $("reachable").textContent = `${up} / ${status.members.length}`;
  $("reachable").classList.toggle("lag-bad", up < status.members.length);
  $("rate").textContent = committedRate === null ? "–" : Math.round(committedRate).toLocaleString();
}

function renderMembers(status) {
  const tbody = $("members").tBodies[0];
  const rows = [...status.members].sort((a, b) => a.id - b.id).map((member) => memberRow(member, status));
  tbody.replaceChildren(...rows);
}

function memberRow(member, status) {
  const row = document.createElement("tr");
  row.dataset.memberId = String(member.id);
  row.append(cell(String(member.id)));
  const roleCell = cell("");
  row.append(roleCell);
  setRowRole(row, member.role);
  if (member.id === status.id) {
    const self = document.createElement("span");
    self.className = "self";
    self.textContent = "serving this page";
    roleCell.append(self);
  }
  row.append(
    cell(optional(member.term), "num"),
    cell(optional(member.commitIndex), "num"),
    cell(optional(member.appliedIndex), "num"),
  );
  const lag = memberLag(member, status);
  const lagCell = cell(member.id === status.leader ? "–" : lag === null ? "?" : String(lag), "num");
  if (lag !== null && member.id !== status.leader)
    lagCell.classList.add(lag >= LAG_BAD ? "lag-bad" : lag >= LAG_WARN ? "lag-warn" : "ok");
  // The leader's judgement: behind and not moving, or holding entries the leader lacks (never caught up).
  if (member.replication === "stalled" || member.replication === "diverged") {
    lagCell.textContent += ` ${member.replication}`;
    lagCell.classList.add("lag-bad");
  }
  row.append(lagCell);
  const http = state.members.get(member.id)?.http ?? "";
  const httpCell = cell("");
  if (http !== "") {
    const link = document.createElement("a");
    link.href = `${baseUrl(http)}/`;
    link.textContent = http;
    httpCell.append(link);
  } else {
    httpCell.textContent = "–";
  }
  row.append(httpCell, cell(member.peer || "–"));
  return row;
}

/** Members that cannot be caught up, and what the members find wrong with their peers (a wrong peer list). */
function renderProblems(status) {
  const lines = status.members
    .filter((m) => m.replication === "stalled" || m.replication === "diverged")
    .map((m) => `Node ${m.id} cannot be caught up: ${m.replication} (${m.lag ?? "?"} entries behind).`)
    .concat(status.problems ?? []);
  const list = $("problems");
  list.replaceChildren(
    ...lines.map((line) => {
      const item = document.createElement("li");
      item.textContent = line;
      return item;
    }),
  );
  list.hidden = lines.length === 0;
}

function setRowRole(row, role) {
  row.dataset.role = role;
  const badge = document.createElement("span");
  badge.className = `role ${["leader", "follower", "candidate", "preCandidate", "unreachable"].includes(role) ? role : "unknown"}`;
  badge.textContent = role;
  const roleCell = row.cells[1];
  roleCell.querySelector(".role")?.remove();
  roleCell.prepend(badge);
}

/** The leader's count of entries the member is behind; else how far its applied index trails the commit index. */
function memberLag(member, status) {
  if (typeof member.lag === "number") return member.lag;
  if (typeof member.appliedIndex !== "number") return null;
  const highest = Math.max(status.commitIndex, ...status.members.map((m) => m.commitIndex ?? 0));
  return Math.max(0, highest - member.appliedIndex);
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function optional(value) {
  return typeof value === "number" ? value.toLocaleString() : "–";
}

function setConnection(stateName, text) {
  $("connection").dataset.state = stateName;
  $("connection-text").textContent = text;
}

let bannerTimer;
function showBanner(text, kind, hideAfterMs) {
  const banner = $("banner");
  banner.textContent = text;
  banner.className = `banner ${kind === "info" ? "info" : ""}`;
  banner.hidden = false;
  clearTimeout(bannerTimer);
  if (hideAfterMs) bannerTimer = setTimeout(() => (banner.hidden = true), hideAfterMs);
}

// ---- Series ----

function rate(previous, current) {
  if (previous === undefined || current.t <= previous.t || current.value < previous.value) return null;
  return (current.value - previous.value) / (current.t - previous.t);
}

/** Requests per second, p50 and p99 (ms) over the interval since the previous scrape; nulls when unknown. */
function latencySample(histogram, now) {
  const previous = state.previousMetrics;
  state.previousMetrics = histogram === undefined ? undefined : { t: now, histogram };
  if (histogram === undefined || previous === undefined || previous.histogram.name !== histogram.name) {
    return { requests: null, p50: null, p99: null };
  }
  const count = histogram.count - previous.histogram.count;
  if (count < 0) return { requests: null, p50: null, p99: null }; // the node restarted: counters reset
  const requests = count / (now - previous.t);
  if (count === 0) return { requests, p50: null, p99: null };
  const deltas = histogram.buckets.map((b, i) => ({
    le: b.le,
    count: b.count - (previous.histogram.buckets[i]?.count ?? 0),
  }));
  const inMs = (value) => (value === null ? null : value * histogram.toMs);
  return { requests, p50: inMs(quantile(deltas, 0.5)), p99: inMs(quantile(deltas, 0.99)) };
}

function record(now, committedRate, latency, status) {
  const h = state.history;
  h.t.push(now);
  h.committed.push(committedRate);
  h.requests.push(latency.requests);
  h.p50.push(latency.p50);
  h.p99.push(latency.p99);
  for (const member of status.members) {
    if (!h.lag.has(member.id))
      h.lag.set(
        member.id,
        h.t.slice(0, -1).map(() => null),
      );
  }
  for (const [id, series] of h.lag) {
    const member = status.members.find((m) => m.id === id);
    series.push(member === undefined || id === status.leader ? null : memberLag(member, status));
  }
  if (h.t.length > HISTORY_POINTS_MAX) {
    for (const series of [h.t, h.committed, h.requests, h.p50, h.p99, ...h.lag.values()]) series.shift();
  }
}

// ---- Prometheus text parsing (histograms only) ----

/**
 * Requests that are not client traffic: this page's own polling, health probes, watch streams (timed only to
 * their start) and unrouted requests. Left out, so the charts show what clients experience.
 */
const MONITORING_COMMAND = /command="(cluster|metrics|healthz|readyz|openapi|watch|dashboard|unknown)"/;

/**
 * name → { buckets: [{le, count}] sorted by le, sum, count }, summed over every label set but `le`, except
 * the monitoring requests above.
 */
function parseHistograms(text) {
  const families = new Map();
  const family = (name) => {
    if (!families.has(name)) families.set(name, { name, buckets: new Map(), sum: 0, count: 0 });
    return families.get(name);
  };
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const [, name, labels = "", raw] = match;
    const value = Number(raw);
    if (!Number.isFinite(value)) continue;
    if (MONITORING_COMMAND.test(labels)) continue;
    if (name.endsWith("_bucket")) {
      const le = /le="([^"]*)"/.exec(labels)?.[1];
      if (le === undefined) continue;
      const buckets = family(name.slice(0, -7)).buckets;
      buckets.set(le, (buckets.get(le) ?? 0) + value);
    } else if (name.endsWith("_sum")) family(name.slice(0, -4)).sum += value;
    else if (name.endsWith("_count")) family(name.slice(0, -6)).count += value;
  }
  const histograms = [];
  for (const f of families.values()) {
    if (f.buckets.size === 0) continue;
    const buckets = [...f.buckets]
      .map(([le, count]) => ({ le: le === "+Inf" ? Infinity : Number(le), count }))
      .sort((a, b) => a.le - b.le);
    histograms.push({ name: f.name, buckets, sum: f.sum, count: f.count });
  }
  return histograms;
}

/** The histogram most likely to be "HTTP request duration", with the factor that turns its unit into ms. */
function pickLatencyHistogram(histograms) {
  const score = (name) =>
    (/http/.test(name) ? 2 : 0) +
    (/request/.test(name) ? 2 : 0) +
    (/duration|latency/.test(name) ? 1 : 0) -
    (/wal|fsync|raft|apply/.test(name) ? 3 : 0);
  const best = histograms.filter((h) => score(h.name) >= 3).sort((a, b) => score(b.name) - score(a.name))[0];
  if (best === undefined) return undefined;
  const toMs = /_seconds$/.test(best.name) ? 1000 : /_(ms|milliseconds)$/.test(best.name) ? 1 : 1000;
  return { ...best, toMs };
}

/** Prometheus' histogram_quantile over cumulative bucket counts: linear within the bucket holding the rank. */
function quantile(buckets, q) {
  const total = buckets[buckets.length - 1]?.count ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return lowerLe;
      const width = bucket.count - lowerCount;
      return width <= 0 ? bucket.le : lowerLe + ((bucket.le - lowerLe) * (rank - lowerCount)) / width;
    }
    lowerLe = bucket.le;
    lowerCount = bucket.count;
  }
  return lowerLe;
}

// ---- Charts (uPlot) ----

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

const PALETTE = ["--chart-1", "--chart-2", "--chart-3", "--chart-4", "--chart-5"];

function makeChart(elementId, series) {
  const element = $(elementId);
  if (typeof window.uPlot !== "function") {
    const note = document.createElement("div");
    note.className = "none";
    note.textContent = "Charts unavailable: uPlot did not load.";
    element.replaceChildren(note);
    return undefined;
  }
  element.replaceChildren();
  const axis = {
    stroke: cssVar("--muted"),
    grid: { stroke: cssVar("--grid"), width: 1 },
    ticks: { stroke: cssVar("--grid"), width: 1 },
  };
  const options = {
    width: Math.max(300, element.clientWidth),
    height: 200,
    cursor: { drag: { x: false, y: false } },
    legend: { live: false },
    scales: {
      x: { time: true, auto: false }, // set explicitly in renderCharts
      y: { range: (_u, _min, max) => [0, Math.max(1, (max ?? 0) * 1.15)] },
    },
    axes: [{ ...axis }, { ...axis, size: 56 }],
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: cssVar(PALETTE[i % PALETTE.length]),
        width: 2,
        spanGaps: false,
        points: { show: false },
      })),
    ],
  };
  return new window.uPlot(options, [[], ...series.map(() => [])], element);
}

function renderCharts() {
  const h = state.history;
  const charts = state.charts;
  charts.throughput ??= makeChart("chart-throughput", [
    { label: "committed entries/s" },
    { label: "client requests/s (this node)" },
  ]);
  charts.latency ??= makeChart("chart-latency", [{ label: "p50 ms" }, { label: "p99 ms" }]);
  const lagIds = [...h.lag.keys()].sort((a, b) => a - b);
  if (charts.lagIds !== lagIds.join(",")) {
    charts.lag?.destroy();
    charts.lag = makeChart(
      "chart-lag",
      lagIds.map((id) => ({ label: `node ${id}` })),
    );
    charts.lagIds = lagIds.join(",");
  }
  charts.throughput?.setData([h.t, h.committed, h.requests]);
  charts.latency?.setData([h.t, h.p50, h.p99]);
  charts.lag?.setData([h.t, ...lagIds.map((id) => h.lag.get(id))]);
  // At least a minute wide, so the first few points do not stretch over an absurd time range.
  const last = h.t[h.t.length - 1] ?? Date.now() / 1000;
  const span = { min: Math.min(h.t[0] ?? last, last - CHART_WINDOW_S_MIN), max: last };
  for (const chart of [charts.throughput, charts.latency, charts.lag]) chart?.setScale("x", span);
}

function resizeCharts() {
  for (const [key, elementId] of [
    ["throughput", "chart-throughput"],
    ["latency", "chart-latency"],
    ["lag", "chart-lag"],
  ]) {
    const chart = state.charts[key];
    if (chart !== undefined) chart.setSize({ width: Math.max(300, $(elementId).clientWidth), height: 200 });
  }
}

// ---- Start ----

function start() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has("from")) {
    const from = params.get("from");
    const who = /^\d+$/.test(from) ? `Node ${from}` : "The node you were watching";
    showBanner(`${who} stopped answering, so this is another member's dashboard.`, "info", 15000);
    for (const item of (params.get("known") ?? "").split(",")) {
      const match = /^(\d+)=([^\s,]+)$/.exec(item);
      if (match !== null) state.hinted.set(Number(match[1]), match[2]);
    }
    history.replaceState(null, "", location.pathname);
  }
  let resizeTimer;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(resizeCharts, 100);
  });
  tick();
}

start();
