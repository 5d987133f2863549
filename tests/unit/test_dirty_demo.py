"""The planted-problems demo (examples/invoice-categories-dirty): check, clean and report find every planted
problem, at its line, and nothing else. README.md in that folder lists the plants and shows this output.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.paths import examples_dir

DEMO = examples_dir() / "invoice-categories-dirty"
TRAIN, EVAL = DEMO / "train.jsonl", DEMO / "eval.jsonl"

# step -> the lines of each planted finding; every other step must find nothing.
PLANTED = {
    "invalid_rows": [[290]],  # malformed JSON line
    "exact_duplicates": [[40, 54], [82, 90]],  # an exact copy, and a copy differing only in case and spacing
    "near_duplicates": [[40, 130]],  # "... billed yearly" vs "... billed yearly (renewal)"
    "contradictions": [[50, 170]],  # the same Dell docks line as hardware and as office_supplies
    "leakage": [[210]],  # an eval line copied into training
    "pii": [[250]],  # a phone number
    "structure_outliers": [],
    "suspicious_labels": [[14]],  # "Apple MacBook Pro 14 M3 Pro 18GB" labelled travel
}


def test_demo_files_match_their_generator():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_dirty", DEMO / "make_dirty.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    train, evals = module.build()
    assert TRAIN.read_text(encoding="utf-8").splitlines() == train
    assert EVAL.read_text(encoding="utf-8").splitlines() == evals


def test_check_finds_the_malformed_line_and_nothing_else(tiny_model_dir):
    result = CliRunner().invoke(app, ["data", "check", str(TRAIN), "--base", str(tiny_model_dir)])
    assert result.exit_code == 1
    problem_lines = [line for line in result.output.splitlines() if line.startswith(str(TRAIN))]
    assert problem_lines == [f"{TRAIN}:290: error: bad JSON: Expecting ',' delimiter (column 95) "
                             "(hint: each line must be one complete JSON object)"]
    assert "result: 1 error(s), 0 warning(s)" in result.output


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "train.clean.jsonl"
    result = CliRunner().invoke(app, ["data", "clean", str(TRAIN), "--eval-data", str(EVAL), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return result.output, json.loads(out.with_suffix(".report.json").read_text()), out


def test_clean_finds_every_planted_problem_and_nothing_else(cleaned):
    _, report, out = cleaned
    found = {s["step"]: [f["lines"] for f in s["findings"]] for s in report["steps"]}
    assert found == PLANTED
    pii = report["steps"][5]["findings"][0]
    assert pii["kind"] == "phone"
    suspect = report["steps"][7]["findings"][0]
    assert suspect["label"] == "travel" and suspect["data_says"] == "hardware"
    # Removed: the invalid line, 2 exact copies, 1 near copy, 1 leaking line. Flagged ones stay for review.
    assert report["input_rows"] == 476 and report["kept"] == 471
    assert len(out.read_text().splitlines()) == 471


def test_clean_output_is_what_the_readme_shows(cleaned):
    output, _, _ = cleaned
    readme = (DEMO / "README.md").read_text(encoding="utf-8")
    for line in output.splitlines()[1:-1]:  # the first and last lines name temporary paths
        assert line in readme, line


def test_report_counts_the_planted_problems(tmp_path, tiny_model_dir):
    html = tmp_path / "demo.html"
    result = CliRunner().invoke(app, ["data", "report", str(TRAIN), "--eval-data", str(EVAL), "--base",
                                      str(tiny_model_dir), "--html", str(html)])
    assert result.exit_code == 0, result.output
    out = result.output
    for title, n in [("Invalid rows", 1), ("Exact duplicates", 2), ("Near duplicates (similarity >= 0.8)", 1),
                     ("Contradictions (same input, different answers)", 1), ("Train/eval leakage", 1),
                     ("Personal data (e-mail, phone, IBAN, card)", 1), ("Answers unlike the majority", 0),
                     ("Suspicious labels (the rest of the data disagrees)", 1)]:
        assert f"  {title}: {n}\n" in out, title
    assert "verdict: fine-tune" in out and "clean or review first" in out and "review 1 suspicious label(s)" in out
    assert "1 error(s), 0 warning(s)" in out
    assert html.is_file() and "Apple MacBook Pro 14 M3 Pro 18GB" in html.read_text()
