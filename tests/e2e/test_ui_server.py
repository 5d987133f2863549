"""`tuneforge serve --ui` as a user starts it: the web app is there (login page, vendored assets from the installed
package), and a key created with `tuneforge keys create` logs in. (Off by default: test_ui_session.py.)"""

from __future__ import annotations

import httpx
from conftest import run_cli, serve_env, served


def test_serve_ui_mounts_the_app_and_a_cli_key_logs_in(tmp_path, tiny_model_dir):
    home = tmp_path / "home"
    home.mkdir()
    env = {**serve_env(home), "OMP_NUM_THREADS": "1"}
    key = next(w for w in run_cli(env, "keys", "create", "ops").split() if w.startswith("tf-"))
    with served(home, "--model", str(tiny_model_dir), "--ui", env=env) as (_, url):
        assert "/ui/" in (home / "server.log").read_text()  # the address is printed
        with httpx.Client(base_url=url, follow_redirects=True) as client:
            assert client.get("/ui/data").status_code == 401
            assert client.get("/ui/static/vendor/htmx/htmx.min.js").status_code == 200
            response = client.post("/ui/login", data={"key": key})
            assert response.status_code == 200 and "<h1>Data</h1>" in response.text  # followed the redirect
