"""The whole cycle in a real browser, on the tiny model, as the person who owns the task walks it: log in → upload a
CSV (dropped on the drop zone) → fix the planted duplicate → save a dataset version → train → compare → promote →
send a request (the official openai client, as an application does) → review and correct it → retrain → promote
the new version. Each step asserts on what the page shows, and a screenshot of each page is saved
(`make screenshots` writes them to docs/img/ui/, which the README embeds).

The tiny random model is never significantly better than a prompt, so the promotion gate refuses it, and the test
checks that the Deploy page says so with the gate's reason; it then promotes with the gate relaxed under "Gate
settings" (no significance test, not worse by more than 25 points: on 12 held-out lines one answer is 8 points,
and the job's seed is drawn, so a random tiny model lands a line or two either side of the prompt), as a task
owner who accepts that can.

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
# Held-out lines for the evaluation (none of them in the training file).
HELD_OUT = [("notion team plan", "software"), ("dropbox business", "software"), ("zoom pro licence", "software"),
            ("eurostar ticket", "travel"), ("hotel night paris", "travel"), ("uber to station", "travel"),
            ("hp printer", "hardware"), ("samsung ssd", "hardware"), ("webcam hd", "hardware"),
            ("figma seats", "software"), ("ferry crossing", "travel"), ("docking station", "hardware")]
# Requests sent after the first promotion, with the answer a reviewer knows is right.
TRAFFIC = {"hotel breakfast munich": "travel", "adobe acrobat renewal": "software", "hp printer toner": "hardware",
           "lufthansa flight frankfurt": "travel", "zoom pro subscription": "software", "samsung ssd drive": "hardware"}


def csv_of(rows) -> bytes:
    return ("description,category\n" + "".join(f"{t},{c}\n" for t, c in rows)).encode()


def invoice_csv() -> bytes:
    return csv_of([(text, label) for label, texts in _LINES.items() for text in texts] + [DUPLICATE])


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


def promote_with_relaxed_gate(page, server, ref: str) -> None:
    """Promote `ref` from the Deploy page with the gate relaxed under "Gate settings": no significance test, and
    "not worse by more than 25 points" (a tiny random model is never significantly better than a prompt, nor a
    retrained one than production). The gate still runs: a version worse than that is refused."""
    page.get_by_text("Gate settings").click()
    page.get_by_label("Required confidence").fill("0")
    page.get_by_label("Minimum improvement").fill("-0.25")
    message = page.locator("#deploy-message")
    before = message.inner_text() if message.count() else ""
    page.get_by_role("button", name=f"Promote {ref} to production").click()
    expect(message).not_to_have_text(before)  # this promotion's answer, not the previous refusal
    expect(message).to_contain_text(re.compile(r"Not promoted|is now in production"))
    assert f"{ref} is now in production." in message.inner_text(), message.inner_text()


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
    # One setting opened: a fixed seed, so the tiny random model's run (and the gate's verdict on it) is the same
    # on every machine; a drawn seed made this test pass or fail by one or two held-out lines.
    page.get_by_text("Advanced settings").click()
    page.get_by_label("Seed").fill("1234")
    # The served tiny model, not the default "Chosen from the data" (which gives labels the packaged sentence
    # encoder): the gate's verdict below is about the tiny model (tests/unit/test_ui_train_page.py and
    # tests/e2e/test_jobs_openai.py cover the default).
    assert page.get_by_label("Base model").locator("option:checked").inner_text() == "Chosen from the data"
    page.get_by_label("Base model").select_option(Path(server.model_dir).name)
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

    # --- Data again: a held-out spreadsheet for the evaluation, saved as its own version. ---
    page.get_by_role("link", name="Data", exact=True).click()
    page.get_by_label("Data file (CSV, Excel or JSONL)").set_input_files(
        files=[{"name": "held-out.csv", "mimeType": "text/csv", "buffer": csv_of(HELD_OUT)}])
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/ui/data?file_id=*")
    page.get_by_label("Dataset name").fill("held-out")
    page.get_by_role("button", name="Save dataset version").click()
    saved = page.get_by_role("status").or_(page.get_by_role("alert")).inner_text().strip()
    held_out = re.fullmatch(r"Saved (held-out@[0-9a-f]+)", saved).group(1)

    # --- Compare: evaluate on the held-out version; the recommendation and every system with intervals. ---
    page.get_by_role("link", name="Compare", exact=True).click()
    variant = page.get_by_label("Variant").locator("option:checked").inner_text()
    name = re.match(r"(ft-[a-z0-9]+):1 \(candidate\)", variant).group(1)
    assert model.split(":")[-1].lower() in name, (model, name)  # the job's model, registered under its own name
    held_out_option = page.get_by_label("Held-out file").locator("option", has_text=f"{held_out}.jsonl")
    page.get_by_label("Held-out file").select_option(held_out_option.get_attribute("value"))
    page.get_by_role("button", name="Evaluate", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Evaluating")
    expect(page.locator("#recommendation, #evaluation [role=alert]")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    assert page.locator("#evaluation [role=alert]").count() == 0, page.locator("#evaluation").inner_text()
    assert page.locator("#recommendation").inner_text().strip()
    systems = {r.split(" ")[0]: r for r in table_rows(page, "Every system on the same held-out examples")}
    assert len(systems) >= 4, systems  # the variant, prompted and classical baselines
    kinds = page.locator("#systems tbody td:nth-child(2)").all_inner_texts()
    assert {"variant", "zero-shot", "classical"} <= set(kinds), kinds
    assert f"{len(HELD_OUT)} held-out classification examples" in page.locator("#evaluation").inner_text()
    assert page.get_by_role("heading", name="Worst errors, side by side").is_visible()
    shots(page, "compare")

    # --- Deploy: the gate refuses the tiny model with its reason; the owner relaxes the gate, visibly. ---
    page.get_by_role("link", name="Deploy", exact=True).click()
    assert "Nothing in production yet." in page.get_by_role("main").inner_text()
    page.get_by_role("button", name=f"Promote {name}:1 to production").click()
    message = page.locator("#deploy-message")
    expect(message).to_contain_text("Not promoted")
    assert re.search(r"accuracy [0-9.]+ vs [0-9.]+", message.inner_text()), message.inner_text()
    shots(page, "deploy-gate")
    promote_with_relaxed_gate(page, server, f"{name}:1")
    assert f"In production: {name}:1" in page.get_by_role("main").inner_text()
    expect(page.get_by_role("button", name=f"Copy curl for {name}")).to_be_visible()
    shots(page, "deploy")

    # --- An application sends requests with the official openai client, as in production. ---
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.key_a, max_retries=0, timeout=60)
    answers = {text: client.chat.completions.create(model=name, messages=[{"role": "user", "content": text}],
                                                    temperature=0, max_tokens=8)
               for text in TRAFFIC}
    # Answered by version 1, which the response names by its registry version or by the job's model id.
    assert {a.model for a in answers.values()} <= {f"{name}:1", model}, {a.model for a in answers.values()}

    # --- Review: the queue, keyboard-first; correct every answer the model got wrong with a number key. ---
    page.get_by_role("link", name="Review", exact=True).click()
    page.get_by_label("Variant").select_option(name)
    page.get_by_role("button", name="Show queue").click()
    queue = page.locator("ol.review-queue > li")
    expect(queue.first.get_by_role("article")).to_be_focused()
    assert queue.count() == len(TRAFFIC)
    shots(page, "review")
    # Each way of deciding at least once: Enter accepts the first right answer, `e` edits the first wrong one
    # inline, and every other item gets its right label by number key (a right answer picked by number is the
    # same decision as accepting it).
    used = []
    for i in range(queue.count()):
        item = queue.nth(i).get_by_role("article", name=f"Item {i + 1} of {len(TRAFFIC)}")
        expect(item).to_be_focused()  # the focus moved on by itself after the previous decision
        field = lambda term: item.locator("dl div", has=page.locator("dt", has_text=term)).locator("dd")  # noqa
        text, shown = field("Input").inner_text().strip(), field("Answer").inner_text().strip()
        labels = [b.split(" ", 1)[1] for b in item.get_by_role("button", name=re.compile(r"^[1-9] ")).all_inner_texts()]
        assert sorted(labels) == sorted(_LINES), labels
        if shown == TRAFFIC[text] and "enter" not in used:
            page.keyboard.press("Enter")
            used.append("enter")
        elif shown != TRAFFIC[text] and "edit" not in used:
            page.keyboard.press("e")
            expect(item.get_by_label("Correct answer")).to_be_focused()
            item.get_by_label("Correct answer").fill(TRAFFIC[text])
            page.keyboard.press("Enter")
            used.append("edit")
        else:
            page.keyboard.press(str(labels.index(TRAFFIC[text]) + 1))
            used.append("number")
        expect(queue.nth(i).get_by_role("status")).to_contain_text(re.compile(
            rf"Saved: (accepted|corrected to) “{TRAFFIC[text]}”"))
    assert "number" in used and ("enter" in used or "edit" in used), used
    shots(page, "review-done")

    # --- Monitor: the numbers, then retrain on the corrections. ---
    # The team's policy file (docs/monitor.md) caps the retrain's steps; the owner sets on the page that 5
    # corrections are enough (the default, 30, is for real traffic), and the file keeps the cap.
    policy = server.home / "monitor" / name / "policy.yaml"
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text("retrain_max_steps: 20\n")
    page.get_by_role("link", name="Monitor", exact=True).click()
    page.get_by_label("Variant").select_option(name)
    page.get_by_role("button", name="Show").click()
    main = page.get_by_role("main")
    assert "Minimum corrections 30" in re.sub(r"\s+", " ", page.locator("#policy").inner_text())
    page.get_by_label("Corrections needed before a retrain").fill("5")
    page.get_by_role("button", name="Save policy").click()
    page.wait_for_load_state("networkidle")
    assert "Minimum corrections 5" in re.sub(r"\s+", " ", page.locator("#policy").inner_text())
    assert "the policy needs 5." in main.inner_text()
    assert policy.read_text().splitlines() == ["retrain_max_steps: 20", "min_corrections: 5"]
    assert f"{len(TRAFFIC)} requests logged for {name}" in main.inner_text()
    assert f"({len(TRAFFIC)} reviewed)" in main.inner_text()  # reviewed accuracy counts every decision
    assert re.search(r"Retrain due: (yes|no)", main.inner_text())
    page.get_by_role("button", name="Retrain now").click()
    status = page.locator("#retrain-status")
    expect(status).to_contain_text(re.compile("Retrained|failed"), timeout=JOB_TIMEOUT_MS)
    assert f"Retrained: {name}:2" in status.inner_text(), status.inner_text()
    shots(page, "monitor-retrained")

    # --- Deploy: the new version to production (by the retrain's gate, else here with the relaxed gate). ---
    page.get_by_role("link", name="Deploy", exact=True).click()
    if f"In production: {name}:2" not in main.inner_text():
        promote_with_relaxed_gate(page, server, f"{name}:2")
    assert f"In production: {name}:2" in main.inner_text()
    shots(page, "deploy-v2")
    deadline = time.time() + 30  # the server follows the registry (every 0.5 s here) and loads version 2
    while (again := client.chat.completions.create(model=name, messages=[{"role": "user", "content": "dell laptop"}],
                                                   max_tokens=8)).model != f"{name}:2":
        assert time.time() < deadline, again.model
        time.sleep(0.5)
    assert page.problems == []
    assert len(shots.taken) == 11 and all(p.stat().st_size > 10_000 for p in shots.taken)
