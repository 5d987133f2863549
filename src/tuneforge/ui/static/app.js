// tuneforge web app: the little behaviour htmx does not give (drop zone, charts). No build step.
"use strict";

// Drop zone: a file dropped on `.dropzone` goes into its <input type=file>, as if chosen with the picker.
document.addEventListener("dragover", (e) => {
  const zone = e.target.closest && e.target.closest(".dropzone");
  if (zone) { e.preventDefault(); zone.classList.add("dragover"); }
});
document.addEventListener("dragleave", (e) => {
  const zone = e.target.closest && e.target.closest(".dropzone");
  if (zone) zone.classList.remove("dragover");
});
document.addEventListener("drop", (e) => {
  const zone = e.target.closest && e.target.closest(".dropzone");
  if (!zone) return;
  e.preventDefault();
  zone.classList.remove("dragover");
  const input = zone.querySelector("input[type=file]");
  if (input && e.dataTransfer.files.length) {
    input.files = e.dataTransfer.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    // A dropped file is the person's choice made: upload it at once (the Upload button stays for the picker).
    if (zone.hasAttribute("data-autosubmit") && zone.requestSubmit) zone.requestSubmit();
  }
});

// Loss chart: every `.loss-chart` holds its points in data attributes (JSON); drawn with uPlot, redrawn after each
// htmx refresh of the progress fragment.
function drawCharts(root) {
  if (typeof uPlot === "undefined") return;
  root.querySelectorAll(".loss-chart[data-steps]").forEach((el) => {
    const steps = JSON.parse(el.dataset.steps), loss = JSON.parse(el.dataset.loss);
    el.replaceChildren();
    const width = Math.max(el.clientWidth, 280);
    new uPlot({
      width, height: 240,
      scales: { x: { time: false } },
      axes: [{ label: "step" }, { label: "loss" }],
      series: [{ label: "step" }, { label: "training loss", stroke: "#1d4ed8", width: 2 }],
    }, [steps, loss], el);
  });
}
window.addEventListener("load", () => drawCharts(document));
document.addEventListener("htmx:afterSettle", (e) => drawCharts(e.target.parentNode || document));
