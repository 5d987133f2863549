"""`tuneforge quickstart --task extraction` end to end on a tiny random base: trains on the shipped invoice
extraction demo, evaluates every system with the extraction metrics, and writes the reports."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from test_eval_html_chromium import browse, charts_in
from tuneforge.cli.main import app


def test_quickstart_extraction_runs_end_to_end(tiny_model_dir, tmp_path):
    out = tmp_path / "qs"
    r = CliRunner().invoke(app, ["quickstart", "--task", "extraction", "--base", str(tiny_model_dir),
                                 "--epochs", "1", "--limit", "3", "--out", str(out)])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "eval.json").read_text())
    assert report["task"] == "extraction"
    assert report["task_spec"]["keys"] == ["supplier", "invoice_number", "date", "currency", "total", "vat"]
    assert report["task_spec"]["key_types"]["total"] == "number"
    assert set(report["systems"]) == {
        "base zero-shot", "base few-shot random (k=3)", "base few-shot similar (k=3)",
        "base zero-shot (constrained)", "fine-tuned", "fine-tuned (free)",
    }
    ft = report["systems"]["fine-tuned"]
    assert {"exact_match", "field_f1", "valid_json"} <= set(ft["metrics"]) and "per_field" in ft["details"]
    # The variant answers valid JSON with the keys learned from its training answers by default.
    assert ft["decoding"] == "constrained" and ft["metrics"]["valid_json"] == 1.0
    assert report["systems"]["fine-tuned (free)"]["decoding"] == "free"
    assert all(list(json.loads(ex["predictions"]["fine-tuned"])) == report["task_spec"]["keys"]
               for ex in report["examples"])
    # The demo's test suppliers never occur in its training data.
    assert report["leakage"]["fine-tuned"]["overlap"] == 0
    # The HTML report, opened in headless Chromium, has the extraction charts.
    dom = browse(out / "report.html", tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    charts = charts_in(dom.stdout)
    assert {"metric-bars", "per-field-f1", "latency"} <= set(charts)
    assert charts["per-field-f1"].count('class="bar"') == 6 * len(report["systems"])  # 6 fields x systems
    assert "exact match." in r.output and "tuneforge predict --model" in r.output
