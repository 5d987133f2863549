"""Routes of the maintenance cycle: `POST /v1/feedback` and `GET /v1/review/queue`.

Feedback names a response by its OpenAI id and is stored with the request, the variant version that answered and
the API key that sent it (id and prefix). The review queue is monitor/review_queue.py's, so the terminal flow
(`tuneforge review`) and a web page show the same items in the same order.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from tuneforge.config import FeedbackBody
from tuneforge.serve.errors import ApiError
from tuneforge.serve.registry_access import caller, may_see_variant
from tuneforge.serve.security import check_api_key


def _sender(authorization: str | None, keys) -> str | None:
    if keys is None or not authorization:
        return None
    record = keys.identify(authorization[7:].strip()) if hasattr(keys, "identify") else None
    return f"{record.id}:{record.prefix}" if record else None


def monitor_router(keys, traffic) -> APIRouter:
    router = APIRouter()

    def store():
        from tuneforge.monitor.feedback import FeedbackStore

        # The same database the server's traffic log writes to (a test may point it elsewhere).
        return FeedbackStore(traffic.path if traffic is not None else None)

    # Plain `def` routes: FastAPI runs them in its thread pool, so database work and fitting the review queue's
    # second opinion never block the event loop that streams other requests' answers.
    @router.post("/v1/feedback")
    def feedback(body: FeedbackBody, request: Request):
        authorization = request.headers.get("authorization")
        check_api_key(authorization, keys)
        if traffic is None:
            raise ApiError(400, "this server does not log traffic (--no-log-traffic), so it cannot take feedback")
        from tuneforge.monitor.feedback import UnknownRequest

        traffic.flush()  # the answer's row may still be in the writer's queue
        fb = store()
        try:
            row = fb.request(body.id)  # another owner's answer is as unknown as one that does not exist
            if row is not None and not may_see_variant(caller(request), row["variant"]):
                raise UnknownRequest(f"no logged request has the id {body.id!r}")
            saved = fb.add(body.id, body.correct_output, body.rating, body.comment, _sender(authorization, keys))
        except UnknownRequest as err:
            raise ApiError(404, str(err), code="request_not_found", param="id") from None
        finally:
            fb.close()
        return {"object": "feedback", "id": f"fb-{saved.id}", "request_id": saved.request_id,
                "variant": saved.variant, "created_at": saved.at}

    @router.get("/v1/review/queue")
    def review_queue(request: Request, variant: str, limit: int = 20, seed: int = 0):
        if not may_see_variant(caller(request), variant):
            raise ApiError(404, f"The model `{variant}` does not exist or you do not have access to it.",
                           param="variant", code="model_not_found")
        from tuneforge.monitor.review_queue import build_queue

        if traffic is not None:
            traffic.flush()
        items = build_queue(variant, limit=limit, seed=seed, path=traffic.path if traffic is not None else None)
        return {"object": "list", "data": [item.to_json() for item in items]}

    return router
