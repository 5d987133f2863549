"""Bridge between the HTTP handlers (asyncio) and the engine's worker thread: submit rows, await their text."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tuneforge.serve.engine import GenRequest


@dataclass
class Choice:
    index: int
    text: str = ""
    finish_reason: str | None = None
    tokens: int = 0
    error: str | None = None
    done: bool = False
    deltas: list[str] = field(default_factory=list)
    logprobs: list[dict] = field(default_factory=list)  # chat-layout entries, one per token


class Job:
    """The n rows of one API request; events arrive on an asyncio queue as (index, kind, *args).

    `structured=True` gives every row its own copy of the grammar for `schema` (None: any JSON object); compile
    the schema with engine.grammars.compile first, so a bad schema is refused before anything is queued.
    """

    def __init__(self, engine, prompts: list[list[int]], n: int, structured: bool = False, schema=None, **params):
        self.loop = asyncio.get_running_loop()
        self.events: asyncio.Queue = asyncio.Queue()
        self.choices: list[Choice] = []
        self.rows: list[GenRequest] = []
        seed = params.pop("seed", None)
        for p, prompt in enumerate(prompts):
            for k in range(n):
                index = p * n + k
                self.choices.append(Choice(index))
                # n answers from one seed must differ, and stay reproducible.
                row_seed = None if seed is None else seed + k
                constraint = engine.grammars.row(schema) if structured else None
                self.rows.append(GenRequest(prompt, seed=row_seed, on_event=self._sink(index), constraint=constraint,
                                            **params))
        self.prompt_tokens = sum(len(p) for p in prompts)
        engine.submit_many(self.rows)

    def _sink(self, index: int):
        def on_event(kind, *args):
            self.loop.call_soon_threadsafe(self.events.put_nowait, (index, kind, *args))

        return on_event

    @property
    def completion_tokens(self) -> int:
        return sum(c.tokens for c in self.choices)

    def cancel(self) -> None:
        for r in self.rows:
            r.cancelled = True

    async def events_until_done(self):
        """Yield (choice, kind, value, logprob entries) as events come in, until every row is finished."""
        pending = len(self.choices)
        while pending:
            index, kind, *args = await self.events.get()
            choice = self.choices[index]
            entries: list[dict] = []
            if kind == "delta":
                choice.text += args[0]
                choice.deltas.append(args[0])
                entries = args[1] if len(args) > 1 else []
                choice.logprobs.extend(entries)
            elif kind == "done":
                choice.finish_reason, choice.tokens, choice.done = args[0], args[1], True
                pending -= 1
            else:
                choice.error, choice.done = args[0], True
                pending -= 1
            yield choice, kind, (args[0] if args else None), entries

    async def wait(self) -> list[Choice]:
        async for _ in self.events_until_done():
            pass
        return self.choices
