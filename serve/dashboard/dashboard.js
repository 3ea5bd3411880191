// The operator dashboard: polls /v1/ops/timeseries, /v1/ops/sellers and /v1/dlq with the
// admin key kept in sessionStorage. Charts: dashboard-charts.js; dead letters (detail,
// replay, purge): dashboard-dlq.js. Everything is built as DOM nodes, never as HTML.
"use strict";

(() => {
  const KEY = "catalog-sync-admin-key";
  const REFRESH_MS = 5000;
  const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];
  const LATENCY_COLORS = { p50: "#2563eb", p95: "#dc2626" };
  const Charts = window.DashboardCharts;
  const DLQ = window.DashboardDLQ;
  const { $, text, row, emptyRow } = window.DashboardDom;
  let timer = null;

  function ago(seconds) {
    if (seconds < 120) return `${seconds.toFixed(1)} s ago`;
    if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min ago`;
    return `${(seconds / 3600).toFixed(1)} h ago`;
  }

  class AuthError extends Error {}

  // fetch with the admin key; JSON in and out. A refused key sends the page back to login.
  async function api(path, options = {}) {
    const key = sessionStorage.getItem(KEY);
    if (!key) throw new AuthError("no key");
    const init = { method: options.method || "GET", headers: { Authorization: `Bearer ${key}` } };
    if (options.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    const resp = await fetch(path, init);
    if (resp.status === 401 || resp.status === 403) {
      sessionStorage.removeItem(KEY);
      showLogin("that key is not an admin key");
      throw new AuthError("not an admin key");
    }
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const detail = typeof data.detail === "string" ? data.detail
        : (data.detail || []).map((d) => d.msg).join("; ");
      throw new Error(detail || `HTTP ${resp.status}`);
    }
    return data;
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
    return (s) => Object.fromEntries(Object.entries(s.types).map(([name, t]) => [name, field(t)]));
  }

  function renderCharts(samples) {
    const types = samples.length ? Object.keys(samples[samples.length - 1].types) : [];
    // A type keeps its colour in every chart; each chart's legend lists its own lines.
    const typeColors = Object.fromEntries(types.map((name, k) => [name, COLORS[k % COLORS.length]]));
    const charts = {
      depth: [seriesOf(samples, perType((t) => t.waiting + t.delayed)), types, typeColors],
      throughput: [seriesOf(samples, perType((t) => t.completed_per_min)), types, typeColors],
      failures: [seriesOf(samples, perType((t) => t.failure_rate)), types, typeColors],
      latency: [seriesOf(samples, (s) => ({ p50: s.search.p50_ms, p95: s.search.p95_ms })),
        ["p50", "p95"], LATENCY_COLORS],
    };
    for (const canvas of document.querySelectorAll("canvas[data-series]")) {
      const [series, names, colors] = charts[canvas.dataset.series];
      Charts.draw(canvas, series, names, colors);
      const shown = names.filter((name) => series[name]);
      Charts.legend($(`legend-${canvas.dataset.series}`), shown.length ? shown : names, colors);
    }
    DLQ.setTypes(types);
  }

  function renderSyncs(syncs) {
    const body = $("syncs").tBodies[0];
    body.replaceChildren();
    for (const r of syncs) {
      const bar = document.createElement("div");
      bar.className = `bar state-${r.state}`;
      const fill = document.createElement("div");
      fill.style.width = `${Math.max(0, Math.min(100, r.progress))}%`;
      bar.append(fill);
      const cell = document.createElement("td");
      cell.append(bar, document.createTextNode(` ${r.progress}%`));
      body.append(row([r.seller_id, text("td", r.state.replaceAll("_", " "), `state-${r.state}`),
        cell, `${r.completed} / ${r.total}`, String(r.failed)]));
    }
    if (!syncs.length) emptyRow(body, 5, "no sync in the last 10 minutes");
  }

  function renderWorkers(workers) {
    const body = $("workers").tBodies[0];
    body.replaceChildren();
    for (const w of workers) {
      body.append(row([text("td", w.name, "mono"), w.type, ago(w.age_s),
        text("td", w.stale ? "silent" : "alive", w.stale ? "state-failed" : "ok")]));
    }
    if (!workers.length) emptyRow(body, 4, "no worker has claimed a job yet");
  }

  function skippedCell(s) {
    const cell = document.createElement("td");
    const count = s.scrape ? s.scrape.skipped : 0;
    if (!count) { cell.textContent = "0"; return cell; }
    const details = document.createElement("details");
    details.append(text("summary", String(count)));
    const list = document.createElement("ul");
    for (const [reason, n] of Object.entries(s.skipped_reasons)) list.append(text("li", `${n} x ${reason}`));
    for (const p of s.skipped_products) list.append(text("li", `${p.name || p.url}: ${p.reason}`, "muted"));
    details.append(list);
    cell.append(details);
    return cell;
  }

  function renderSellers(sellers) {
    const body = $("sellers").tBodies[0];
    body.replaceChildren();
    for (const s of sellers) {
      const who = s.seller_name ? `${s.seller_name} (${s.seller_id})` : s.seller_id;
      const p = s.products;
      const error = s.last_error ? `${s.last_error.error_type.split(".").pop()}: ${s.last_error.message}` : "";
      const tr = row([who, text("td", s.state.replaceAll("_", " "), `state-${s.state}`),
        String(p.live), String(p.rejected), String(p.flagged), String(p.failed), String(p.in_progress),
        skippedCell(s), text("td", error, "error-text")]);
      tr.dataset.seller = s.seller_id;
      body.append(tr);
    }
    if (!sellers.length) emptyRow(body, 9, "no sync yet");
  }

  function render(data, sellers) {
    const samples = data.samples || [];
    renderCharts(samples);
    const alerts = $("alerts");
    alerts.replaceChildren();
    if (!data.alerts.length) alerts.append(text("li", "none firing", "ok"));
    for (const a of data.alerts) alerts.append(text("li", `${a.rule} (${a.subject}): ${a.message}`, a.severity));
    const s = data.search;
    $("search-summary").textContent = s.count
      ? `${s.count} searches in 5 min; p50 ${s.p50_ms.toFixed(1)} ms, p95 ${s.p95_ms.toFixed(1)} ms; cache hit rate ${(100 * s.hit_rate).toFixed(0)}%`
      : "no searches in the last 5 min";
    renderSyncs(data.syncs);
    renderWorkers(data.workers || []);
    renderSellers(sellers.sellers);
    document.body.dataset.rendered = String(samples.length);
  }

  function setStatus(message, bad) {
    $("status").textContent = message;
    $("status").className = bad ? "bad" : "ok";
  }

  async function refresh() {
    clearTimeout(timer);
    if (!sessionStorage.getItem(KEY)) { showLogin(""); return; }
    try {
      const [data, sellers] = await Promise.all([api("/v1/ops/timeseries"), api("/v1/ops/sellers")]);
      render(data, sellers);
      await DLQ.refresh();
      setStatus(`updated ${new Date().toLocaleTimeString()}`, false);
    } catch (err) {
      if (err instanceof AuthError) return;
      setStatus(`refresh failed: ${err.message}`, true);
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  // After an action: say what happened (in the status line and the dead-letter panel).
  function done(message, bad) {
    $("dlq-message").textContent = message;
    $("dlq-message").className = bad ? "error" : "ok";
    refresh();
  }

  function showLogin(message) {
    clearTimeout(timer);
    $("board").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message;
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const canvas of document.querySelectorAll("canvas[data-series]")) {
      Charts.attachTooltip(canvas, canvas.parentElement.querySelector(".tooltip"));
    }
    DLQ.init({ api, done });
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
})();
