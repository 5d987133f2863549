"""What the browser tests of the web app share: a real `tuneforge serve --ui` process on the tiny model with two
API keys, Debian's Chromium driven by Playwright, an axe-core scan, and a check for horizontal overflow.

Playwright's own browser download (`playwright install`) is never used: the tests launch the system Chromium
(`scripts/ensure-chromium.sh` installs it before `make test`), so nothing is fetched at test time.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port, run_cli, wait_until_healthy

# The flags keep a headless Chromium quiet and offline: no sandbox (root in CI), no GPU, no background fetches.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Every page of the app, in the navigation's order (docs/ui.md).
PAGES = ["data", "train", "compare", "deploy", "review", "monitor"]
PAGE_TITLES = {"data": "Data", "train": "Train", "compare": "Compare", "deploy": "Deploy", "review": "Review",
               "monitor": "Monitor"}


def chromium_path() -> str:
    """Debian's Chromium; a clear failure (not a skip) where it is missing, as the HTML report test does."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("the web app's browser tests need Chromium: `apt-get install chromium` "
                         "(scripts/ensure-chromium.sh does this in `make test`)")


class UiServer:
    """`tuneforge serve --ui` in a subprocess on a free port, with its own TUNEFORGE_HOME and two API keys."""

    def __init__(self, home: Path, model_dir: Path, *extra: str):
        self.home, self.model_dir, self.extra = home, Path(model_dir), extra
        self.env = {**os.environ, "TUNEFORGE_HOME": str(home), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
                    "TOKENIZERS_PARALLELISM": "false"}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key_a = run_cli(self.env, "keys", "create", "team-a").strip()
        self.key_b = run_cli(self.env, "keys", "create", "team-b").strip()
        self.proc: subprocess.Popen | None = None

    @property
    def base_model(self) -> str:
        """The name the server lists the tiny base model under (its folder's name), as jobs name it."""
        return self.model_dir.name

    def start(self) -> "UiServer":
        log = open(self.home / "server.log", "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tuneforge.cli.main", "serve", "--ui", "--model", str(self.model_dir), "--port",
             str(self.port), "--follow-interval-s", "0.5", *self.extra],
            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_until_healthy(self.proc, self.url, self.log)
        return self

    def log(self) -> str:
        return (self.home / "server.log").read_text()[-6000:]

    def api(self, key: str):
        """An httpx client on the public API with `key`, for setting up state and checking what the UI did."""
        import httpx

        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (launching takes well under a second)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def new_page(browser, viewport: dict = DESKTOP):
    """A fresh browser context (no cookies) and its page; failed requests and page errors are kept on the page
    as `page.problems` so a test can assert that the app logged none."""
    context = browser.new_context(viewport=viewport, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda err: page.problems.append(f"page error: {err}"))
    page.on("console", lambda msg: msg.type == "error" and page.problems.append(
        f"console: {msg.text} (on {page.url.split('?')[0]}, {msg.location.get('url', '')}:{msg.location.get('lineNumber')})"))
    page.on("response", lambda r: r.status >= 400 and page.problems.append(f"HTTP {r.status} {r.url}"))
    return page


def log_in(page, server: UiServer, key: str) -> None:
    """The login form as a user fills it: the key in its labelled field, then the button."""
    page.goto(server.url + "/ui/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one readable line each."""
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page)
    found = []
    for v in result.response["violations"]:
        if v["impact"] in ("serious", "critical"):
            targets = [", ".join(n["target"]) for n in v["nodes"]][:5]
            found.append(f"{v['impact']} {v['id']}: {v['help']} at {targets}")
    return found


def horizontal_overflow(page) -> list[str]:
    """Elements wider than the viewport (what makes a page scroll sideways), or [] when the page fits. Measured
    again half a second later before answering, so a layout still settling (an htmx swap, a chart drawn after
    load) is not taken for the page's layout; an overflow that stays is reported."""
    found = _overflow_now(page)
    if found:
        page.wait_for_timeout(500)
        found = _overflow_now(page)
    return found


def _overflow_now(page) -> list[str]:
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const out = [];
        if (document.documentElement.scrollWidth > width)
            out.push(`document is ${document.documentElement.scrollWidth}px wide in a ${width}px viewport`);
        for (const el of document.body.querySelectorAll('*')) {
            const r = el.getBoundingClientRect();
            if (r.width > 0 && r.right > width + 1 && getComputedStyle(el).position !== 'fixed') {
                // Content inside a scrollable box (a wide table in an overflow:auto wrapper) is fine.
                let p = el.parentElement, clipped = false;
                while (p && p !== document.body) {
                    const ov = getComputedStyle(p).overflowX;
                    if (ov === 'auto' || ov === 'scroll' || ov === 'hidden') { clipped = true; break; }
                    p = p.parentElement;
                }
                if (!clipped) out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}` +
                                       `${el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''}` +
                                       ` reaches ${Math.round(r.right)}px`);
            }
        }
        return out.slice(0, 10);
    }""")
