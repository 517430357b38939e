import Foundation

/// The dashboard page, embedded in the binary: edge hosts are often offline, so nothing is
/// fetched from anywhere but this endpoint (no CDN, no web font, no framework).
///
/// Plain JavaScript and hand-drawn SVG polylines: the page polls `/dashboard/stats` (the
/// `stats --json` object) once a second and keeps the last 15 minutes of samples itself, so
/// the server holds no history and every open page costs one small request a second.
enum DashboardPage {
    /// The page, with the member drain and undrain buttons when `allowChanges`.
    static func bytes(allowChanges: Bool) -> [UInt8] {
        Array(html.replacingOccurrences(of: "__ALLOW_CHANGES__", with: allowChanges ? "true" : "false").utf8)
    }

    /// Only this origin, only inline code: a page that tried to load anything from elsewhere
    /// would be refused by the browser too.
    static let headers: [(String, String)] = [
        ("Content-Security-Policy",
         "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; "
            + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    ]

    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>edgesplit dashboard</title>
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:16px;margin:0}
#status{margin-left:auto}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px;padding:12px}
section{background:#fff;border:1px solid #d8dbe2;border-radius:4px;padding:8px 12px;overflow:auto}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.05em;margin:0 0 6px;color:#4a5468}
table{border-collapse:collapse;width:100%}
th,td{text-align:right;padding:2px 6px;border-bottom:1px solid #eceef2;white-space:nowrap}
th:first-child,td:first-child,td.l,th.l{text-align:left}
th{font-weight:600;color:#4a5468}
.warn{color:#b3261e;font-weight:600}
.up{color:#1b7f3b}.down{color:#b3261e}.drained{color:#8a6d00}
.err{background:#fde7e6;color:#b3261e;padding:6px 16px;display:none}
svg{display:block;width:100%;height:90px;background:#fafbfc;border:1px solid #eceef2}
.chart{margin:4px 0 8px}.chart b{font-weight:600}
.legend span{display:inline-block;margin-right:10px}
.legend i{display:inline-block;width:10px;height:3px;vertical-align:middle;margin-right:3px}
button{font:inherit;padding:1px 8px}
.muted{color:#7a8396}
</style>
</head>
<body data-changes="__ALLOW_CHANGES__">
<header><h1>edgesplit</h1><span id="instance"></span><span id="uptime" class="muted"></span><span id="status">connecting…</span></header>
<div id="error" class="err"></div>
<main>
<section id="kernel"><h2>Kernel steering</h2><div id="kernel-body" class="muted">not loaded</div></section>
<section id="workers"><h2>Workers</h2><table><thead><tr><th>worker</th><th>active</th><th>accepted</th><th>req/s</th><th>requests</th><th>TLS handshakes</th><th>resumed</th><th>resumption</th><th>failed</th></tr></thead><tbody id="workers-body"></tbody></table><div id="resumption" class="muted"></div></section>
<section id="rules" style="grid-column:1/-1"><h2>Rules (last 15 minutes)</h2><div id="rules-body"></div></section>
<section id="farms"><h2>Farms</h2><table><thead><tr><th>farm</th><th class="l">member</th><th class="l">state</th><th>active</th><th>failures</th><th class="l">last check</th><th></th></tr></thead><tbody id="members-body"></tbody></table></section>
<section id="certificates"><h2>Certificates</h2><table><thead><tr><th>listener</th><th class="l">subject</th><th>days left</th><th></th><th class="l">OCSP</th></tr></thead><tbody id="certificates-body"></tbody></table></section>
<section id="l4"><h2>L4 routes</h2><div id="l4-mode" class="muted"></div><table><thead><tr><th>route</th><th>active</th><th>connections</th><th>spliced to member</th><th>spliced to client</th><th>copied</th></tr></thead><tbody id="l4-body"></tbody></table></section>
<section id="errors"><h2>Recent 5xx answers</h2><table><thead><tr><th>time</th><th class="l">rule</th><th class="l">member</th><th>status</th><th>worker</th></tr></thead><tbody id="errors-body"></tbody></table></section>
</main>
<script>
"use strict";
// History lives here in the page: the server keeps none. 15 minutes of samples.
const WINDOW_MS = 15 * 60 * 1000;
const params = new URLSearchParams(location.search);
const INTERVAL = Math.max(250, Number(params.get("interval")) || 1000);
const COLORS = ["#2f6fdf","#e0702b","#1b9e5a","#c23b8a","#7d5bd6","#b59a00","#2aa3b8","#7a8396"];
const changes = document.body.dataset.changes === "true";
const history = [];
let last = null;

function el(tag, attrs, ...children) {
  const node = ["svg", "polyline", "line"].includes(tag) ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}
// A cell whose text is a value of the model, with its path for the browser test.
function cell(value, key, cls) {
  const td = el("td", key ? {"data-key": key} : {}, value === undefined || value === null ? "" : value);
  if (cls) td.className = cls;
  return td;
}
function fill(id, rows) { document.getElementById(id).replaceChildren(...rows); }
function rate(now, before, pick) {
  if (!before) return 0;
  const dt = (now.t - before.t) / 1000;
  return dt > 0 ? Math.max(0, (pick(now.doc) - pick(before.doc)) / dt) : 0;
}
function chart(title, series, unit) {
  // series: [{name, points: [[t, v]...]}]; hand-drawn polylines over the window.
  // The x axis spans the history the page has, up to 15 minutes, ending now.
  const w = 600, h = 90, now = Date.now();
  const span = Math.max(30000, Math.min(WINDOW_MS, history.length ? now - history[0].t : 0));
  let max = 0;
  for (const s of series) for (const [, v] of s.points) max = Math.max(max, v);
  max = max > 0 ? max * 1.1 : 1;
  const svg = el("svg", {viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: "none", role: "img", "aria-label": title});
  for (const f of [0.5]) svg.append(el("line", {x1: 0, x2: w, y1: h * f, y2: h * f, stroke: "#e3e6ec"}));
  series.forEach((s, i) => {
    const pts = s.points.map(([t, v]) => `${(w * (1 - (now - t) / span)).toFixed(1)},${(h - 2 - (h - 4) * v / max).toFixed(1)}`).join(" ");
    svg.append(el("polyline", {points: pts, fill: "none", stroke: s.color || COLORS[i % COLORS.length], "stroke-width": 1.5, "vector-effect": "non-scaling-stroke"}));
  });
  const minutes = span >= 120000 ? `${Math.round(span / 60000)} min` : `${Math.round(span / 1000)} s`;
  const legend = el("div", {class: "legend"}, el("b", {}, title), ` (last ${minutes}, max ${max === 1 ? 0 : (max / 1.1).toFixed(1)} ${unit}) `);
  series.forEach((s, i) => {
    const latest = s.points.length ? s.points[s.points.length - 1][1] : 0;
    legend.append(el("span", {}, el("i", {style: `background:${s.color || COLORS[i % COLORS.length]}`}), `${s.name} ${latest.toFixed(1)}`));
  });
  return el("div", {class: "chart"}, legend, svg);
}
// Rate series over the history from a counter picked out of each sample's model.
function rateSeries(pick) {
  const out = [];
  for (let i = 1; i < history.length; i++) out.push([history[i].t, rate(history[i], history[i - 1], pick)]);
  return out;
}
function valueSeries(pick) { return history.map(s => [s.t, pick(s.doc)]); }

function renderKernel(doc) {
  const k = doc.kernel, body = document.getElementById("kernel-body");
  if (!k) { body.replaceChildren(el("span", {class: "muted"}, doc.kernel_error || "not loaded")); return; }
  const ns = k.ns_per_decision === null || k.ns_per_decision === undefined ? "stats off" : `${k.ns_per_decision.toFixed(0)} ns`;
  const facts = el("div", {},
    "decisions ", el("b", {"data-key": "kernel.decisions"}, k.decisions),
    ", fallbacks ", el("b", {"data-key": "kernel.fallbacks"}, k.fallbacks),
    ", migrations ", el("b", {"data-key": "kernel.migrations"}, k.migrations),
    ", per decision ", el("b", {}, ns));
  const overflowed = Array.isArray(k.overflowed) ? k.overflowed : null;
  if (typeof k.overflowed === "number") facts.append(", overflows ", el("b", {"data-key": "kernel.overflowed"}, k.overflowed));
  const workers = k.selections.length;
  const shares = [];
  for (let w = 0; w < workers; w++) {
    const points = [];
    for (let i = 1; i < history.length; i++) {
      const a = history[i - 1].doc.kernel, b = history[i].doc.kernel;
      if (!a || !b || a.selections.length !== workers) continue;
      const total = b.selections.reduce((x, y) => x + y, 0) - a.selections.reduce((x, y) => x + y, 0);
      if (total > 0) points.push([history[i].t, 100 * (b.selections[w] - a.selections[w]) / total]);  // no new connection: no share
    }
    shares.push({name: `worker ${w}`, points});
  }
  const rows = k.selections.map((s, w) => el("tr", {}, cell(w), cell(s, `kernel.selections.${w}`),
    cell(k.drained.includes(w) ? "drained" : "active", null, "l"),
    overflowed ? cell(overflowed[w], `kernel.overflowed.${w}`) : cell("")));
  const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "worker"), el("th", {}, "selections"), el("th", {class: "l"}, "state"), el("th", {}, overflowed ? "overflowed" : ""))), el("tbody", {}, ...rows));
  body.replaceChildren(facts, chart("share of new connections", shares, "%"), table);
}

function renderWorkers(doc) {
  const p = doc.process;
  fill("workers-body", p.workers.map((w, i) => el("tr", {},
    cell(w.worker), cell(w.active, `process.workers.${i}.active`), cell(w.accepted, `process.workers.${i}.accepted`),
    cell(rate(history[history.length - 1], history[history.length - 2], d => d.process ? d.process.workers[i].requests : 0).toFixed(1)),
    cell(w.requests, `process.workers.${i}.requests`),
    cell(w.tls_handshakes, `process.workers.${i}.tls_handshakes`), cell(w.tls_resumed, `process.workers.${i}.tls_resumed`),
    cell(w.tls_handshakes ? (100 * w.tls_resumed / w.tls_handshakes).toFixed(1) + "%" : "–"),
    cell(w.tls_handshake_failures, `process.workers.${i}.tls_handshake_failures`))));
  const tls = p.tls || [];
  document.getElementById("resumption").replaceChildren(...tls.map((t, i) => el("div", {},
    `${t.listener}: `, el("b", {"data-key": `process.tls.${i}.handshakes`}, t.handshakes), " handshakes, ",
    el("b", {"data-key": `process.tls.${i}.resumed`}, t.resumed), ` resumed (${(100 * t.resumption_rate).toFixed(1)}% resumption)`)));
}

function renderRules(doc) {
  const blocks = [];
  doc.process.rules.forEach((r, i) => {
    if (r.name === "(no rule)" && r.requests === 0) return;
    const at = d => d.process && d.process.rules[i] && d.process.rules[i].name === r.name ? d.process.rules[i] : null;
    const counter = key => d => (at(d) || {})[key] || 0;
    const head = el("div", {}, el("b", {}, r.name), " — requests ", el("span", {"data-key": `process.rules.${i}.requests`}, r.requests),
      ", 2xx ", el("span", {"data-key": `process.rules.${i}.status_2xx`}, r.status_2xx),
      ", 4xx ", el("span", {"data-key": `process.rules.${i}.status_4xx`}, r.status_4xx),
      ", 5xx ", el("span", {"data-key": `process.rules.${i}.status_5xx`}, r.status_5xx),
      `; since start p50 ${r.latency_p50_ms.toFixed(1)} ms, p99 ${r.latency_p99_ms.toFixed(1)} ms`);
    blocks.push(el("div", {class: "rule", "data-rule": r.name}, head,
      el("div", {style: "display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:8px"},
        chart("req/s", [{name: "req/s", points: rateSeries(counter("requests"))}], "/s"),
        chart("status/s", [
          {name: "2xx", color: "#1b9e5a", points: rateSeries(counter("status_2xx"))},
          {name: "4xx", color: "#e0702b", points: rateSeries(counter("status_4xx"))},
          {name: "5xx", color: "#b3261e", points: rateSeries(counter("status_5xx"))}], "/s"),
        chart("latency of the last 10–20 s", [
          {name: "p50", points: valueSeries(counter("latency_recent_p50_ms"))},
          {name: "p99", points: valueSeries(counter("latency_recent_p99_ms"))}], "ms"))));
  });
  document.getElementById("rules-body").replaceChildren(...blocks);
}

async function change(action, farm, member) {
  const response = await fetch(`/dashboard/${action}`, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-Edgesplit-Dashboard": "1"}, body: JSON.stringify({farm, member})});
  const answer = await response.json().catch(() => ({ok: false, error: `HTTP ${response.status}`}));
  if (!answer.ok) showError(`${action} ${farm} ${member}: ${answer.error}`);
  await refresh();
}

function renderMembers(doc) {
  fill("members-body", doc.process.members.map((m, i) => {
    const at = m.last_check_at ? new Date(m.last_check_at).toLocaleTimeString() : "";
    const last = [m.last_check, at].filter(Boolean).join(" at ");
    const row = el("tr", {"data-member": `${m.farm}/${m.member}`}, cell(m.farm), cell(m.member, null, "l"),
      cell(m.state, `process.members.${i}.state`, `l ${m.state}`), cell(m.active, `process.members.${i}.active`),
      cell(m.consecutive_failures, `process.members.${i}.consecutive_failures`), cell(last, null, "l"));
    const actions = el("td", {});
    if (changes) {
      const action = m.state === "drained" ? "undrain" : "drain";
      const button = el("button", {type: "button", "data-action": action}, action);
      button.addEventListener("click", () => change(action, m.farm, m.member));
      actions.append(button);
    }
    row.append(actions);
    return row;
  }));
}

function renderRest(doc) {
  const p = doc.process;
  fill("certificates-body", p.certificates.map((c, i) => el("tr", {}, cell(c.listener), cell(c.subject, null, "l"),
    cell(c.days_left, `process.certificates.${i}.days_left`, c.days_left < 30 ? "warn" : ""),
    cell(c.days_left < 30 ? "expires in under 30 days" : "", null, "l warn"),
    cell(c.ocsp === "none" ? "" : c.ocsp, null, "l"))));
  document.getElementById("l4-mode").textContent = p.l4_routes.length ? (p.l4_splice === "kernel" ? "spliced in the kernel" : "copied in userspace") : "no L4 routes";
  fill("l4-body", p.l4_routes.map((r, i) => el("tr", {}, cell(r.name), cell(r.active, `process.l4_routes.${i}.active`),
    cell(r.connections, `process.l4_routes.${i}.connections`),
    cell(r.spliced_bytes_to_member, `process.l4_routes.${i}.spliced_bytes_to_member`),
    cell(r.spliced_bytes_to_client, `process.l4_routes.${i}.spliced_bytes_to_client`),
    cell(r.copied_bytes, `process.l4_routes.${i}.copied_bytes`))));
  const recent = (p.recent_5xx || []).slice(0, 10);
  fill("errors-body", recent.length ? recent.map((e, i) => el("tr", {}, cell(new Date(e.time).toLocaleTimeString()), cell(e.rule || "(no rule)", null, "l"),
    cell(e.member || "-", null, "l"), cell(e.status, `process.recent_5xx.${i}.status`), cell(e.worker))) :
    [el("tr", {}, el("td", {colspan: 5, class: "muted l"}, "none"))]);
}

function showError(text) {
  const box = document.getElementById("error");
  box.textContent = text;
  box.style.display = text ? "block" : "none";
}

function render(doc) {
  document.getElementById("instance").textContent = `instance ${doc.instance}`;
  renderKernel(doc);
  if (!doc.process) { showError(`process not reachable: ${doc.process_error}`); return; }
  document.getElementById("uptime").textContent = `up ${Math.floor(doc.process.uptime_seconds)} s`;
  renderWorkers(doc);
  renderRules(doc);
  renderMembers(doc);
  renderRest(doc);
}

let asked = 0, shown = 0;
async function refresh() {
  const mine = ++asked;
  let response;
  try {
    response = await fetch("/dashboard/stats", {credentials: "same-origin", cache: "no-store"});
  } catch (e) {
    document.getElementById("status").textContent = "edgesplit not reachable";
    return;
  }
  if (response.status === 401) { showError("authentication required: open /dashboard?token=… or sign in"); return; }
  if (!response.ok) { showError(`stats: HTTP ${response.status}`); return; }
  const doc = await response.json();
  if (mine < shown) return;  // an older answer that came back late
  shown = mine;
  const now = Date.now();
  history.push({t: now, doc});
  while (history.length && now - history[0].t > WINDOW_MS) history.shift();
  last = doc;
  showError("");
  render(doc);
  document.getElementById("status").textContent = `updated ${new Date(now).toLocaleTimeString()}`;
  document.body.dataset.sample = doc.time;
  document.body.dataset.samples = String(history.length);
}

// Polling, paused by the browser test to compare the page with `stats --json`.
let timer = null, paused = false;
function loop() { if (!paused) refresh().finally(() => { if (!paused) timer = setTimeout(loop, INTERVAL); }); }
window.edgesplit = {refresh, model: () => last,
  pause() { paused = true; clearTimeout(timer); }, resume() { if (paused) { paused = false; loop(); } }};
loop();
</script>
</body>
</html>
"""#
}
