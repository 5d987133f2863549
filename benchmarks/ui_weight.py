"""What the web app costs a browser: bytes shipped and first paint of each page, in headless Chromium.

Starts `tuneforge serve --ui` on the tiny test model with a fresh home and one key, logs in, and loads every page
with an empty cache, then again with a warm one. For each load it prints the bytes the browser received
(the Resource Timing API's transferSize of the page, CSS, scripts and htmx fragments; 0 for what came from its
cache) and first-contentful-paint from the Performance API.

    python benchmarks/ui_weight.py                 # the app's six pages, 5 loads each
    python benchmarks/ui_weight.py --static DIR    # the same measurement of a static folder (e.g. a Vite build)

`--static` serves DIR over http.server and loads its index.html, so a built single-page app can be measured the
same way (docs/ui.md compares the two).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
PAGES = ["data", "train", "compare", "deploy", "review", "monitor"]


def measure(browser, url: str, cookies: list[dict], warm: bool) -> tuple[int, float]:
    """(bytes received, first-contentful-paint ms) of one load of `url`; warm loads it once before measuring."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(cookies)
    page = context.new_page()
    if warm:
        page.goto(url, wait_until="networkidle")
    page.goto(url, wait_until="networkidle")
    # What crossed the wire as the browser counts it (headers and bodies; 0 for what came from the cache).
    total = page.evaluate("""[...performance.getEntriesByType('navigation'),
                              ...performance.getEntriesByType('resource')].reduce((s, e) => s + e.transferSize, 0)""")
    fcp = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1")
    context.close()
    return total, fcp


def app_urls(tmp: Path):
    """Start the server on the tiny model; yield (base url, cookies)."""
    from tuneforge.models.tiny import build_tiny_model

    model = build_tiny_model(tmp / "tiny")
    env = {**os.environ, "TUNEFORGE_HOME": str(tmp / "home"), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    from serve_process import start_server  # beside this script

    key = subprocess.run([sys.executable, "-m", "tuneforge.cli.main", "keys", "create", "bench"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    proc, url = start_server(["--ui", "--model", str(model)], env)
    return proc, url, [{"name": "tuneforge_key", "value": key, "url": url + "/ui/"}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--static", type=Path, help="measure this folder's index.html instead of the app")
    parser.add_argument("--loads", type=int, default=5, help="loads per page and cache state (median reported)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    from serve_process import stop  # beside this script

    proc = server = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.static:
            class Quiet(http.server.SimpleHTTPRequestHandler):
                def log_message(self, *a):
                    pass

            handler = functools.partial(Quiet, directory=str(args.static))
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            base = f"http://127.0.0.1:{server.server_address[1]}"
            targets, cookies = {"index": base + "/index.html"}, []
        else:
            proc, base, cookies = app_urls(Path(tmp))
            targets = {name: f"{base}/ui/{name}" for name in PAGES}
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                print(f"{'page':<10}{'cold bytes':>12}{'cold FCP ms':>13}{'warm bytes':>12}{'warm FCP ms':>13}")
                for name, url in targets.items():
                    cold = [measure(browser, url, cookies, warm=False) for _ in range(args.loads)]
                    warm = [measure(browser, url, cookies, warm=True) for _ in range(args.loads)]
                    print(f"{name:<10}{statistics.median(b for b, _ in cold):>12.0f}"
                          f"{statistics.median(f for _, f in cold):>13.0f}"
                          f"{statistics.median(b for b, _ in warm):>12.0f}"
                          f"{statistics.median(f for _, f in warm):>13.0f}")
                browser.close()
        finally:
            if proc:
                stop(proc)
            if server:
                server.shutdown()


if __name__ == "__main__":
    main()
