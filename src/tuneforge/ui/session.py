"""Who is using the app: the API key, kept in an http-only, SameSite=Strict cookie after the login form checked it.

The key is checked with the API's own key store on every page (a revoked key stops working at once), and a missing
or wrong key gets the 401 page, which shows no data. A server in local-only mode (no keys) needs no login, exactly
as its API needs no key. SameSite=Strict keeps other sites from sending the cookie, so they cannot post our forms.

User flow (stable texts for the browser tests): /ui/login has a password field labelled "API key" and the button
"Log in"; a wrong key stays on the page with an alert "That API key is not valid...". Every page's header has the
navigation "Main" (Data, Train, Compare, Deploy, Review, Monitor; the current page has aria-current="page") and the
button "Log out". Without a valid key every page answers 401 with the heading "Not logged in" and a "Log in" link.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from tuneforge.ui.render import page

COOKIE = "tuneforge_key"
HOME = "/ui/data"


class NotLoggedIn(Exception):
    """No valid key in the session: answered with the 401 page."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def key_of(request: Request) -> str:
    """FastAPI dependency: the caller's API key from the cookie, checked with the key store ('' in local-only mode)."""
    keys = request.app.state.keys
    if keys is None:
        return ""
    key = request.cookies.get(COOKIE)
    if not key:
        raise NotLoggedIn("You are not logged in.")
    if keys.identify(key) is None:
        raise NotLoggedIn("Your API key is not valid (wrong, or revoked).")
    return key


def unauthorized_page(request: Request, reason: str):
    response = page(request, "401.html", "Not logged in", status_code=401, reason=reason, logged_in=False)
    response.delete_cookie(COOKIE, path="/ui")
    return response


router = APIRouter(include_in_schema=False)


@router.get("/ui/login")
def login_form(request: Request):
    if request.app.state.keys is None:
        return RedirectResponse(HOME, status_code=303)
    return page(request, "login.html", "Log in", logged_in=False)


@router.post("/ui/login")
def login(request: Request, key: str = Form("")):
    keys = request.app.state.keys
    if keys is None:
        return RedirectResponse(HOME, status_code=303)
    key = key.strip()
    if not key or keys.identify(key) is None:
        return page(request, "login.html", "Log in", status_code=401, logged_in=False,
                    error="That API key is not valid. Check it, or ask for a new one (`tuneforge keys create NAME`).")
    response = RedirectResponse(HOME, status_code=303)
    response.set_cookie(COOKIE, key, httponly=True, samesite="strict", path="/ui",
                        secure=request.url.scheme == "https")
    return response


@router.post("/ui/logout")
def logout():
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


def install(app) -> None:
    """Login/logout routes and the 401 page for every page that finds no valid key."""
    app.include_router(router)

    @app.exception_handler(NotLoggedIn)
    async def _not_logged_in(request: Request, exc: NotLoggedIn):
        return unauthorized_page(request, exc.reason)
