"""The web app's doors, in a real browser against a real `tuneforge serve --ui`: a missing or wrong key gets the
401 page and never data, on every page; one key's files, jobs and variants are invisible to another key in the UI
exactly as in the API; the session cookie is http-only and SameSite=Strict; every page (and the login and 401
pages) passes an axe-core scan with no serious or critical violation; and no page scrolls sideways at 1280×800 or
on a 390×844 phone.

Key A owns a file, a saved dataset version, a finished fine-tuning job and the variant it made; key B owns nothing.
A's identifiers (file id and name, dataset version, job id, variant name) must show on A's pages (so the isolation check can fail) and nowhere on B's.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import _LINES, chat_row
from ui_harness import DESKTOP, PAGES, PAGE_TITLES, PHONE, UiServer, browser, horizontal_overflow, log_in, \
    new_page, serious_violations

pytestmark = pytest.mark.browser
_ = browser  # the fixture, imported for the tests below

A_FILE_NAME = "team-a-secret-invoices.jsonl"


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    srv = UiServer(tmp_path_factory.mktemp("ui-access-home"), tiny_model_dir).start()
    rows = "".join(json.dumps(chat_row(t, label)) + "\n" for label, texts in _LINES.items() for t in texts).encode()
    with srv.api(srv.key_a) as api:
        uploaded = api.post("/v1/files", files={"file": (A_FILE_NAME, rows)}, data={"purpose": "fine-tune"})
        assert uploaded.status_code == 200, uploaded.text
        srv.a_file = uploaded.json()["id"]
        created = api.post("/v1/fine_tuning/jobs", json={
            "model": srv.base_model, "training_file": srv.a_file, "suffix": "secret", "seed": 1,
            "hyperparameters": {"n_epochs": 1, "batch_size": 4},
            "tuneforge": {"lora_r": 4, "precision": "fp32", "max_seq_len": 128}})
        assert created.status_code == 200, created.text
        srv.a_job = created.json()["id"]
        deadline = time.time() + 240
        while (job := api.get(f"/v1/fine_tuning/jobs/{srv.a_job}").json())["status"] not in (
                "succeeded", "failed", "cancelled"):
            assert time.time() < deadline, f"key A's job is still {job['status']}:\n{srv.log()}"
            time.sleep(0.3)
        assert job["status"] == "succeeded", f"{job.get('error')}\n{srv.log()}"
        srv.a_variant = job["fine_tuned_model"]
        [registered] = api.get("/v1/registry/models").json()["data"]  # the job's version, under A's own name
        srv.a_name = registered["name"]
        dataset = api.post("/v1/datasets", json={"file_id": srv.a_file, "name": "team-a-dataset"})
        assert dataset.status_code == 200, dataset.text
        srv.a_dataset = dataset.json()["id"]
    yield srv
    srv.stop()


def a_secrets(server) -> dict[str, str]:
    return {"file id": server.a_file, "file name": A_FILE_NAME, "job id": server.a_job,
            "variant": server.a_variant, "registry name": server.a_name, "dataset": server.a_dataset}


def leaked(text: str, secrets: dict[str, str]) -> list[str]:
    return [f"{what} {value!r}" for what, value in secrets.items() if value in text]


@pytest.mark.parametrize("name", PAGES)
def test_missing_or_wrong_key_gets_the_401_page_and_no_data(server, browser, name):
    url = f"{server.url}/ui/{name}"
    # No cookie at all, then a cookie with a key the server never issued, then a key shaped like a real one.
    for cookie in (None, "not-a-key", server.key_a[:-4] + "abcd"):
        page = new_page(browser)
        if cookie:
            page.context.add_cookies([{"name": "tuneforge_key", "value": cookie, "url": server.url + "/ui/"}])
        response = page.goto(url)
        assert response.status == 401, (cookie, response.status)
        html = page.content()
        assert not leaked(html, a_secrets(server)), leaked(html, a_secrets(server))
        assert page.get_by_role("heading", level=1).inner_text().strip() == "Not logged in"
        # The way out is the login page; the navigation to the data pages is not offered.
        assert page.get_by_role("link", name="Log in").is_visible()
        assert page.get_by_role("navigation").count() == 0 or \
            page.get_by_role("link", name=PAGE_TITLES[name], exact=True).count() == 0
        page.context.close()


def test_login_keeps_the_key_in_an_http_only_strict_cookie_and_logout_ends_it(server, browser):
    page = new_page(browser)
    page.goto(server.url + "/ui/login")
    page.get_by_label("API key").fill("wrong-key")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").is_visible() and "not valid" in page.get_by_role("alert").inner_text()
    assert page.context.cookies() == []

    log_in(page, server, server.key_a)
    assert page.url.endswith("/ui/data")
    [cookie] = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["value"] == server.key_a
    assert page.evaluate("document.cookie") == ""  # page scripts cannot read the key
    assert server.key_a not in page.content()  # nor is it written into the page

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/ui/login")
    assert page.goto(server.url + "/ui/train").status == 401
    page.context.close()


def test_a_revoked_key_stops_working_at_once(server, browser):
    from conftest import run_cli

    key = run_cli(server.env, "keys", "create", "short-lived").strip()
    page = new_page(browser)
    log_in(page, server, key)
    assert page.goto(server.url + "/ui/data").status == 200
    run_cli(server.env, "keys", "revoke", "short-lived")
    assert page.goto(server.url + "/ui/data").status == 401
    page.context.close()


def test_one_keys_files_jobs_and_variants_are_invisible_to_another(server, browser):
    secrets = a_secrets(server)
    # The API first: B's lists do not hold A's things, and A's ids are not found for B.
    with server.api(server.key_b) as api_b:
        assert server.a_file not in api_b.get("/v1/files").text
        assert server.a_job not in api_b.get("/v1/fine_tuning/jobs").text
        assert api_b.get(f"/v1/fine_tuning/jobs/{server.a_job}").status_code == 404
        assert api_b.get(f"/v1/files/{server.a_file}").status_code == 404
        assert server.a_variant not in api_b.get("/v1/models").text
        assert server.a_name not in api_b.get("/v1/registry/models").text
        assert api_b.get(f"/v1/registry/models/{server.a_name}").status_code == 404

    seen_by = {}
    for who, key in (("A", server.key_a), ("B", server.key_b)):
        page = new_page(browser)
        log_in(page, server, key)
        text = ""
        for name in PAGES:
            response = page.goto(f"{server.url}/ui/{name}")
            assert response.status == 200, (who, name, response.status)
            page.wait_for_load_state("networkidle")  # htmx fragments loaded after the page, too
            text += page.content()
        seen_by[who] = leaked(text, secrets)
        # A's ids typed into the query strings the pages take must not open A's things to B either (the id typed
        # may be echoed back in a form or an error; nothing else of A's may appear).
        if who == "B":
            for param, what in (("job", "job id"), ("file_id", "file id"), ("training_file", "file id"),
                                ("model", "variant"), ("variant", "variant"), ("model", "registry name"),
                                ("variant", "registry name")):
                for name in PAGES:
                    page.goto(f"{server.url}/ui/{name}?{param}={secrets[what]}")
                    page.wait_for_load_state("networkidle")
                    others = {k: v for k, v in secrets.items() if k != what}
                    assert leaked(page.content(), others) == [], (name, param, leaked(page.content(), others))
        page.context.close()
    # Positive control: A sees its own file, job and variant, so the check below can fail.
    assert sorted(seen_by["A"]) == sorted(f"{k} {v!r}" for k, v in secrets.items())
    assert seen_by["B"] == []


@pytest.mark.parametrize("name", ["login", "401", *PAGES])
def test_every_page_has_no_serious_or_critical_accessibility_violation(server, browser, name):
    page = new_page(browser)
    if name == "401":
        page.goto(server.url + "/ui/data")
    elif name == "login":
        page.goto(server.url + "/ui/login")
    else:
        log_in(page, server, server.key_a)
        page.goto(f"{server.url}/ui/{name}")
        page.wait_for_load_state("networkidle")
        assert page.get_by_role("heading", level=1).inner_text().strip() == PAGE_TITLES[name]
        assert page.get_by_role("navigation").is_visible() and page.get_by_role("main").is_visible()
    assert serious_violations(page) == []
    expected = [f"HTTP 401 {server.url}/ui/data",
                "console: Failed to load resource: the server responded with a status of 401 (Unauthorized) "
                f"(on {server.url}/ui/data, {server.url}/ui/data:0)"]
    assert sorted(page.problems) == (sorted(expected) if name == "401" else [])
    page.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280x800", "390x844"])
def test_no_page_scrolls_sideways(server, browser, viewport):
    page = new_page(browser, viewport)
    page.goto(server.url + "/ui/login")
    assert horizontal_overflow(page) == [], "login"
    log_in(page, server, server.key_a)
    for name in PAGES:
        page.goto(f"{server.url}/ui/{name}")
        page.wait_for_load_state("networkidle")
        assert horizontal_overflow(page) == [], name
        # The navigation stays reachable: every page's link is on screen or one scroll away, not cut off.
        for title in PAGE_TITLES.values():
            link = page.get_by_role("navigation").get_by_role("link", name=title, exact=True)
            box = link.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 1, (name, title, box)
    page.context.close()


CONTROLS = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])'


@pytest.mark.parametrize("name", PAGES)
def test_every_control_is_reachable_by_keyboard_with_a_visible_focus(server, browser, name):
    page = new_page(browser)
    log_in(page, server, server.key_a)
    page.goto(f"{server.url}/ui/{name}")
    page.wait_for_load_state("networkidle")
    # Every visible, enabled control a mouse could use (closed <details> hide theirs until opened).
    controls = page.evaluate("""(selector) => [...document.querySelectorAll(selector)]
        .filter(e => !e.disabled && e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden'
                     && !(e.closest('details:not([open])') && e.tagName !== 'SUMMARY'))
        .map((e, i) => { e.dataset.probe = i; return i; })""", CONTROLS)
    reached, unfocused = set(), []
    for _ in range(len(controls) + 5):
        page.keyboard.press("Tab")
        probe = page.evaluate("""() => {
            const e = document.activeElement, s = getComputedStyle(e);
            const visible = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
            return [e.dataset.probe ?? null, visible, e.outerHTML.slice(0, 80)];
        }""")
        if probe[0] is not None:
            reached.add(int(probe[0]))
            if not probe[1]:
                unfocused.append(probe[2])
    missing = page.evaluate("(ids) => ids.map(i => document.querySelector(`[data-probe='${i}']`).outerHTML.slice(0, 80))",
                            sorted(set(controls) - reached))
    assert missing == [], f"not reachable with Tab: {missing}"
    assert unfocused == [], f"focused without a visible focus indicator: {unfocused}"
    page.context.close()


def test_the_jobs_table_follows_a_running_job_to_its_model(server, browser):
    """The Jobs table's row of a job shown live is refreshed with the progress (out-of-band swap): once the job has
    succeeded, the row says so and names the fine-tuned model, with no reload of the page."""
    with server.api(server.key_a) as api:
        created = api.post("/v1/fine_tuning/jobs", json={
            "model": server.base_model, "training_file": server.a_file, "suffix": "table", "seed": 2,
            "hyperparameters": {"n_epochs": 1, "batch_size": 4},
            "tuneforge": {"lora_r": 4, "precision": "fp32", "max_seq_len": 128}})
        assert created.status_code == 200, created.text
        job_id = created.json()["id"]
    page = new_page(browser)
    log_in(page, server, server.key_a)
    page.goto(f"{server.url}/ui/train?job={job_id}")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"Show {job_id}"))
    first = row.inner_text()
    assert "succeeded" not in first, first  # shown while it is still to run, so the refresh is what is tested
    from playwright.sync_api import expect

    expect(page.get_by_test_id("job-status")).to_have_text("succeeded", timeout=240_000)
    expect(row).to_contain_text("succeeded")
    model = page.locator("dt", has_text="Fine-tuned model").locator("xpath=following-sibling::dd").inner_text()
    expect(row).to_contain_text(model)
    assert page.problems == []
    page.context.close()


def test_a_monitor_chart_of_one_window_spans_the_time_of_that_window(server, browser):
    """With a single window, uPlot's automatic range would stretch the time axis over years: the chart's x scale
    must stay within minutes of the window's time."""
    with server.api(server.key_a) as api:
        answered = api.post("/v1/chat/completions", json={
            "model": f"{server.a_name}:1", "messages": [{"role": "user", "content": "dell laptop"}], "max_tokens": 4})
        assert answered.status_code == 200, answered.text
        summary = api.get(f"/v1/monitor/{server.a_name}").json()
    [t] = summary["series"]["t"]  # one window
    page = new_page(browser)
    log_in(page, server, server.key_a)
    page.goto(f"{server.url}/ui/monitor?variant={server.a_name}")
    page.wait_for_load_state("networkidle")
    scales = page.evaluate("[...document.querySelectorAll('[data-chart]')].map(b => [b.uplot.scales.x.min, "
                           "b.uplot.scales.x.max])")
    assert len(scales) == 4, scales
    for low, high in scales:
        assert low < t < high and high - low <= 3600, (t, low, high)  # not the years uPlot picks for one point
    assert page.problems == []
    page.context.close()
