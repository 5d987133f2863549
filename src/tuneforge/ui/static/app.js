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
  }
});
