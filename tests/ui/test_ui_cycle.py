"""The whole cycle in a real browser, on the tiny model, as the person who owns the task walks it: log in → upload a
CSV (dropped on the drop zone) → fix the planted duplicate → save a dataset version → train → compare → promote →
send a request (the official openai client, as an application does) → review and correct it → retrain → promote
the new version. Each step asserts on what the page shows, and a screenshot of each page is saved
(`make screenshots` writes them to docs/img/ui/, which the README embeds).

The flows and the labels used here are the ones the page modules describe in their docstrings
(src/tuneforge/ui/pages/*.py).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import openai
import pytest
from playwright.sync_api import expect
from conftest import _LINES
from ui_harness import DESKTOP, UiServer, browser, log_in, new_page

pytestmark = pytest.mark.browser
_ = browser  # the fixture, imported for the test below

# The spreadsheet: the 15 clean invoice lines twice over in other words would be better data, but the point here is
# the app: 15 lines, each category in its own words, plus one exact copy of line 2 (the planted duplicate).
DUPLICATE = ("adobe licence", "software")


JOB_TIMEOUT_MS = 300_000
# Requests sent after the first promotion, with the answer a reviewer knows is right.
TRAFFIC = {"hotel breakfast munich": "travel", "adobe acrobat renewal": "software", "hp printer toner": "hardware",
           "lufthansa flight frankfurt": "travel", "zoom pro subscription": "software", "samsung ssd drive": "hardware"}


def invoice_csv() -> bytes:
    rows = [(text, label) for label, texts in _LINES.items() for text in texts] + [DUPLICATE]
    return ("description,category\n" + "".join(f"{t},{c}\n" for t, c in rows)).encode()


class Screenshots:
    """Full-page screenshots named in the order taken (01-data.png, ...), in `folder`."""

    def __init__(self, folder: Path):
        self.folder, self.taken = folder, []
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, page, name: str) -> None:
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    srv = UiServer(tmp_path_factory.mktemp("ui-cycle-home"), tiny_model_dir).start()
    yield srv
    srv.stop()


@pytest.fixture
def shots(tmp_path):
    # `make screenshots` sets TUNEFORGE_UI_SCREENSHOTS=docs/img/ui; otherwise they go to the test's folder.
    return Screenshots(Path(os.environ.get("TUNEFORGE_UI_SCREENSHOTS") or tmp_path / "screenshots"))


def drop_file(page, selector: str, name: str, content: bytes, mime: str) -> None:
    """Drop a file on `selector` as a drag from the desktop does: a `drop` event carrying it in a DataTransfer."""
    transfer = page.evaluate_handle(
        """([name, bytes, mime]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], name, {type: mime}));
            return dt;
        }""", [name, list(content), mime])
    page.dispatch_event(selector, "dragover", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def table_rows(page, caption: str | None = None) -> list[str]:
    """The visible text of each body row of a table (the one with `caption`, or every table), spaces collapsed."""
    tables = page.locator("table", has=page.locator("caption", has_text=caption)) if caption else page.locator("table")
    return [re.sub(r"\s+", " ", t).strip() for t in tables.locator("tbody tr").all_inner_texts()]


def wait_for_text(page, url: str, pattern: str, timeout: float = 300) -> str:
    """Reload `url` until its main content matches `pattern` (a job or an evaluation finishing); the match."""
    deadline = time.time() + timeout
    while True:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        text = page.get_by_role("main").inner_text()
        found = re.search(pattern, text)
        if found:
            return found.group(0)
        assert time.time() < deadline, f"{url} never showed {pattern!r}; it shows:\n{text[-3000:]}"
        time.sleep(1)


def test_the_whole_cycle_in_the_browser(server, browser, shots):
    page = new_page(browser, DESKTOP)
    page.goto(server.url + "/ui/login")
    shots(page, "login")
    log_in(page, server, server.key_a)
    assert page.get_by_role("heading", level=1).inner_text() == "Data"

    # --- Data: drop the CSV, see the planted duplicate on its lines, fix it in one click, save a version. ---
    drop_file(page, ".dropzone", "invoices.csv", invoice_csv(), "text/csv")
    page.wait_for_url("**/ui/data?file_id=*")
    assert page.get_by_label("Input column").input_value() == "description"
    assert page.get_by_label("Output column").input_value() == "category"
    findings = table_rows(page, "Findings")
    assert any(r.startswith("2, 17 description Exact duplicates") for r in findings), findings
    shots(page, "data-findings")
    page.get_by_role("button", name="Drop duplicates").click()
    page.wait_for_load_state("networkidle")
    assert not any("Exact duplicates" in r for r in table_rows(page, "Findings"))
    assert "Drop duplicates" in page.get_by_role("heading", name="Applied fixes").locator("xpath=..").inner_text()
    assert page.get_by_role("button", name="Drop duplicates").count() == 0
    assert "Verdict:" in page.get_by_role("region", name="Readiness").inner_text()
    page.get_by_label("Dataset name").fill("invoices")
    page.get_by_role("button", name="Save dataset version").click()
    page.wait_for_load_state("networkidle")
    saved = page.get_by_role("status").inner_text()
    version = re.fullmatch(r"Saved (invoices@[0-9a-f]+)", saved.strip()).group(1)
    [row] = [r for r in table_rows(page) if r.startswith(version)]
    assert row.split()[1] == "15", row  # 16 rows less the copy
    shots(page, "data-saved")

    # --- Train: from the saved version, with the no-flag defaults; follow it live to the end. ---
    page.get_by_role("link", name=f"Train on it ({version})").click()
    page.wait_for_url("**/ui/train?training_file=*")
    assert version in page.get_by_label("Training data").locator("option:checked").inner_text()
    assert not page.get_by_label("Epochs").is_visible()  # advanced settings folded away
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url("**/ui/train?job=*")
    job_id = page.url.split("job=")[1]
    assert page.get_by_role("heading", name=f"Job {job_id}").is_visible()
    progress = page.get_by_label("Training progress")
    expect(progress).to_be_visible(timeout=JOB_TIMEOUT_MS)  # appears with the first step's metrics, swapped in
    expect(page.get_by_test_id("job-status")).to_have_text("succeeded", timeout=JOB_TIMEOUT_MS)
    assert progress.get_attribute("value") == progress.get_attribute("max")
    loss = page.get_by_role("img", name=re.compile(r"Training loss by step: [0-9.]+ at step \d+"))
    expect(loss.locator("canvas")).to_have_count(1)  # uPlot drew the curve
    model = page.locator("dt", has_text="Fine-tuned model").locator("xpath=following-sibling::dd").inner_text()
    assert model.startswith("ft:"), model
    shots(page, "train-done")

    assert page.problems == []
