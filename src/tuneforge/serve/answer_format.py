"""The server's default answer format for an extraction variant: its learned JSON keys (models/answer_grammar.py).

The learned keys and types (run.json `data.answer_schema`) become a grammar that a chat request follows when it
brings no `response_format`, through the same structured-generation path as a client's own `json_schema`
(batching, streaming and logprobs work the same). `predict` and `eval` decode under the same grammar, so a served
answer is the one the evaluation scored.

A request's own `response_format` wins (`{"type": "text"}` asks for the model's free text), and so does a tool
plan: a request that offers tools leaves the answer free to be a call.
"""

from __future__ import annotations

from tuneforge.models.answer_grammar import AnswerFormat


def default_answer_format(body, served, tools) -> AnswerFormat | None:
    """The grammar a chat answer follows when the request sets no format of its own (None: free text)."""
    if body.response_format is not None or tools is not None:
        return None
    return served.answer_format
