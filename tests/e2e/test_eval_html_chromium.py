"""The HTML report opens in a real browser (headless Chromium) and its charts are there.

Not skippable on purpose: CI installs Chromium (.ci/run); a machine without it fails with the reason.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

from typer.testing import CliRunner

from tuneforge.cli.main import app

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError(
        "headless Chromium is needed to check the HTML report: install it with `apt-get install chromium` "
        "(.ci/run does this in CI)"
    )


def browse(html_path, tmp_path, *args) -> subprocess.CompletedProcess:
    cmd = [_chromium(), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args, html_path.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def charts_in(dom: str) -> dict[str, str]:
    found = {}
    for m in re.finditer(r'<svg class="chart" data-chart="([\w-]+)".*?</svg>', dom, re.S):
        found.setdefault(m.group(1), "")
        found[m.group(1)] += m.group(0)
    return found


def test_classification_report_renders_with_charts(tmp_path):
    # A stored eval.json is enough: the report is rendered from it, as `tuneforge eval report` does.
    report = _classification_report()
    src = tmp_path / "eval.json"
    src.write_text(json.dumps(report))
    html = tmp_path / "report.html"
    assert CliRunner().invoke(app, ["eval", "report", str(src), "--html", str(html)]).exit_code == 0
    dom = browse(html, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    charts = charts_in(dom.stdout)
    assert set(charts) == {"metric-bars", "confusion-matrix", "latency"}
    # One bar and one interval whisker per system in each metric chart (accuracy, macro-F1).
    assert charts["metric-bars"].count('class="bar"') == 2 * 3
    assert charts["metric-bars"].count('class="interval"') == 2 * 3
    # Confusion matrices of the variant and of the best prompted system: 2 labels x 3 columns each.
    assert charts["confusion-matrix"].count('class="cell"') == 2 * 2 * 3
    assert charts["latency"].count('class="dot"') == 3 * 4
    assert 'id="recommendation"' in dom.stdout and "Recommendation" in dom.stdout
    assert 'id="worst-errors"' in dom.stdout
    shot = tmp_path / "shot.png"
    r = browse(html, tmp_path, f"--screenshot={shot}", "--window-size=1200,2400")
    assert r.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def _classification_report() -> dict:
    """An eval.json with hand-made numbers: two labels, three systems, four examples."""
    labels = ["a", "b"]
    systems = {}
    examples = [{"line": i + 1, "input": f"text {i}", "reference": "a" if i < 2 else "b",
                 "predictions": {}, "scores": {}, "timing": {}} for i in range(4)]
    for k, (name, kind, preds) in enumerate([
        ("base zero-shot", "zero-shot", ["a", "a", "a", "x"]),
        ("base few-shot random (k=2)", "few-shot random", ["a", "b", "b", "b"]),
        ("fine-tuned", "variant", ["a", "a", "b", "a"]),
    ]):
        from tuneforge.eval.tasks import classification as c

        rows = [c.score_example(p, ex["reference"], labels) for p, ex in zip(preds, examples)]
        for ex, p, row in zip(examples, preds, rows):
            ex["predictions"][name], ex["scores"][name] = p, row
            ex["timing"][name] = {"latency_s": 0.1 * (k + 1), "tokens_in": 50, "tokens_out": 2}
        head = c.headline(rows, labels)
        systems[name] = {
            "n": 4, "exact_match": head["accuracy"], "kind": kind, "decoding": "free", "metrics": head,
            "ci": {m: [max(v - 0.2, 0), min(v + 0.2, 1)] for m, v in head.items()},
            "details": {k2: v for k2, v in c.summary(rows, labels).items() if k2 not in head},
            "latency_p50_s": 0.1 * (k + 1), "latency_p95_s": 0.1 * (k + 1), "mean_latency_s": 0.1 * (k + 1),
            "mean_tokens_in": 50.0 * (k + 1), "mean_tokens_out": 2.0,
        }
    return {"format": "tuneforge.eval/2", "created_at": "2026-01-01T00:00:00+00:00", "model": "runs/x", "base": "tiny",
            "data": "test.jsonl", "task": "classification", "labels": labels, "task_spec": {"type": "classification",
            "labels": labels}, "config": {"confidence": 0.95}, "systems": systems, "significance": [],
            "leakage": {"fine-tuned": {"checked": True, "overlap": 0, "lines": []}}, "examples": examples}
