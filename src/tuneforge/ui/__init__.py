"""The web app (`tuneforge serve --ui`): server-rendered pages that are a face on the public HTTP API.

`mount_ui(app)` adds the login/logout routes, the six pages (in the order a user walks them), the packaged static
assets and the 401 page to a server app made by `serve.app.create_app`. Page handlers never touch stores: they call
the same app's `/v1/...` API in-process (ui/api_client.py) with the key kept in the session cookie, so keys, owner
isolation and validation are exactly the API's.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"


def mount_ui(app) -> None:
    from fastapi.responses import RedirectResponse
    from fastapi.staticfiles import StaticFiles

    from tuneforge.ui import session
    from tuneforge.ui.pages import PAGE_ROUTERS

    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
    session.install(app)
    _show_api_failures(app)
    for router in PAGE_ROUTERS:
        app.include_router(router)

    @app.get("/ui", include_in_schema=False)
    @app.get("/ui/", include_in_schema=False)
    def ui_home():
        return RedirectResponse("/ui/data", status_code=303)


def _show_api_failures(app) -> None:
    """An API refusal a page ran into is shown in words: as a fragment in place for htmx, else as a page."""
    from fastapi import Request

    from tuneforge.ui.api_client import ApiFailure
    from tuneforge.ui.render import fragment, is_htmx, page

    @app.exception_handler(ApiFailure)
    async def _failure(request: Request, exc: ApiFailure):
        if is_htmx(request):  # htmx swaps only 2xx answers: the message replaces the target, the page stays
            return fragment(request, "_error.html", message=exc.message)
        return page(request, "error.html", "Something went wrong", status_code=exc.status, message=exc.message,
                    back="/".join(request.url.path.split("/")[:3]))  # the page, not a form action
