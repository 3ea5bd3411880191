// The dashboard's charts: line series on <canvas> (no library, no CDN), each chart with its
// own legend and a tooltip that reads the values at the pointer. dashboard.js calls these.
"use strict";

window.DashboardCharts = (() => {
  const PAD_LEFT = 44, PAD_TOP = 8, PAD_RIGHT = 8, PAD_BOTTOM = 26;
  // The smallest y range of each unit: an empty or flat chart keeps a readable axis
  // ("0" to "5"), never one scaled to a rounding error.
  const MIN_RANGE = { count: 5, per_min: 5, ratio: 0.1, ms: 10 };

  function niceMax(value, unit) {
    const target = Math.max(Number.isFinite(value) ? value : 0, MIN_RANGE[unit] || 1);
    const magnitude = 10 ** Math.floor(Math.log10(target));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (step * magnitude >= target) return step * magnitude;
    }
    return 10 * magnitude;
  }

  function format(value, unit) {
    if (unit === "ratio") return `${+(value * 100).toFixed(1)}%`;
    const rounded = Math.abs(value) >= 10 ? Math.round(value) : +value.toFixed(2);
    return unit === "ms" ? `${rounded} ms` : String(rounded);
  }

  function clock(t) { return new Date(t * 1000).toLocaleTimeString(); }

  // Draws `series` ({name: [[t, v], ...]}) in the order of `names`, each in colors[name].
  function draw(canvas, series, names, colors) {
    const unit = canvas.dataset.unit || "count";
    const ctx = canvas.getContext("2d");
    // Drawn at the size it is shown (in CSS pixels, sharp on dense screens): text stays
    // legible on a phone instead of shrinking with a fixed-size bitmap.
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;  // not laid out (the board is hidden): drawn on the next refresh
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const plotW = w - PAD_LEFT - PAD_RIGHT, plotH = h - PAD_TOP - PAD_BOTTOM;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, w, h);
    ctx.font = "12px system-ui, sans-serif";
    const points = names.flatMap((name) => series[name] || []);
    const vmax = niceMax(Math.max(0, ...points.map((p) => p[1])), unit);
    const t0 = points.length ? Math.min(...points.map((p) => p[0])) : 0;
    const t1 = points.length ? Math.max(...points.map((p) => p[0]), t0 + 1) : 1;
    const x = (t) => PAD_LEFT + ((t - t0) / (t1 - t0)) * plotW;
    const y = (v) => PAD_TOP + plotH - (v / vmax) * plotH;
    ctx.strokeStyle = "#e3e6ea";
    ctx.lineWidth = 1;
    ctx.fillStyle = "#59606b";
    ctx.textAlign = "right";
    for (const frac of [0, 0.5, 1]) {
      const gy = Math.round(y(vmax * frac)) + 0.5;
      ctx.beginPath(); ctx.moveTo(PAD_LEFT, gy); ctx.lineTo(w - PAD_RIGHT, gy); ctx.stroke();
      ctx.fillText(format(vmax * frac, unit), PAD_LEFT - 4, gy + 4);
    }
    canvas.dataset.ymax = format(vmax, unit);
    canvas.dataset.points = String(points.length);
    canvas._plot = points.length ? { series, names, colors, unit, t0, t1, x } : null;
    if (!points.length) {
      ctx.textAlign = "center";
      ctx.fillStyle = "#8a919c";
      ctx.fillText("no data yet", PAD_LEFT + plotW / 2, PAD_TOP + plotH / 2);
      return;
    }
    ctx.textAlign = "left";
    ctx.fillText(clock(t0), PAD_LEFT, h - 8);
    ctx.textAlign = "right";
    ctx.fillText(clock(t1), w - PAD_RIGHT, h - 8);
    for (const name of names) {
      const pts = series[name];
      if (!pts) continue;
      ctx.strokeStyle = colors[name];
      ctx.lineWidth = 2.5;
      ctx.beginPath();
      pts.forEach(([t, v], k) => (k ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
      if (pts.length === 1) ctx.lineTo(x(pts[0][0]) + 4, y(pts[0][1]));
      ctx.stroke();
    }
  }

  // One legend per chart: the chart's own names and colours.
  function legend(list, names, colors) {
    list.replaceChildren();
    for (const name of names) {
      const item = document.createElement("li");
      const swatch = document.createElement("i");
      swatch.style.background = colors[name];
      item.append(swatch, document.createTextNode(name));
      list.append(item);
    }
  }

  // The value of each series at the sample nearest the pointer, in a box kept inside
  // the chart (so it never widens the page on a phone).
  function tooltipAt(canvas, tip, clientX) {
    const plot = canvas._plot;
    if (!plot) { tip.hidden = true; return; }
    const box = canvas.getBoundingClientRect();
    const px = clientX - box.left;  // the plot's x is in CSS pixels
    let best = null;
    for (const name of plot.names) {
      for (const [t] of plot.series[name] || []) {
        if (best === null || Math.abs(plot.x(t) - px) < Math.abs(plot.x(best) - px)) best = t;
      }
    }
    const lines = [clock(best)];
    for (const name of plot.names) {
      const hit = (plot.series[name] || []).find(([t]) => t === best);
      if (hit) lines.push(`${name}: ${format(hit[1], plot.unit)}`);
    }
    tip.textContent = lines.join("\n");
    tip.hidden = false;
    const left = plot.x(best) + 8;
    tip.style.left = `${Math.max(0, Math.min(left, box.width - tip.offsetWidth))}px`;
    tip.style.top = "4px";
  }

  function attachTooltip(canvas, tip) {
    canvas.addEventListener("pointermove", (ev) => tooltipAt(canvas, tip, ev.clientX));
    canvas.addEventListener("pointerdown", (ev) => tooltipAt(canvas, tip, ev.clientX));
    canvas.addEventListener("pointerleave", () => { tip.hidden = true; });
  }

  return { draw, legend, attachTooltip, niceMax, format };
})();
