// The operator dashboard: polls /v1/ops/timeseries with the admin key kept in
// sessionStorage and draws the series on <canvas> (no library, no CDN).
"use strict";

const KEY = "catalog-sync-admin-key";
const REFRESH_MS = 5000;
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];
let timer = null;

function $(id) { return document.getElementById(id); }

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

function seriesOf(samples, pick) {
  // {name: [[t, v], ...]} for every job type (or named line) in the samples.
  const out = {};
  for (const s of samples) {
    for (const [name, v] of Object.entries(pick(s))) {
      if (v === null || v === undefined || Number.isNaN(v)) continue;
      (out[name] = out[name] || []).push([s.at, v]);
    }
  }
  return out;
}

function perType(field) {
  return (s) => Object.fromEntries(
    Object.entries(s.types).map(([name, t]) => [name, field(t)]));
}

function drawChart(canvas, series, names) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 34;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, w, h);
  const points = Object.values(series).flat();
  ctx.strokeStyle = "#c9ced6";
  ctx.lineWidth = 1;
  ctx.strokeRect(pad, 6, w - pad - 6, h - pad);
  if (points.length === 0) {
    ctx.fillStyle = "#8a919c";
    ctx.fillText("no data yet", w / 2 - 30, h / 2);
    canvas.dataset.points = "0";
    return;
  }
  const t0 = Math.min(...points.map((p) => p[0]));
  const t1 = Math.max(...points.map((p) => p[0]), t0 + 1);
  const vmax = Math.max(...points.map((p) => p[1]), 1e-9) * 1.1;
  const x = (t) => pad + ((t - t0) / (t1 - t0)) * (w - pad - 8);
  const y = (v) => h - pad + 6 - (v / vmax) * (h - pad - 6);
  ctx.fillStyle = "#59606b";
  ctx.fillText(vmax >= 10 ? Math.round(vmax).toString() : vmax.toPrecision(2), 2, 14);
  ctx.fillText("0", 2, h - pad + 6);
  ctx.fillText(new Date(t0 * 1000).toLocaleTimeString(), pad, h - 10);
  let i = 0;
  for (const name of names) {
    const pts = series[name];
    if (!pts) { i++; continue; }
    ctx.strokeStyle = COLORS[i++ % COLORS.length];
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    pts.forEach(([t, v], k) => (k ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
    if (pts.length === 1) ctx.lineTo(x(pts[0][0]) + 4, y(pts[0][1]));
    ctx.stroke();
  }
  canvas.dataset.points = String(points.length);
}

function render(data) {
  const samples = data.samples || [];
  const types = samples.length ? Object.keys(samples[samples.length - 1].types) : [];
  const charts = {
    depth: [seriesOf(samples, perType((t) => t.waiting + t.delayed)), types],
    throughput: [seriesOf(samples, perType((t) => t.completed_per_min)), types],
    failures: [seriesOf(samples, perType((t) => t.failure_rate)), types],
    latency: [seriesOf(samples, (s) => ({ p50: s.search.p50_ms, p95: s.search.p95_ms })), ["p50", "p95"]],
  };
  for (const canvas of document.querySelectorAll("canvas[data-series]")) {
    const [series, names] = charts[canvas.dataset.series];
    drawChart(canvas, series, names);
  }
  const legend = $("legend");
  legend.replaceChildren();
  types.forEach((name, k) => {
    const span = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = COLORS[k % COLORS.length];
    span.append(swatch, document.createTextNode(name));
    legend.append(span);
  });
  const alerts = $("alerts");
  alerts.replaceChildren();
  if (!data.alerts.length) alerts.append(text("li", "none firing", "ok"));
  for (const a of data.alerts) alerts.append(text("li", `${a.rule} (${a.subject}): ${a.message}`, a.severity));
  const s = data.search;
  $("search-summary").textContent = s.count
    ? `${s.count} searches in 5 min; p50 ${s.p50_ms.toFixed(1)} ms, p95 ${s.p95_ms.toFixed(1)} ms; cache hit rate ${(100 * s.hit_rate).toFixed(0)}%`
    : "no searches in the last 5 min";
  const syncs = $("syncs").tBodies[0];
  syncs.replaceChildren();
  for (const r of data.syncs) {
    const row = document.createElement("tr");
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("div");
    fill.style.width = `${Math.max(0, Math.min(100, r.progress))}%`;
    bar.append(fill);
    const cell = document.createElement("td");
    cell.append(bar, document.createTextNode(` ${r.progress}%`));
    row.append(text("td", r.seller_id), text("td", r.state), cell,
      text("td", `${r.completed} / ${r.total}`), text("td", String(r.failed)));
    syncs.append(row);
  }
  const dead = $("dead").tBodies[0];
  dead.replaceChildren();
  for (const d of data.dead_letters) {
    const row = document.createElement("tr");
    row.append(text("td", d.job_id.slice(0, 12)), text("td", d.type), text("td", d.seller_id), text("td", d.error));
    dead.append(row);
  }
  document.body.dataset.rendered = String(samples.length);
}

async function refresh() {
  const key = sessionStorage.getItem(KEY);
  if (!key) { showLogin(""); return; }
  try {
    const resp = await fetch("/v1/ops/timeseries", { headers: { Authorization: `Bearer ${key}` } });
    if (resp.status === 401 || resp.status === 403) {
      sessionStorage.removeItem(KEY);
      showLogin("that key is not an admin key");
      return;
    }
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    render(await resp.json());
    $("status").textContent = `updated ${new Date().toLocaleTimeString()}`;
    $("status").className = "ok";
  } catch (err) {
    $("status").textContent = `refresh failed: ${err.message}`;
    $("status").className = "bad";
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

function showLogin(message) {
  clearTimeout(timer);
  $("board").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $("key").value.trim());
    $("login").hidden = true;
    $("board").hidden = false;
    refresh();
  });
  $("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); showLogin(""); });
  if (sessionStorage.getItem(KEY)) { $("board").hidden = false; refresh(); } else showLogin("");
});
