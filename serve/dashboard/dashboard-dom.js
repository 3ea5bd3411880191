// DOM helpers shared by the dashboard's scripts: every value goes in as text, never HTML.
"use strict";

window.DashboardDom = (() => {
  function $(id) { return document.getElementById(id); }

  function text(tag, value, cls) {
    const el = document.createElement(tag);
    el.textContent = value;
    if (cls) el.className = cls;
    return el;
  }

  // A table row; strings become plain cells, elements go in as they are.
  function row(cells) {
    const tr = document.createElement("tr");
    tr.append(...cells.map((c) => (typeof c === "string" ? text("td", c) : c)));
    return tr;
  }

  function emptyRow(body, columns, message) {
    const cell = text("td", message, "muted");
    cell.colSpan = columns;
    body.append(row([cell]));
  }

  return { $, text, row, emptyRow };
})();
