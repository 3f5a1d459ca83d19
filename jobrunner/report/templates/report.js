"use strict";
/* The report page: charts from the embedded JSON, the sortable and filterable files table, and
   a file's timeline, drawn when the file is opened. A timeline is drawn at a chosen scale in a
   horizontally scrolling box (a three-hour file is scrolled, never squeezed into a blur), with
   an overview strip of the whole file (speech per bucket and turn ends) to jump around in. */

const R = JSON.parse(document.getElementById("report-data").textContent);
const TF = Object.fromEntries(R.turn_fields.map((k, i) => [k, i]));
const TIMELINES = new Map(R.timelines.map((t) => [t.job_id, t]));
const FILES = new Map(R.files.map((f) => [f.job_id, f]));
const $ = (id) => document.getElementById(id);

/* -- charts --------------------------------------------------------------------------------- */

function drawCharts() {
  const td = R.turn_detection, box = $("latency-charts");
  histogramChart(box, "end_latency_s: turn.end after the speech ended", td.end_latency, "chart-end-latency");
  histogramChart(box, "start_latency_s: turn.start after the speech started", td.start_latency, "chart-start-latency");
  histogramChart(box, "eager_latency_s: eager end after the speech ended", td.eager_latency, "chart-eager-latency");
  const h = R.health, health = $("health-charts");
  stepChart(health, "Concurrent sessions", h.concurrency, h.span_s, "chart-concurrency");
  const per = h.bucket_s === 60 ? "minute" : fmtClock(h.bucket_s);
  bucketChart(health, "Sessions started per " + per + " (blue), refused with 429 (red)", h.sessions, h.rate_limited, h.bucket_s, "chart-sessions");
  const rates = h.pacing.map((p) => [p[0], p[2]]);
  dotChart(health, "Send rate per attempt (x realtime)", rates, { id: "chart-send-rate", span: h.span_s, yMin: 0, yMax: 1.05 });
  const late = h.pacing.filter((p) => p[3] !== null).map((p) => [p[0], p[3] * 1000]);
  dotChart(health, "p99 send lateness per attempt (ms)", late, { id: "chart-lateness", span: h.span_s, yMin: 0 });
}

/* -- the files table ------------------------------------------------------------------------ */

const table = $("file-table"), tbody = table.tBodies[0];

function dash(value, format) { return value === null || value === undefined ? "–" : format(value); }
function fmtDuration(s) {
  if (s < 60) return s.toFixed(1) + " s";
  const t = Math.round(s);
  return Math.floor(t / 3600) + ":" + String(Math.floor((t % 3600) / 60)).padStart(2, "0") + ":" + String(t % 60).padStart(2, "0");
}

/* One row per file; each cell keeps its raw value in data-v for sorting. */
function buildRows() {
  const rows = document.createDocumentFragment();
  const cell = (row, text, value, cls) => {
    const td = row.insertCell();
    td.textContent = text;
    td.dataset.v = value === null || value === undefined ? "" : value;
    if (cls) td.className = cls;
    return td;
  };
  for (const f of R.files) {
    const row = document.createElement("tr");
    Object.assign(row.dataset, { job: f.job_id, state: f.state, path: f.path });
    row.tabIndex = 0;
    cell(row, f.name, f.name).title = f.path + (f.reason ? " · " + f.reason : "");
    const badge = document.createElement("span");
    badge.className = "state " + f.state;
    badge.textContent = f.state;
    cell(row, "", f.state).appendChild(badge);
    cell(row, dash(f.duration_s, fmtDuration), f.duration_s, "n");
    cell(row, String(f.turns), f.turns, "n");
    cell(row, dash(f.wer, (w) => (100 * w).toFixed(1) + " %"), f.wer, "n");
    cell(row, dash(f.p90_latency_s, (v) => v.toFixed(2) + " s"), f.p90_latency_s, "n");
    cell(row, String(f.attempts), f.attempts, "n");
    cell(row, f.coverage || "–", f.coverage);
    rows.appendChild(row);
  }
  tbody.appendChild(rows);
}
const headers = Array.from(table.tHead.rows[0].cells);
const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

function sortBy(column) {
  const th = headers[column];
  const dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
  headers.forEach((h) => h.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", dir);
  const sign = dir === "ascending" ? 1 : -1, numeric = th.dataset.type === "num";
  const keyed = Array.from(tbody.rows, (row) => [row.cells[column].dataset.v, row]);
  keyed.sort((a, b) => {
    if (a[0] === "" || b[0] === "") return (a[0] === "") - (b[0] === ""); // blanks last
    const order = numeric ? a[0] - b[0] : collator.compare(a[0], b[0]);
    return sign * order || a[1].dataset.job - b[1].dataset.job;
  });
  const rows = document.createDocumentFragment();
  for (const [, row] of keyed) rows.appendChild(row);
  tbody.appendChild(rows);
}

function applyFilter() {
  const text = $("file-filter").value.trim().toLowerCase(), state = $("state-filter").value;
  let shown = 0;
  for (const row of tbody.rows) {
    const visible = (!text || row.dataset.path.toLowerCase().includes(text)) && (!state || row.dataset.state === state);
    row.hidden = !visible;
    shown += visible;
  }
  $("file-count").textContent = shown === tbody.rows.length ? shown + " files" : shown + " of " + tbody.rows.length + " files";
}

/* -- a file's timeline ---------------------------------------------------------------------- */

const LANE = 52, TOP = 22;
const view = { timeline: null, scale: 1 };

function fitScale(tl) {
  return ($("timeline-scroll").clientWidth - 24) / Math.max(tl.duration_s, 1);
}

function channelsOf(tl) {
  const n = Math.max(tl.speech ? tl.speech.length : 1, 1 + Math.max(-1, ...tl.turns.map((t) => t[TF.channel])));
  return Math.max(n, 1);
}

function fmtS(v) { return v === null || v === undefined ? "–" : v.toFixed(2) + " s"; }

function turnText(t) {
  const parts = ["turn " + t[TF.index] + (t[TF.channel] ? " (channel " + t[TF.channel] + ")" : ""),
    "turn.start " + fmtS(t[TF.start_s]) + " → turn.end " + fmtS(t[TF.end_s])];
  if (t[TF.speech_start_s] !== null || t[TF.speech_end_s] !== null) parts.push("speech " + fmtS(t[TF.speech_start_s]) + " – " + fmtS(t[TF.speech_end_s]));
  if (t[TF.end_latency_s] !== null) parts.push("end latency " + fmtS(t[TF.end_latency_s]));
  if (t[TF.eager_ends]) parts.push(t[TF.eager_ends] + " eager end(s), last at " + fmtS(t[TF.eager_end_s]));
  if (t[TF.resumes]) parts.push(t[TF.resumes] + " resumed (false alarm)");
  if (t[TF.ended_by] === "close") parts.push("ended by the final flush");
  return parts.join(" · ");
}

function drawTimeline() {
  const tl = view.timeline, k = view.scale, lanes = channelsOf(tl);
  const width = Math.ceil(tl.duration_s * k) + 24, height = TOP + lanes * LANE + 4;
  const x = (s) => 12 + s * k;
  const svg = $("timeline");
  svg.replaceChildren();
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("data-job", tl.job_id);
  const axis = el("g", { class: "axis" }, svg);
  const step = TIME_STEPS.find((s) => s * k >= 90) || 86400;
  for (let t = 0; t <= tl.duration_s + 1e-9; t += step) {
    el("line", { x1: x(t), x2: x(t), y1: 14, y2: height }, axis).setAttribute("stroke-opacity", "0.25");
    label(axis, x(t) + 2, 11, fmtClock(t), {});
  }
  for (let c = 0; c < lanes; c++) {
    const y = TOP + c * LANE, segs = tl.speech ? tl.speech[Math.min(c, tl.speech.length - 1)] : [];
    const speech = el("g", { class: "speech" }, svg);
    for (const [a, b] of segs) el("rect", { class: "seg", x: x(a), y: y, width: Math.max(1, (b - a) * k), height: 9 }, speech);
  }
  const turns = el("g", { class: "turns" }, svg);
  tl.turns.forEach((t, i) => {
    const y = TOP + t[TF.channel] * LANE, g = el("g", { class: "turn", "data-i": i }, turns);
    el("title", {}, g).textContent = turnText(t) + (t[TF.transcript] ? "\n" + t[TF.transcript] : "");
    const ss = t[TF.speech_start_s], se = t[TF.speech_end_s], start = t[TF.start_s], end = t[TF.end_s];
    if (ss !== null || se !== null) {
      const a = ss !== null ? ss : start !== null ? start : se, b = se !== null ? se : end !== null ? end : ss;
      el("rect", { class: "said", x: x(a), y: y + 12, width: Math.max(2, (b - a) * k), height: 6 }, g);
    }
    const a = start !== null ? start : end, b = end !== null ? end : start;
    if (a !== null) el("rect", { class: "event", x: x(a), y: y + 21, width: Math.max(2, (b - a) * k), height: 13, rx: 2 }, g);
    if (se !== null && end !== null && end > se) el("line", { class: "lat", x1: x(se), x2: x(end), y1: y + 40, y2: y + 40 }, g);
    const eager = t[TF.eager_end_s];
    if (eager !== null) {
      const ex = x(eager), ey = y + 27.5;
      el("path", { class: "eager", d: "M" + ex + "," + (ey - 6) + "l5,6l-5,6l-5,-6z" }, g);
      if (t[TF.resumes]) el("circle", { class: "resume", cx: ex - 8, cy: ey, r: 3.5 }, g);
    }
  });
  $("timeline-scale").textContent = k >= 1 ? k.toFixed(k < 10 ? 1 : 0) + " px/s" : (1 / k).toFixed(1) + " s/px";
  drawOverview();
}

function drawOverview() {
  const tl = view.timeline, svg = $("timeline-overview"), w = svg.clientWidth || 800, h = 32;
  svg.replaceChildren();
  svg.setAttribute("viewBox", "0 0 " + w + " " + h);
  const buckets = Math.max(1, Math.min(400, Math.floor(w / 2))), span = Math.max(tl.duration_s, 1e-3);
  const per = span / buckets, fill = new Array(buckets).fill(0);
  for (const ch of tl.speech || []) {
    for (const [a, b] of ch) {
      for (let i = Math.floor(a / per); i <= Math.min(buckets - 1, Math.floor(b / per)); i++) {
        fill[i] += Math.max(0, Math.min(b, (i + 1) * per) - Math.max(a, i * per)) / per / (tl.speech.length || 1);
      }
    }
  }
  const g = el("g", {}, svg);
  fill.forEach((f, i) => { if (f > 0) el("rect", { class: "seg", x: (i * w) / buckets, y: h - 2 - f * 18, width: w / buckets, height: f * 18 }, g); });
  const ends = tl.turns.map((t) => t[TF.end_s]).filter((t) => t !== null);
  let d = "";
  if (ends.length * 3 <= w) {
    for (const t of ends) d += "M" + ((t / span) * w).toFixed(1) + ",2v9";
  } else { // too many to tell apart: turn ends per bucket, as a density strip
    const count = new Array(buckets).fill(0);
    for (const t of ends) count[Math.min(buckets - 1, Math.floor(t / per))] += 1;
    const top = Math.max.apply(null, count);
    count.forEach((c, i) => { if (c) d += "M" + ((i * w) / buckets).toFixed(1) + ",2v" + (1 + (8 * c) / top).toFixed(1); });
  }
  el("path", { d: d, stroke: "var(--event)", "stroke-width": Math.max(1, w / buckets - 0.5) }, svg);
  const box = $("timeline-scroll"), k = view.scale;
  const from = Math.max(0, (box.scrollLeft - 12) / k), to = Math.min(span, (box.scrollLeft + box.clientWidth - 12) / k);
  el("rect", { class: "viewport", x: (from / span) * w, y: 0.5, width: Math.max(2, ((to - from) / span) * w), height: h - 1 }, svg);
}

function zoom(how) {
  const box = $("timeline-scroll"), old = view.scale;
  const center = (box.scrollLeft + box.clientWidth / 2 - 12) / old;
  const fit = fitScale(view.timeline);
  view.scale = how === "fit" ? fit : how === "in" ? Math.min(old * 2, 400) : Math.max(old / 2, fit);
  drawTimeline();
  box.scrollLeft = center * view.scale + 12 - box.clientWidth / 2;
  drawOverview();
}

function showFile(jobId, scroll) {
  const tl = TIMELINES.get(jobId), file = FILES.get(jobId);
  if (!tl || !file) return;
  view.timeline = tl;
  const panel = $("timeline-panel");
  panel.hidden = false;
  $("timeline-title").textContent = file.path;
  const bits = [file.state, fmtClock(tl.duration_s), tl.turns.length + " turns"];
  if (file.wer !== null) bits.push("WER " + (100 * file.wer).toFixed(1) + " %");
  if (file.p90_latency_s !== null) bits.push("p90 end latency " + fmtS(file.p90_latency_s));
  if (file.coverage) bits.push(file.coverage);
  if (!tl.speech) bits.push("no speech map: event times only");
  if (file.reason) bits.push(file.reason);
  $("timeline-sub").textContent = bits.join(" · ");
  $("turn-detail").textContent = tl.turns.length ? "Hover a turn for its times and transcript." : "No turns.";
  const fit = fitScale(tl);
  view.scale = tl.duration_s <= 120 ? fit : Math.max(fit, 10);
  drawTimeline();
  $("timeline-scroll").scrollLeft = 0;
  drawOverview();
  for (const row of tbody.querySelectorAll("tr.selected")) row.classList.remove("selected");
  const row = tbody.querySelector('tr[data-job="' + jobId + '"]');
  if (row) row.classList.add("selected");
  try { history.replaceState(null, "", "#file-" + jobId); } catch (e) { /* file:// in some browsers */ }
  if (scroll) panel.scrollIntoView({ block: "nearest" });
}

function showDetail(event) {
  const g = event.target.closest ? event.target.closest("g.turn") : null;
  if (!g || !view.timeline) return;
  for (const other of $("timeline").querySelectorAll("g.turn.active")) other.classList.remove("active");
  g.classList.add("active");
  const t = view.timeline.turns[+g.dataset.i], detail = $("turn-detail");
  detail.replaceChildren(document.createTextNode(turnText(t)));
  const quote = document.createElement("q");
  quote.textContent = (t[TF.transcript] || "").trim() || "(no text)";
  detail.appendChild(quote);
}

/* -- wiring --------------------------------------------------------------------------------- */

drawCharts();
buildRows();
headers.forEach((th, i) => th.addEventListener("click", () => sortBy(i)));
$("file-filter").addEventListener("input", applyFilter);
$("state-filter").addEventListener("change", applyFilter);
tbody.addEventListener("click", (e) => { const row = e.target.closest("tr"); if (row) showFile(+row.dataset.job, true); });
tbody.addEventListener("keydown", (e) => { if (e.key === "Enter" && e.target.dataset.job) showFile(+e.target.dataset.job, true); });
document.addEventListener("click", (e) => {
  const link = e.target.closest ? e.target.closest("a[data-job]") : null;
  if (link) { e.preventDefault(); showFile(+link.dataset.job, true); }
});
for (const button of document.querySelectorAll("[data-zoom]")) button.addEventListener("click", () => zoom(button.dataset.zoom));
$("timeline").addEventListener("mouseover", showDetail);
$("timeline-scroll").addEventListener("scroll", drawOverview, { passive: true });
$("timeline-overview").addEventListener("click", (e) => {
  const box = $("timeline-scroll"), svg = $("timeline-overview"), t = (e.offsetX / svg.clientWidth) * view.timeline.duration_s;
  box.scrollLeft = t * view.scale + 12 - box.clientWidth / 2;
});
window.addEventListener("resize", () => { if (view.timeline) drawOverview(); });
(function openFirst() {
  const wanted = /^#file-(\d+)$/.exec(location.hash);
  const first = R.files.find((f) => f.turns > 0) || R.files[0];
  const id = wanted && FILES.has(+wanted[1]) ? +wanted[1] : first ? first.job_id : null;
  if (id !== null) showFile(id, false);
})();
