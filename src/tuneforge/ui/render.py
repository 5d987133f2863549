"""Jinja2 templates for the app's pages and htmx fragments, with the context every page shares (navigation, user).

Autoescaping is on (Jinja2Templates' default for .html), so data from the API is always shown as text, never markup.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=TEMPLATES_DIR)

# Pages show a key's data: never cached, never framed (clickjacking), and only our own scripts and styles run
# (an injected <script> in shown data would be refused even if escaping ever failed).
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
}

# (url, name) in the order a user walks the cycle; base.html draws the navigation from it.
NAV = [("/ui/data", "Data"), ("/ui/train", "Train"), ("/ui/compare", "Compare"), ("/ui/deploy", "Deploy"),
       ("/ui/review", "Review"), ("/ui/monitor", "Monitor")]


def page(request: Request, name: str, title: str, status_code: int = 200, **context):
    """A whole page: `name` extends base.html; `title` is its one <h1> and the document title."""
    return _secured(templates.TemplateResponse(
        request, name, {"title": title, "nav": NAV, "path": request.url.path,
                        "logged_in": context.pop("logged_in", True), **context}, status_code=status_code))


def fragment(request: Request, name: str, status_code: int = 200, **context):
    """An htmx fragment (templates named `_*.html`): no layout, swapped into a page that is already shown."""
    return _secured(templates.TemplateResponse(request, name, context, status_code=status_code))


def _secured(response):
    response.headers.update(SECURITY_HEADERS)
    return response


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"
