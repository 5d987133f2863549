"""`tuneforge serve --ui` as a user starts it: the web app is there (login page, vendored assets from the installed
package), and a key created with `tuneforge keys create` logs in. (Off by default: test_ui_session.py.)"""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from conftest import free_port, run_cli, wait_until_healthy


def _serve(home, model_dir, *extra):
    env = {**os.environ, "TUNEFORGE_HOME": str(home), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    port = free_port()
    log = home / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "tuneforge.cli.main", "serve", "--model", str(model_dir),
                             "--port", str(port), *extra], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(proc, url, lambda: log.read_text()[-3000:])
    return proc, url, env


def test_serve_ui_mounts_the_app_and_a_cli_key_logs_in(tmp_path, tiny_model_dir):
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "TUNEFORGE_HOME": str(home)}
    key = next(w for w in run_cli(env, "keys", "create", "ops").split() if w.startswith("tf-"))
    proc, url, _ = _serve(home, tiny_model_dir, "--ui")
    try:
        assert "/ui/" in (home / "server.log").read_text()  # the address is printed
        with httpx.Client(base_url=url, follow_redirects=True) as client:
            assert client.get("/ui/data").status_code == 401
            assert client.get("/ui/static/vendor/htmx/htmx.min.js").status_code == 200
            response = client.post("/ui/login", data={"key": key})
            assert response.status_code == 200 and "<h1>Data</h1>" in response.text  # followed the redirect
    finally:
        proc.terminate()
        proc.wait(timeout=60)
