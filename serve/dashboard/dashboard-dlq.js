// Dead letters on the dashboard: the list (filtered by type and/or seller), a job's detail
// (payload, attempts, the error's root cause, the traceback apart), and replay or purge of
// one job or of every match, each after a confirmation that says how many it touches.
// dashboard.js passes in its `api` (fetch with the admin key) and `done` (refresh, report).
"use strict";

window.DashboardDLQ = (() => {
  const LIST_LIMIT = 20;
  const { $, text, row, emptyRow } = window.DashboardDom;
  let api = null, done = null, current = null, pending = null;

  function errorLine(error) {
    if (!error) return "";
    const type = String(error.type || "").split(".").pop();
    return type ? `${type}: ${error.message || ""}` : String(error.message || "");
  }

  function when(t) { return t ? new Date(t * 1000).toLocaleString() : "-"; }

  function filter() {
    const out = {};
    if ($("dlq-type").value) out.type = $("dlq-type").value;
    const seller = $("dlq-seller").value.trim();
    if (seller) out.seller_id = seller;
    return out;
  }

  function describe(sel) {
    if (sel.job_ids) return `job ${sel.job_ids[0].slice(0, 12)}`;
    const parts = [];
    if (sel.type) parts.push(`of type ${sel.type}`);
    if (sel.seller_id) parts.push(`of seller ${sel.seller_id}`);
    return parts.join(" and ") || "in all";
  }

  function setTypes(types) {
    const select = $("dlq-type");
    const have = new Set([...select.options].map((o) => o.value));
    for (const name of types) if (!have.has(name)) select.append(new Option(name, name));
  }

  async function refresh() {
    const query = new URLSearchParams({ ...filter(), limit: String(LIST_LIMIT) });
    const data = await api(`/v1/dlq?${query}`);
    const body = $("dead").tBodies[0];
    body.replaceChildren();
    for (const job of data.jobs) {
      const open = text("button", "details");
      open.type = "button";
      open.addEventListener("click", () => guard(show)(job.id));
      const action = document.createElement("td");
      action.append(open);
      const tr = row([text("td", job.id.slice(0, 12), "mono"), job.type, job.seller_id,
        text("td", errorLine(job.last_error), "error-text"), action]);
      tr.dataset.jobId = job.id;
      body.append(tr);
    }
    if (!data.jobs.length) emptyRow(body, 5, "no dead letters match");
    const shown = data.jobs.length < data.total ? ` (newest ${data.jobs.length} shown)` : "";
    $("dead-total").textContent = `${data.total} dead${shown}`;
    $("dead-total").dataset.total = String(data.total);
    const any = Object.keys(filter()).length > 0 && data.total > 0;
    $("dlq-replay-matching").disabled = !any;
    $("dlq-purge-matching").disabled = !any;
  }

  async function show(jobId) {
    const job = await api(`/v1/dlq/${jobId}`);
    current = job;
    $("job-title").textContent = `${job.type} job ${job.id}`;
    const facts = $("job-facts");
    facts.replaceChildren();
    const rows = [["seller", job.seller_id], ["attempts", `${job.attempt} of ${job.max_attempts}`],
      ["replays", String(job.replays)], ["created", when(job.created_at)],
      ["died", when(job.finished_at)], ["parent", job.parent_id || "-"]];
    for (const [name, value] of rows) facts.append(text("dt", name), text("dd", value));
    $("job-error").textContent = errorLine(job.last_error) || "(no error recorded)";
    $("job-payload").textContent = JSON.stringify(job.payload, null, 2);
    const attempts = $("job-attempts").tBodies[0];
    attempts.replaceChildren();
    for (const a of job.errors) {
      attempts.append(row([String(a.attempt), a.consumer || "-", when(a.finished),
        text("td", errorLine(a.error), "error-text")]));
    }
    const trace = (job.last_error && job.last_error.traceback) || "";
    $("job-traceback").textContent = trace || "(no traceback recorded)";
    $("job-dialog").showModal();
  }

  // Asks before acting: `count` is how many dead letters the selection holds right now.
  function confirmAction(action, selection, count) {
    pending = { action, selection };
    const noun = count === 1 ? "dead letter" : "dead letters";
    const verb = action === "replay" ? "Replay" : "Delete for good";
    $("confirm-text").textContent = `${verb} ${count} ${noun} ${describe(selection)}?`;
    $("confirm-dialog").dataset.count = String(count);
    $("confirm-ok").textContent = action === "replay" ? `Replay ${count}` : `Purge ${count}`;
    $("confirm-ok").className = action === "purge" ? "danger" : "";
    $("confirm-dialog").showModal();
  }

  async function matching(action) {
    const selection = filter();
    const query = new URLSearchParams({ ...selection, limit: "1" });
    const { total } = await api(`/v1/dlq?${query}`);
    if (total === 0) { done(`no dead letters ${describe(selection)}`); return; }
    confirmAction(action, selection, total);
  }

  async function perform() {
    const { action, selection } = pending;
    pending = null;
    $("confirm-dialog").close();
    const result = await api(`/v1/dlq/${action}`, { method: "POST", body: selection });
    const count = action === "replay" ? result.replayed : result.purged;
    if (selection.job_ids && $("job-dialog").open) $("job-dialog").close();
    done(`${action === "replay" ? "replayed" : "purged"} ${count} dead letter(s)`);
  }

  function guard(fn) {
    return (...args) => fn(...args).catch((err) => done(`failed: ${err.message}`, true));
  }

  function init(options) {
    ({ api, done } = options);
    $("dlq-filter").addEventListener("submit", (ev) => { ev.preventDefault(); guard(refresh)(); });
    $("dlq-replay-matching").addEventListener("click", guard(() => matching("replay")));
    $("dlq-purge-matching").addEventListener("click", guard(() => matching("purge")));
    $("job-replay").addEventListener("click", () => confirmAction("replay", { job_ids: [current.id] }, 1));
    $("job-purge").addEventListener("click", () => confirmAction("purge", { job_ids: [current.id] }, 1));
    $("job-close").addEventListener("click", () => $("job-dialog").close());
    $("confirm-cancel").addEventListener("click", () => { pending = null; $("confirm-dialog").close(); });
    $("confirm-ok").addEventListener("click", guard(perform));
  }

  return { init, refresh, setTypes, show: guard(show) };
})();
