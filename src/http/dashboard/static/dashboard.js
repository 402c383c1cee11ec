/**
 * Shoal dashboard: plain JavaScript served as is (no build step), one module. Every second it asks the node that
 * served the page for `/v1/cluster` (members, roles, terms, indexes, lag) and `/v1/dashboard/samples` (the node's
 * own once-a-second samples of its /metrics: commit rate, HTTP and RESP request rates and latency, keys, memory,
 * disk), renders the tables and feeds three uPlot charts. On open it loads the samples the node kept (a few
 * minutes), so the charts start with history; each member's keys, memory and disk come from its own samples.
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
/** Points kept per chart: five minutes at one a second (what a node keeps too). */
const HISTORY_POINTS_MAX = 300;
const SAMPLES_PATH = "/v1/dashboard/samples";
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
  /** Series from the node's samples (t in seconds), and the lag series from /v1/cluster (its own times). */
  history: {
    t: [],
    committed: [],
    http: [],
    resp: [],
    httpP50: [],
    httpP99: [],
    respP50: [],
    respP99: [],
    lagT: [],
    lag: new Map(),
  },
  /** Time (ms, the node's clock) of the newest sample held; the next poll asks for later ones. */
  lastSampleT: undefined,
  /** This page's node's newest sample (its keys, memory and disk in the Nodes table). */
  newestSample: undefined,
  /** Whether the lag chart got the leader's recent history yet (once, after the first answer). */
  lagSeeded: false,
  /** id → { sample, lastT } for the Nodes table: each member's newest sample, from its own samples endpoint. */
  resources: new Map(),
  /** Members whose samples were asked for and have not answered yet. */
  resourcesAsked: new Set(),
  charts: { throughput: undefined, latency: undefined, lag: undefined, lagIds: "" },
};

const $ = (id) => document.getElementById(id);

// ---- Polling ----

async function tick() {
  const now = Date.now() / 1000;
  const [status, samples] = await Promise.all([fetchJson("/v1/cluster"), fetchSamples("", state.lastSampleT)]);
  if (status.ok) onStatus(status.value, now, samples.ok ? samples.value : undefined);
  else onFailure(status.reason);
  setTimeout(tick, POLL_INTERVAL_MS);
}

/** `/v1/dashboard/samples` of the node at `base` ("" for this page's node), those after `afterMs` if given. */
function fetchSamples(base, afterMs) {
  return fetchJson(`${base}${SAMPLES_PATH}${afterMs === undefined ? "" : `?after=${afterMs}`}`);
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

function onStatus(status, now, samples) {
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
  $("members").classList.remove("stale");
  renderSummary(status, committedRate);
  renderQuorum(status);
  renderMembers(status);
  renderShards(status);
  if (samples !== undefined) recordSamples(samples.samples);
  recordLag(now, status);
  if (!state.lagSeeded) seedLagHistory(status);
  pollResources(status);
  renderProblems(status);
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

/** One row per shard: its slot ranges, leader, replicas and their worst lag. */
function renderShards(status) {
  const tbody = $("shards").tBodies[0];
  const rows = (status.shards ?? []).map((shard) => {
    const row = document.createElement("tr");
    row.dataset.shardId = String(shard.id);
    // Over several shards each leader reports its own replicas' lag (shard.lag); on one, the members' lag is it.
    const lags = shard.replicas.map((id) => {
      if (shard.lag !== undefined) return shard.lag[String(id)] ?? null;
      const member = status.members.find((m) => m.id === id);
      return member === undefined ? null : memberLag(member, status);
    });
    const known = lags.filter((lag) => lag !== null);
    const worst = known.length === 0 ? null : Math.max(...known);
    const unknown = lags.length - known.length;
    const lagText = worst === null ? "unknown" : unknown > 0 ? `${worst} · ${unknown} unknown` : String(worst);
    const lagCell = cell(lagText, "num");
    if (worst !== null) lagCell.classList.add(worst >= LAG_BAD ? "lag-bad" : worst >= LAG_WARN ? "lag-warn" : "ok");
    if (unknown > 0) lagCell.title = "Some replicas do not answer: their lag is unknown";
    // A replica move in progress (issue 13): the members leaving still hold a replica until the move is done.
    const replicasCell = cell(shard.replicas.map((id) => `node ${id}`).join(", ") || "none");
    if ((shard.leaving ?? []).length > 0) {
      const moving = document.createElement("span");
      moving.className = "lag-warn moving";
      moving.textContent = ` · moving off ${shard.leaving.map((id) => `node ${id}`).join(", ")}`;
      replicasCell.append(moving);
    }
    // Slots moving between shards: they stay the source's until each move is done.
    const slotsCell = cell(shard.slots.map(([first, last]) => `${first}–${last}`).join(", "));
    for (const move of status.slotMoves ?? []) {
      if (move.from !== shard.id && move.to !== shard.id) continue;
      const moving = document.createElement("span");
      moving.className = "lag-warn slots-moving";
      const count = `${move.slots.toLocaleString()} slot${move.slots === 1 ? "" : "s"}`;
      moving.textContent =
        move.from === shard.id
          ? ` · ${count} moving to shard ${move.to}`
          : ` · ${count} arriving from shard ${move.from}`;
      slotsCell.append(moving);
    }
    row.append(
      cell(String(shard.id)),
      slotsCell,
      cell(shard.leader === 0 ? "none" : `node ${shard.leader}`),
      replicasCell,
      lagCell,
      cell(shard.term ? String(shard.term) : "–", "num"),
    );
    if (shard.leader === 0) row.classList.add("lag-bad");
    return row;
  });
  if (rows.length > 0) tbody.replaceChildren(...rows);
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
  const lagCell = cell(member.id === status.leader ? "–" : lag === null ? "unknown" : String(lag), "num");
  if (lag === null && member.id !== status.leader) lagCell.title = "It does not answer: its lag is unknown";
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

/**
 * The leader's count of entries the member is behind; else how far its applied index trails the commit index.
 * Unknown (null) for a member that does not answer: a leader elected since it died counts its whole log.
 */
function memberLag(member, status) {
  if (!member.reachable) return null;
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

/** Appends the node's samples (oldest first) newer than those held. */
function recordSamples(samples) {
  const h = state.history;
  for (const sample of samples) {
    if (state.lastSampleT !== undefined && sample.t <= state.lastSampleT) continue;
    state.lastSampleT = sample.t;
    state.newestSample = sample;
    h.t.push(sample.t / 1000);
    h.committed.push(sample.committedPerSecond);
    h.http.push(sample.httpRequestsPerSecond);
    h.resp.push(sample.respCommandsPerSecond);
    h.httpP50.push(sample.httpP50Ms);
    h.httpP99.push(sample.httpP99Ms);
    h.respP50.push(sample.respP50Ms);
    h.respP99.push(sample.respP99Ms);
  }
  const excess = h.t.length - HISTORY_POINTS_MAX;
  if (excess > 0) {
    for (const series of [h.t, h.committed, h.http, h.resp, h.httpP50, h.httpP99, h.respP50, h.respP99]) {
      series.splice(0, excess);
    }
  }
}

/** One point of every member's lag, as /v1/cluster reports it now (null: the leader or unknown). */
function recordLag(now, status) {
  const h = state.history;
  h.lagT.push(now);
  for (const member of status.members) {
    if (!h.lag.has(member.id))
      h.lag.set(
        member.id,
        h.lagT.slice(0, -1).map(() => null),
      );
  }
  for (const [id, series] of h.lag) {
    const member = status.members.find((m) => m.id === id);
    series.push(member === undefined || id === status.leader ? null : memberLag(member, status));
  }
  if (h.lagT.length > HISTORY_POINTS_MAX) {
    for (const series of [h.lagT, ...h.lag.values()]) series.shift();
  }
}

/**
 * The lag chart's history: the leader's samples hold the lag it saw each second (this node's own when it leads,
 * else asked of the leader). Put before the points this page recorded itself; tried once.
 */
async function seedLagHistory(status) {
  state.lagSeeded = true;
  const leader = status.members.find((m) => m.id === status.leader);
  if (leader === undefined) return;
  const http = state.members.get(leader.id)?.http ?? "";
  if (leader.id !== status.id && http === "") return; // its address is unknown
  const answer = await fetchSamples(leader.id === status.id ? "" : baseUrl(http), undefined);
  if (!answer.ok) return;
  const h = state.history;
  const firstLive = h.lagT[0] ?? Number.POSITIVE_INFINITY;
  const earlier = answer.value.samples.filter((sample) => sample.lag !== undefined && sample.t / 1000 < firstLive);
  const room = Math.max(0, HISTORY_POINTS_MAX - h.lagT.length);
  const seeded = earlier.slice(Math.max(0, earlier.length - room));
  if (seeded.length === 0) return;
  const ids = new Set([...h.lag.keys(), ...seeded.flatMap((sample) => Object.keys(sample.lag).map(Number))]);
  for (const id of ids) {
    const series = h.lag.get(id) ?? h.lagT.map(() => null);
    // The leader has no lag of its own; a member the leader heard nothing from is null (unknown) already.
    const values = seeded.map((sample) => (id === leader.id ? null : (sample.lag[String(id)] ?? null)));
    h.lag.set(id, [...values, ...series]);
  }
  h.lagT.unshift(...seeded.map((sample) => sample.t / 1000));
  renderCharts();
}

// ---- Quorum ----

/**
 * A banner while a majority of the members does not answer: no leader can be elected or keep its lease, so
 * every write (and linearizable read) fails until enough of them are back.
 */
function renderQuorum(status) {
  const banner = $("quorum-banner");
  if ((status.shards ?? []).length > 1) {
    renderShardQuorum(status, banner);
    return;
  }
  const total = status.members.length;
  const majority = Math.floor(total / 2) + 1;
  const down = status.members
    .filter((m) => !m.reachable)
    .map((m) => m.id)
    .sort((a, b) => a - b);
  const lost = total - down.length < majority;
  document.body.dataset.quorum = lost ? "lost" : "ok";
  banner.hidden = !lost;
  if (!lost) return;
  const who = down.length === 1 ? `node ${down[0]}` : `nodes ${down.slice(0, -1).join(", ")} and ${down.at(-1)}`;
  banner.textContent =
    `Quorum lost — writes are failing. ${down.length} of ${total} members are down (${who}); ` +
    `a leader needs ${majority} of ${total}. Reads that must be linearizable fail too.`;
}

/**
 * On several shards each shard is its own Raft group over its own replicas: a shard fails (its slots answer
 * CLUSTERDOWN) when a majority of *its* replicas is down, and the other shards keep serving.
 */
function renderShardQuorum(status, banner) {
  const down = new Set(status.members.filter((m) => !m.reachable).map((m) => m.id));
  const lost = status.shards.filter((shard) => {
    const replicas = [...new Set([...(shard.leader === 0 ? [] : [shard.leader]), ...shard.replicas])];
    return replicas.length > 0 && replicas.filter((id) => down.has(id)).length * 2 >= replicas.length;
  });
  document.body.dataset.quorum = lost.length > 0 ? "lost" : "ok";
  banner.hidden = lost.length === 0;
  if (lost.length === 0) return;
  const ids = lost.map((shard) => shard.id);
  const which = ids.length === 1 ? `shard ${ids[0]}` : `shards ${ids.slice(0, -1).join(", ")} and ${ids.at(-1)}`;
  const serving = status.shards.length - lost.length;
  banner.textContent =
    `Quorum lost in ${which} — a majority of ${ids.length === 1 ? "its" : "their"} replicas is down ` +
    `(nodes ${[...down].sort((a, b) => a - b).join(", ")}): ${ids.length === 1 ? "its" : "their"} slots are failing. ` +
    (serving === 0 ? "No shard serves." : `The other ${serving} shard${serving === 1 ? "" : "s"} serve.`);
}

// ---- Nodes: keys, memory, disk ----

/**
 * Each member's newest sample, asked of the member itself (its samples endpoint answers any origin); this
 * node's is the newest the page holds. A member that does not answer shows unknown figures.
 */
function pollResources(status) {
  if (state.newestSample !== undefined) {
    state.resources.set(status.id, { sample: state.newestSample, lastT: state.newestSample.t });
  }
  for (const member of status.members) {
    if (member.id === status.id) continue;
    const http = state.members.get(member.id)?.http ?? "";
    if (!member.reachable || http === "") {
      state.resources.delete(member.id);
      continue;
    }
    if (state.resourcesAsked.has(member.id)) continue; // the previous question is still out
    state.resourcesAsked.add(member.id);
    const known = state.resources.get(member.id);
    fetchSamples(baseUrl(http), known?.lastT).then((answer) => {
      state.resourcesAsked.delete(member.id);
      const sample = answer.ok ? answer.value.samples.at(-1) : undefined;
      if (sample !== undefined) state.resources.set(member.id, { sample, lastT: sample.t });
      else if (!answer.ok) state.resources.delete(member.id);
      renderResources(status);
    });
  }
  renderResources(status);
}

function renderResources(status) {
  const rows = [...status.members]
    .sort((a, b) => a.id - b.id)
    .map((member) => {
      const sample = member.reachable ? state.resources.get(member.id)?.sample : undefined;
      const row = document.createElement("tr");
      row.dataset.memberId = String(member.id);
      row.dataset.known = sample === undefined ? "no" : "yes";
      const figure = (value, format) => cell(sample === undefined || value == null ? "unknown" : format(value), "num");
      row.append(
        cell(String(member.id)),
        figure(sample?.keys, (n) => n.toLocaleString()),
        figure(sample?.rssBytes, formatBytes),
        figure(sample?.storeFileBytes, formatBytes),
        figure(sample?.walBytes, formatBytes),
        figure(sample?.memoryUsedBytes, (used) => {
          const max = sample?.maxmemoryBytes ?? 0;
          return max > 0 ? `${formatBytes(used)} of ${formatBytes(max)}` : formatBytes(used);
        }),
        figure(sample?.evictedKeys, (n) => n.toLocaleString()),
      );
      return row;
    });
  $("resources").tBodies[0].replaceChildren(...rows);
}

function formatBytes(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
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
    { label: "HTTP requests/s" },
    { label: "RESP commands/s" },
  ]);
  charts.latency ??= makeChart("chart-latency", [
    { label: "HTTP p50 ms" },
    { label: "HTTP p99 ms" },
    { label: "RESP p50 ms" },
    { label: "RESP p99 ms" },
  ]);
  const lagIds = [...h.lag.keys()].sort((a, b) => a - b);
  if (charts.lagIds !== lagIds.join(",")) {
    charts.lag?.destroy();
    charts.lag = makeChart(
      "chart-lag",
      lagIds.map((id) => ({ label: `node ${id}` })),
    );
    charts.lagIds = lagIds.join(",");
  }
  charts.throughput?.setData([h.t, h.committed, h.http, h.resp]);
  charts.latency?.setData([h.t, h.httpP50, h.httpP99, h.respP50, h.respP99]);
  charts.lag?.setData([h.lagT, ...lagIds.map((id) => h.lag.get(id))]);
  // At least a minute wide, so the first few points do not stretch over an absurd time range.
  const span = (times) => {
    const last = times[times.length - 1] ?? Date.now() / 1000;
    return { min: Math.min(times[0] ?? last, last - CHART_WINDOW_S_MIN), max: last };
  };
  charts.throughput?.setScale("x", span(h.t));
  charts.latency?.setScale("x", span(h.t));
  charts.lag?.setScale("x", span(h.lagT));
  // How many points each chart holds, for tests and the curious.
  $("chart-throughput").dataset.points = String(h.t.length);
  $("chart-latency").dataset.points = String(h.t.length);
  $("chart-lag").dataset.points = String(h.lagT.length);
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
  loadHistory().then(tick);
}

/** The samples this node kept (its last minutes), so the charts have points from the start. */
async function loadHistory() {
  const answer = await fetchSamples("", undefined);
  if (!answer.ok) return;
  recordSamples(answer.value.samples);
  renderCharts();
}

start();
