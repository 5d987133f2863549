// tuneforge web app, Compare/Deploy/Review/Monitor pages: copy buttons, the review queue's keys, uPlot charts.
"use strict";

// Copy buttons: `data-copy` names the <pre> whose text goes to the clipboard.
document.addEventListener("click", (e) => {
  const button = e.target.closest && e.target.closest("button[data-copy]");
  if (!button) return;
  const text = document.getElementById(button.dataset.copy).textContent;
  const done = () => { button.textContent = "Copied"; setTimeout(() => { button.textContent = "Copy"; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done);
  } else {  // plain http on another host: select the text so Ctrl+C copies it
    const range = document.createRange();
    range.selectNodeContents(document.getElementById(button.dataset.copy));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand("copy");
    done();
  }
});

// Review queue, on a focused item: Enter accepts, 1-9 picks a label, "e" edits the answer inline.
function nextItem(from) {
  const items = Array.from(document.querySelectorAll("article.review-item:not(.done)"));
  const after = items.find((item) => from.compareDocumentPosition(item) & Node.DOCUMENT_POSITION_FOLLOWING);
  return after || items[0];
}

document.addEventListener("keydown", (e) => {
  const item = e.target.matches && e.target.matches("article.review-item") ? e.target : null;
  if (!item || e.altKey || e.ctrlKey || e.metaKey) return;
  let button = null;
  if (e.key === "Enter") button = item.querySelector("button.accept");
  else if (/^[1-9]$/.test(e.key)) button = item.querySelector(`button.label[data-key="${e.key}"]`);
  else if (e.key === "e") {
    e.preventDefault();
    const input = item.querySelector(".review-edit input[name=correct_output]");
    input.focus();
    input.select();
    return;
  }
  if (button) { e.preventDefault(); button.click(); }
});

document.addEventListener("htmx:afterSwap", (e) => {
  const done = e.detail.target.querySelector && e.detail.target.querySelector("article.review-item.done");
  if (!done) return;
  const next = nextItem(done);
  (next || done).focus();
});

document.addEventListener("DOMContentLoaded", () => {
  const first = document.querySelector("article.review-item:not(.done)");
  if (first && (document.activeElement === document.body || !document.activeElement)) first.focus();
  drawMonitorCharts();
});

// Monitor charts: one uPlot per figure, from the JSON the page embeds (the same numbers as its table).
const COLOURS = ["#1d4ed8", "#b91c1c", "#166534", "#7c2d12"];

// The x range uPlot asks for. Showing every point (not zoomed in), it is the windows' own span with a tenth of it
// on each side, at least a minute (or half a window number): uPlot's automatic range for a single point is
// 86,400,000 units wide, which on a time axis in seconds spans years instead of the window's time.
function xRange(xs, min, max, time) {
  const first = xs[0], last = xs[xs.length - 1];
  if (min > first || max < last) return [min, max];  // zoomed in by the person: keep their choice
  const pad = Math.max((last - first) / 10, time ? 60 : 0.5);
  return [first - pad, last + pad];
}

function drawMonitorCharts() {
  const source = document.getElementById("monitor-series");
  if (!source || typeof uPlot === "undefined") return;
  const { series, charts } = JSON.parse(source.textContent);
  const t = series.t;
  const increasing = t.every((x, i) => i === 0 || (x !== null && x > t[i - 1]));
  const xs = increasing ? t : t.map((_, i) => i + 1);  // windows closed within one second: number them instead
  document.querySelectorAll("[data-chart]").forEach((box) => {
    const [title, unit, lines] = charts[Number(box.dataset.chart)];
    const opts = {
      width: Math.max(280, box.clientWidth || 600), height: 220,
      scales: { x: { time: increasing, range: (u, min, max) => xRange(xs, min, max, increasing) } },
      axes: [increasing ? { label: "time" } : { label: "window", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] },
             { label: unit }],
      series: [{ label: increasing ? "time" : "window" }].concat(lines.map(([key, label], i) => ({
        label, stroke: COLOURS[i % COLOURS.length], width: 2, points: { show: true, size: 6 },
      }))),
    };
    box.uplot = new uPlot(opts, [xs].concat(lines.map(([key]) => series[key])), box);  // kept for tests
  });
}
