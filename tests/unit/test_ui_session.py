"""The web app's skeleton over HTTP: logging in with a good key sets an http-only, SameSite=Strict cookie and
shows the Data page; a missing, wrong or revoked key gets the 401 page, which shows no data; the navigation is in
walking order; the vendored assets are served from the package; `serve --ui` is a config field."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tuneforge.config import ServeConfig
from tuneforge.jobs.service import JobsService
from tuneforge.serve.app import create_app
from tuneforge.serve.catalog import Catalog
from tuneforge.serve.keys import KeyStore
from tuneforge.ui import mount_ui
from tuneforge.ui.render import NAV

PAGES = [url for url, _ in NAV]


@pytest.fixture
def ui():
    """A server app with keys, the files/jobs API (worker not started: nothing trains) and the web app."""
    keys = KeyStore()
    service = JobsService(Catalog([], []), max_file_bytes=1_000_000)
    app = create_app(service.catalog, keys, fine_tuning=service)
    mount_ui(app)
    with TestClient(app) as client:
        yield client, keys
    service.store.close()


def login(client, key: str):
    return client.post("/ui/login", data={"key": key}, follow_redirects=False)


def test_good_key_sets_an_http_only_strict_cookie_and_shows_the_data_page(ui):
    client, keys = ui
    key, _ = keys.create("alice")
    assert client.get("/ui/login").status_code == 200
    response = login(client, key)
    assert response.status_code == 303 and response.headers["location"] == "/ui/data"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie
    page = client.get("/ui/data")
    assert page.status_code == 200
    assert "<h1>Data</h1>" in page.text and '<main id="main"' in page.text
    assert page.headers["cache-control"] == "no-store" and "frame-ancestors 'none'" in page.headers[
        "content-security-policy"]
    # The navigation lists the pages in the order a user walks them, the current one marked.
    nav = page.text[page.text.index("<nav"):page.text.index("</nav>")]
    positions = [nav.index(f'href="{url}"') for url in PAGES]
    assert positions == sorted(positions)
    assert 'href="/ui/data" aria-current="page"' in nav
    assert client.get("/ui/", follow_redirects=False).headers["location"] == "/ui/data"
    for url, name in NAV:  # every page renders for a logged-in user, with its name as the one <h1>
        text = client.get(url).text
        assert text.count("<h1") == 1 and f"<h1>{name}</h1>" in text


def test_missing_wrong_or_revoked_key_gets_the_401_page_without_data(ui):
    client, keys = ui
    key, _ = keys.create("alice")
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 401 and "not logged in" in response.text.lower()
        assert "<nav" not in response.text  # no navigation, no data: only the way to log in
    wrong = login(client, "tf-not-a-key")
    assert wrong.status_code == 401 and "not valid" in wrong.text and "set-cookie" not in wrong.headers
    client.cookies.set("tuneforge_key", "tf-forged", path="/ui")
    assert client.get("/ui/data").status_code == 401
    login(client, key)
    assert client.get("/ui/train").status_code == 200
    keys.revoke("alice")
    response = client.get("/ui/train")
    assert response.status_code == 401 and "not valid" in response.text


def test_logout_forgets_the_key(ui):
    client, keys = ui
    login(client, keys.create("alice")[0])
    assert client.get("/ui/data").status_code == 200
    response = client.post("/ui/logout", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    assert client.get("/ui/data").status_code == 401


def test_vendored_assets_are_served_from_the_package(ui):
    client, _ = ui
    htmx = client.get("/ui/static/vendor/htmx/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text and "javascript" in htmx.headers["content-type"]
    assert client.get("/ui/static/vendor/uplot/uPlot.iife.min.js").status_code == 200
    assert client.get("/ui/static/app.css").headers["content-type"].startswith("text/css")


def test_ui_is_a_serve_config_field_off_by_default():
    assert ServeConfig().ui is False and ServeConfig(ui=True).ui is True


def test_local_only_server_needs_no_login_as_its_api_needs_no_key():
    service = JobsService(Catalog([], []), max_file_bytes=1_000_000)
    app = create_app(service.catalog, None, fine_tuning=service)  # keys=None: `serve --local-only`
    mount_ui(app)
    with TestClient(app) as client:
        assert client.get("/ui/login", follow_redirects=False).headers["location"] == "/ui/data"
        page = client.get("/ui/data")
        assert page.status_code == 200 and "<h1>Data</h1>" in page.text
    service.store.close()
