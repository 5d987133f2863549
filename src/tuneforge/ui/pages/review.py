"""The *Review* page (/ui/review): the logged answers most worth a person's look, reviewed from the keyboard.

User flow (labels, keys and button texts are stable; browser tests select by them):
1. "Variant" (a select of registered names) and the button "Show queue" (a GET form: /ui/review?variant=NAME).
2. The queue (the API's order: answers outside the label set, then the least confident, then those a second
   opinion disagrees with, then a random sample) is a list of items, each an <article> named "Item K of N". Each
   shows the input, the model's answer, why it was queued ("Outside the label set or not valid", "Low
   confidence", "A second opinion disagrees", "Random sample …"), the confidence as a percentage, and the second
   opinion when it differs. The first item has the keyboard focus.
3. Keyboard, on a focused item: Enter accepts the answer; a number key 1-9 picks that label (the labels are listed
   as buttons "1 LABEL", "2 LABEL", …); "e" moves into the text field "Correct answer" to edit the answer inline,
   where Enter saves it. After each decision the item says "Saved: …" (role=status) and the focus moves to the
   next item. With the mouse: the buttons "Accept", the label buttons, and "Save correction". Every item has
   these controls, so a test scopes them to one item: get_by_role("article", name="Item 1 of 20"). A reviewed
   item becomes an article named "Item K reviewed" with the "Saved: accepted “X”" / "Saved: corrected to “X”"
   line.
4. Every decision is stored through POST /v1/feedback as the correct answer (accepting = the answer was right),
   exactly as `tuneforge review` does. "Nothing to review." when the queue is empty.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Depends, Form, Request

from tuneforge.ui import api_client
from tuneforge.ui.api_client import ok
from tuneforge.ui.pages import formatting
from tuneforge.ui.pages.choices import default_name, registered
from tuneforge.ui.render import fragment, page

router = APIRouter(include_in_schema=False)
QUEUE_SIZE = 20


@router.get("/ui/review")
async def review_page(request: Request, variant: str | None = None,
                      api: httpx.AsyncClient = Depends(api_client.client)):
    models = await registered(api)
    name = variant or default_name(models)
    items = []
    if name:
        items = ok(await api.get("/v1/review/queue", params={"variant": name, "limit": QUEUE_SIZE}))["data"]
    return page(request, "review.html", "Review", models=models, chosen=name, items=items, fmt=formatting)


@router.post("/ui/review/feedback")
async def feedback(request: Request, request_id: str = Form(...), correct_output: str = Form(...),
                   answer: str = Form(""), position: str = Form(""),
                   api: httpx.AsyncClient = Depends(api_client.client)):
    """One decision: the correct answer for a logged request (the model's own when accepted)."""
    ok(await api.post("/v1/feedback", json={"id": request_id, "correct_output": correct_output}))
    return fragment(request, "_review_done.html", request_id=request_id, correct_output=correct_output,
                    accepted=correct_output == answer, position=position)
