"use strict";
/* Small SVG charts for the jobrunner report: histograms, a step line, bars and dot clouds.
   No library and no network: every chart is a handful of SVG elements drawn from the report's
   embedded JSON. A dot cloud is one <path>, so ten thousand attempts cost one element. */

const SVGNS = "http://www.w3.org/2000/svg";

function el(tag, attrs, parent) {
  const node = document.createElementNS(SVGNS, tag);
  for (const key in attrs) node.setAttribute(key, attrs[key]);
  if (parent) parent.appendChild(node);
  return node;
}

function label(parent, x, y, content, attrs) {
  const node = el("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
  node.textContent = content;
  return node;
}

function niceStep(span, target) {
  if (!(span > 0)) return 1;
  const raw = span / target;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= raw * (1 - 1e-9)) return m * power;
  return 10 * power;
}

const TIME_STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600,
  7200, 10800, 21600, 43200, 86400];

/* Round ticks between lo and hi, about ``target`` of them; on a time axis, round clock steps. */
function ticks(lo, hi, target, time) {
  const step = time ? TIME_STEPS.find((s) => s >= (hi - lo) / target) || 86400 : niceStep(hi - lo, target);
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    out.push(+v.toFixed(10));
  }
  return out;
}

function fmtNum(v) {
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en");
  return String(+v.toFixed(Math.abs(v) >= 10 ? 0 : 2));
}

/* Seconds as "12.5 s" below a minute, else m:ss or h:mm:ss. */
function fmtClock(seconds) {
  const s = Math.max(0, seconds);
  if (s < 60) return +s.toFixed(s % 1 ? 1 : 0) + " s";
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const ss = sec < 10 ? "0" + sec.toFixed(sec % 1 ? 1 : 0) : sec.toFixed(sec % 1 ? 1 : 0);
  return h ? h + ":" + String(m).padStart(2, "0") + ":" + ss.padStart(2, "0") : m + ":" + ss;
}

function chartBox(container, title, id) {
  const box = document.createElement("div");
  box.className = "chart";
  if (id) box.id = id;
  const heading = document.createElement("h4");
  heading.textContent = title;
  box.appendChild(heading);
  container.appendChild(box);
  return box;
}

function emptyChart(container, title, why, id) {
  const box = chartBox(container, title, id);
  const p = document.createElement("p");
  p.className = "meta";
  p.textContent = why;
  box.appendChild(p);
}

/* A frame with linear x and y scales, grid lines and labelled axes. */
function frame(container, title, opts) {
  const W = 560, H = opts.height || 200, m = { l: 48, r: 14, t: 12, b: 32 };
  const box = chartBox(container, title, opts.id);
  const svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title }, box);
  const [x0, x1] = opts.x, [y0, y1] = opts.y;
  const sx = (v) => m.l + (x1 === x0 ? 0 : ((v - x0) / (x1 - x0)) * (W - m.l - m.r));
  const sy = (v) => H - m.b - (y1 === y0 ? 0 : ((v - y0) / (y1 - y0)) * (H - m.t - m.b));
  const grid = el("g", { class: "grid" }, svg), axis = el("g", { class: "axis" }, svg);
  for (const v of ticks(y0, y1, 4)) {
    el("line", { x1: m.l, x2: W - m.r, y1: sy(v), y2: sy(v) }, grid);
    label(axis, m.l - 6, sy(v) + 4, (opts.yFmt || fmtNum)(v), { "text-anchor": "end" });
  }
  for (const v of ticks(x0, x1, 6, opts.xFmt === fmtClock)) {
    el("line", { x1: sx(v), x2: sx(v), y1: H - m.b, y2: H - m.b + 4 }, axis);
    label(axis, sx(v), H - m.b + 16, (opts.xFmt || fmtNum)(v), { "text-anchor": "middle" });
  }
  el("line", { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }, axis);
  if (opts.xLabel) label(svg, W - m.r, H - 2, opts.xLabel, { "text-anchor": "end" });
  return { svg: svg, sx: sx, sy: sy, W: W, H: H, m: m };
}

/* A distribution: bars of its histogram and dashed lines at p50, p90 and p99. */
function histogramChart(container, title, dist, id) {
  if (!dist || !dist.n) return emptyChart(container, title, "no values", id);
  const edges = dist.edges, counts = dist.counts;
  const f = frame(container, title + " (" + dist.n.toLocaleString("en") + " turns)", {
    id: id, x: [edges[0], edges[edges.length - 1]], y: [0, Math.max.apply(null, counts)],
    xFmt: (v) => fmtNum(v) + " s",
  });
  const bars = el("g", {}, f.svg);
  counts.forEach((c, i) => {
    if (!c) return;
    const x = f.sx(edges[i]), w = Math.max(1, f.sx(edges[i + 1]) - x - 1);
    const bar = el("rect", { class: "bar", x: x, y: f.sy(c), width: w, height: f.sy(0) - f.sy(c) }, bars);
    el("title", {}, bar).textContent = edges[i] + " to " + edges[i + 1] + " s: " + c + " turns";
  });
  let row = 0;
  for (const [name, value] of [["p50", dist.p50], ["p90", dist.p90], ["p99", dist.p99]]) {
    const x = f.sx(value);
    el("line", { class: "mark-line", x1: x, x2: x, y1: f.m.t, y2: f.H - f.m.b }, f.svg);
    label(f.svg, x + 3, f.m.t + 10 + 12 * row++, name + " " + value.toFixed(2) + " s", {});
  }
}

/* Sessions open over time, as a step line. */
function stepChart(container, title, points, span, id) {
  if (!points.length) return emptyChart(container, title, "no sessions recorded", id);
  const peak = Math.max.apply(null, points.map((p) => p[1]));
  const f = frame(container, title, {
    id: id, x: [0, Math.max(span, 1)], y: [0, Math.max(peak, 1)], xFmt: fmtClock,
    xLabel: "time since the first session",
  });
  let d = "M" + f.sx(points[0][0]) + "," + f.sy(0);
  for (const [t, n] of points) d += "H" + f.sx(t) + "V" + f.sy(n);
  el("path", { class: "step", d: d + "H" + f.sx(span) }, f.svg);
}

/* Counts per time bucket; ``bad`` (429s) drawn over them in red. */
function bucketChart(container, title, counts, bad, bucket, id) {
  if (!counts.length) return emptyChart(container, title, "no sessions recorded", id);
  const top = Math.max(1, Math.max.apply(null, counts));
  const f = frame(container, title, {
    id: id, x: [0, counts.length * bucket], y: [0, top], xFmt: fmtClock,
    xLabel: "time since the first session",
  });
  const g = el("g", {}, f.svg);
  counts.forEach((c, i) => {
    const x = f.sx(i * bucket), w = Math.max(1, f.sx((i + 1) * bucket) - x - 1);
    if (c) el("rect", { class: "bar", x: x, y: f.sy(c), width: w, height: f.sy(0) - f.sy(c) }, g);
    if (bad[i]) el("rect", { class: "bar bad", x: x, y: f.sy(bad[i]), width: w, height: f.sy(0) - f.sy(bad[i]) }, g);
  });
}

/* One dot per point, all in one path. */
function dotChart(container, title, points, opts) {
  if (!points.length) return emptyChart(container, title, "no values", opts.id);
  const ys = points.map((p) => p[1]);
  const lo = Math.min(opts.yMin === undefined ? Infinity : opts.yMin, Math.min.apply(null, ys));
  const hi = Math.max(opts.yMax === undefined ? -Infinity : opts.yMax, Math.max.apply(null, ys));
  const f = frame(container, title, {
    id: opts.id, x: [0, Math.max(opts.span, 1)], y: [lo, hi === lo ? lo + 1 : hi],
    xFmt: fmtClock, yFmt: opts.yFmt, xLabel: "session start",
  });
  let d = "";
  for (const [x, y] of points) d += "M" + (f.sx(x) - 1.5).toFixed(1) + "," + (f.sy(y) - 1.5).toFixed(1) + "h3v3h-3z";
  el("path", { class: "dots", d: d }, f.svg);
}
