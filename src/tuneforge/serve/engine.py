"""The inference engine: one base model in memory, LoRA variants on top, requests batched dynamically.

A worker thread takes waiting requests (up to `max_batch`, waiting `batch_wait_s` for company), left-pads
their prompts and decodes them together with a KV cache. Every row names its own adapter (`__base__` for the
plain base), which PEFT applies per row in one forward pass, so variants of one base mix in a batch. Every
row also has its own sampling settings, seed, stop strings and length; finished rows leave the batch at once.
A bounded queue refuses work beyond `max_queue` (the server answers 429) instead of growing without limit.

Per row, two optional extras: a grammar constraint (`models/structured.py`, for response_format) masks the
logits before sampling, and `logprobs` reports the model's own log-softmax for each chosen token (before
temperature, top_p and any mask, as vLLM's default) with the `logprobs` most likely alternatives.
"""

from __future__ import annotations

import copy
import queue
import threading
from collections import OrderedDict
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tuneforge.chat_encoding import common_prefix_len
from tuneforge.models.load import load_model, load_tokenizer, stop_token_ids
from tuneforge.models.transformers_api import peft_wrapping, with_cache
from tuneforge.serve.sampling import sample_row
from tuneforge.models.structured import Grammars

BASE_ADAPTER = "__base__"
# Shorter common prefixes are not worth a separate prefill forward pass. The server's own threshold, apart from
# training's chat_encoding.MIN_SHARED_PREFIX: each weighs the cost of its own extra pass.
MIN_PREFILL_PREFIX = 8
PREFIX_CACHE_ENTRIES = 16


class QueueFull(RuntimeError):
    pass


@dataclass
class GenRequest:
    prompt_ids: list[int]
    adapter: str = BASE_ADAPTER
    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    # A RowConstraint from engine.grammars.row(schema): only tokens it allows are sampled.
    constraint: object = None
    # None: no logprobs; k >= 0: report each token's logprob and its k most likely alternatives.
    logprobs: int | None = None
    # Leading prompt tokens many requests share (the system prompt); their KV cache is kept between batches.
    prefix_len: int = 0
    # Called from the worker thread with ("delta", text, logprob_entries), then ("done", finish_reason, n_tokens)
    # or ("error", msg). logprob_entries lists one dict per token whose text is in this delta (empty without
    # logprobs): {"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}.
    on_event: Callable[..., None] = lambda *a: None
    cancelled: bool = False


def _left_pad(cache, mask, n: int):
    """Add n masked, zero cache slots in front of every row (so caches of different lengths line up)."""
    import torch

    for layer in cache.layers:
        k, v = layer.keys, layer.values
        layer.keys = torch.cat([k.new_zeros(k.shape[0], k.shape[1], n, k.shape[3]), k], dim=2)
        layer.values = torch.cat([v.new_zeros(v.shape[0], v.shape[1], n, v.shape[3]), v], dim=2)
    return cache, torch.cat([mask.new_zeros(mask.shape[0], n), mask], dim=1)


class _Row:
    """Decoding state of one request inside a batch."""

    def __init__(self, req: GenRequest, tokenizer):
        import torch

        self.req = req
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.emitted = 0  # characters of the decoded answer already sent
        self.finished = False
        self.generator = None
        if req.temperature > 0:
            self.generator = torch.Generator()
            self.generator.manual_seed(req.seed if req.seed is not None else int(time.time_ns() % 2**63))
        self.ends: list[int] = []  # length of the decoded answer after each token
        self.logprobs: list[dict] = []  # one entry per token when the request asked for logprobs
        self.logprobs_sent = 0

    def text(self) -> str:
        return self.tokenizer.decode(self.ids, skip_special_tokens=True)

    def flush(self, final: bool) -> str | None:
        """Send newly decoded text; return the finish reason if a stop string ended the answer."""
        text = self.text()
        if len(self.ends) < len(self.ids):
            self.ends.append(len(text))
        for s in self.req.stop:
            at = text.find(s)
            if at != -1:
                self._send(text[:at], final=True)
                return "stop"
        safe = len(text)
        if not final:
            if text.endswith("\ufffd"):  # a multi-byte character is still incomplete
                safe -= 1
            for s in self.req.stop:  # hold back what may be the start of a stop string
                for k in range(min(len(s) - 1, len(text)), 0, -1):
                    if text.endswith(s[:k]):
                        safe = min(safe, len(text) - k)
                        break
        self._send(text[:safe], final=final)
        return None

    def _send(self, upto: str, final: bool) -> None:
        # A token's logprob goes out with the delta that completes its text; at the end, with any text it began
        # (a token cut by a stop string counts, the tokens after it do not).
        entries = []
        while self.logprobs_sent < len(self.logprobs):
            i = self.logprobs_sent
            start = self.ends[i - 1] if i else 0
            if not (self.ends[i] <= len(upto) or (final and start < len(upto))):
                break
            entries.append(self.logprobs[i])
            self.logprobs_sent += 1
        if len(upto) > self.emitted or entries:
            self.req.on_event("delta", upto[self.emitted:], entries)
            self.emitted = max(self.emitted, len(upto))


class Engine:
    def __init__(self, base_path: str | Path, adapters: dict[str, str | Path] | None = None, max_batch: int = 16,
                 max_queue: int = 64, batch_wait_s: float = 0.01, dtype: str = "float32",
                 trust_remote_code: bool = False):
        import torch

        self.tokenizer = load_tokenizer(base_path, trust_remote_code=trust_remote_code)
        model = load_model(base_path, dtype=dtype, trust_remote_code=trust_remote_code)
        self.adapters: dict[str, str] = {}
        if adapters:
            from peft import PeftModel

            for i, (served_name, folder) in enumerate(adapters.items()):
                internal = f"v{i}"  # PEFT adapter names become module keys: keep them plain
                if i == 0:
                    with peft_wrapping():
                        model = PeftModel.from_pretrained(model, str(folder), adapter_name=internal)
                else:
                    model.load_adapter(str(folder), adapter_name=internal)
                self.adapters[served_name] = internal
        model.eval()
        self.model = model
        self.is_peft = bool(adapters)
        self.stops = set(stop_token_ids(self.tokenizer, model))
        self.pad_id = self.tokenizer.pad_token_id
        self.max_batch = max_batch
        self.batch_wait_s = batch_wait_s
        self.queue: queue.Queue[GenRequest] = queue.Queue(maxsize=max_queue)
        self.grammars = Grammars(self.tokenizer, sorted(self.stops))
        self.tokens_generated = 0  # decode work done, for tests (an abandoned request must stop costing it)
        self._prefixes: OrderedDict[tuple, object] = OrderedDict()  # (adapter, prefix ids) -> DynamicCache
        self.joined = 0  # requests that joined a running batch (continuous batching), for tests and stats
        self._lock = threading.Lock()
        # Held by the worker for a whole batch, and by add_adapter/remove_adapter: the model changes between batches.
        self._model_lock = threading.Lock()
        self._next_adapter = len(self.adapters)
        self._retired: set[str] = set()  # served names to unload once no queued request names them
        self._stopping = False
        self._retiring = False  # retire(): stop once idle
        self._gone = False  # retired: the worker has stopped taking requests
        self.device = next(model.parameters()).device
        self._torch = torch
        self.worker = threading.Thread(target=self._loop, name="tuneforge-engine", daemon=True)
        self.worker.start()

    # -- public ------------------------------------------------------------------------------------------------
    def adapter_for(self, served_name: str | None) -> str:
        return BASE_ADAPTER if served_name is None else self.adapters[served_name]

    def add_adapter(self, served_name: str, folder: str | Path) -> str:
        """Load a LoRA run folder while serving, under `served_name`; waits for the running batch to finish."""
        from peft import PeftModel

        with self._model_lock:
            if served_name in self.adapters:
                raise ValueError(f"{served_name}: already loaded")
            internal = f"v{self._next_adapter}"
            if self.is_peft:
                self.model.load_adapter(str(folder), adapter_name=internal)
            else:
                with peft_wrapping():
                    self.model = PeftModel.from_pretrained(self.model, str(folder), adapter_name=internal)
                self.is_peft = True
            self.model.eval()
            self._next_adapter += 1
            self.adapters[served_name] = internal
        return internal

    def remove_adapter(self, served_name: str) -> None:
        """Unload an adapter and its cached prefixes; the base (and the other variants) keep serving."""
        with self._model_lock:
            internal = self.adapters.pop(served_name)
            if self.adapters:
                self.model.delete_adapter(internal)
            else:  # PEFT keeps naming a deleted last adapter as active: go back to the plain base instead
                self.model = self.model.unload()
                self.is_peft = False
            for key in [k for k in self._prefixes if k[0] == internal]:
                del self._prefixes[key]

    def retire_adapter(self, served_name: str) -> None:
        """Unload an adapter once no request waits for it: the worker does it between two batches, when every
        request it took has finished, and only while none in the queue names the adapter (serve/follow.py)."""
        with self._lock:
            self._retired.add(served_name)
        try:
            self.queue.put_nowait(GenRequest(prompt_ids=[], max_tokens=0))  # wakes an idle worker to do it
        except queue.Full:
            pass  # a busy worker gets to it after its batch

    def _drop_retired(self) -> None:
        with self._lock:
            names = list(self._retired)
        for name in names:
            internal = self.adapters.get(name)
            with self.queue.mutex:
                waiting = internal is not None and any(r.adapter == internal for r in self.queue.queue)
            if waiting:
                continue
            if internal is not None:
                self.remove_adapter(name)
            with self._lock:
                self._retired.discard(name)

    def retire(self) -> None:
        """Stop the worker once no request is in hand or queued: for an engine of one model's own weights (a full
        fine-tune) that stopped being served. `retired` turns true when it has stopped."""
        if self._retiring:  # asked again while it finishes: one wake-up is enough
            return
        self._retiring = True
        try:
            self.queue.put_nowait(GenRequest(prompt_ids=[], max_tokens=0))  # wakes an idle worker to see it
        except queue.Full:
            pass  # a busy worker gets to it after its batches

    @property
    def retired(self) -> bool:
        return self._gone and not self.worker.is_alive()

    def _refuse_when_retired(self) -> None:
        """Called holding self._lock, which the worker holds to decide it is gone: no request is queued after."""
        if self._gone:  # a request that resolved the model just before it was unloaded
            raise QueueFull("this model was just unloaded; retry to reach the version served now")

    def submit(self, req: GenRequest) -> None:
        try:
            with self._lock:
                self._refuse_when_retired()
                self.queue.put_nowait(req)
        except queue.Full:
            raise QueueFull(f"the server is at capacity ({self.queue.maxsize} requests waiting); retry later") from None

    def submit_many(self, reqs: list[GenRequest]) -> None:
        """All rows of one request (n > 1) are queued, or none is."""
        with self._lock:
            self._refuse_when_retired()
            if self.queue.maxsize - self.queue.qsize() < len(reqs):
                raise QueueFull(f"the server is at capacity ({self.queue.maxsize} requests waiting); retry later")
            for r in reqs:
                self.queue.put_nowait(r)

    def close(self) -> None:
        self._stopping = True
        try:
            self.queue.put_nowait(GenRequest(prompt_ids=[], max_tokens=0))  # wakes the worker
        except queue.Full:
            pass  # the worker is busy and will see _stopping after this batch
        self.worker.join(timeout=10)

    # -- worker ------------------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping:
            if self._retired:  # between batches: no request is in hand, only queued ones can still need one
                self._drop_retired()
            if self._retiring:
                with self._lock:  # submit checks _gone under the same lock: nothing is queued once it is set
                    self._gone = self.queue.empty()
                if self._gone:
                    self.model = None  # the weights go with the last reference
                    break
            first = self.queue.get()
            if self._stopping:
                break
            batch = [first]
            deadline = time.monotonic() + self.batch_wait_s
            while len(batch) < self.max_batch:
                left = deadline - time.monotonic()
                try:
                    batch.append(self.queue.get(timeout=left) if left > 0 else self.queue.get_nowait())
                except queue.Empty:
                    break
            batch = [r for r in batch if not r.cancelled and r.prompt_ids]  # an empty prompt only wakes the worker
            if not batch:
                continue
            try:
                with self._model_lock:
                    self._run_batch(batch)
            except Exception as err:  # one bad batch must not kill the server
                for r in batch:
                    r.on_event("error", f"{type(err).__name__}: {err}")

    def _choose(self, row: _Row, logits) -> int | None:
        req = row.req
        if req.constraint is not None:
            allowed = req.constraint.allowed(logits.shape[-1])
            if not bool(allowed.any()):
                return None
            logits = logits.masked_fill(~allowed, float("-inf"))
        return sample_row(logits, req.temperature, req.top_p, row.generator)

    def _logprob_entry(self, logits, tok: int, top: int) -> dict:
        torch = self._torch
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        entry = self._token_entry(tok, float(logprobs[tok]))
        if top:
            values, ids = torch.topk(logprobs, min(top, logprobs.shape[-1]))
            entry["top_logprobs"] = [self._token_entry(int(i), float(v)) for v, i in zip(values, ids)]
        else:
            entry["top_logprobs"] = []
        return entry

    def _token_entry(self, tok: int, logprob: float) -> dict:
        raw = self.grammars.token_bytes(tok)
        return {"token": raw.decode("utf-8", errors="replace"), "logprob": logprob, "bytes": list(raw)}

    def _run_batch(self, reqs: list[GenRequest]) -> None:
        torch = self._torch
        rows = [_Row(r, self.tokenizer) for r in reqs]
        adapter_names = [r.adapter for r in reqs]
        hints = {r.prefix_len for r in reqs}
        with torch.inference_mode():
            cache, logits, mask, positions = self._prefill(
                [r.prompt_ids for r in reqs], adapter_names, hints.pop() if len(hints) == 1 else 0)
            try:
                while rows:
                    if len(rows) < self.max_batch and not self.queue.empty():
                        # Continuous batching: requests that arrived meanwhile join the running batch.
                        joined = self._join_waiting(rows, adapter_names, cache, logits, mask, positions)
                        if joined is not None:
                            logits, mask, positions = joined
                    next_tokens: list[int] = []
                    keep: list[int] = []
                    for i, row in enumerate(rows):
                        reason = self._step(row, logits[i])
                        if reason is None:
                            keep.append(i)
                            next_tokens.append(row.ids[-1])
                        else:
                            row.finished = True
                            row.req.on_event("done", reason, len(row.ids))
                    if not keep:
                        break
                    if len(keep) < len(rows):
                        index = torch.tensor(keep, dtype=torch.long, device=self.device)
                        cache.batch_select_indices(index)
                        mask, positions = mask[index], positions[index]
                        adapter_names = [adapter_names[i] for i in keep]
                        rows = [rows[i] for i in keep]
                    mask = torch.cat([mask, torch.ones((len(rows), 1), dtype=torch.long)], dim=1)
                    positions = positions[:, -1:] + 1
                    step_ids = torch.tensor(next_tokens, dtype=torch.long).unsqueeze(1)
                    logits = self._forward(step_ids, mask, positions, cache, adapter_names)
            except Exception as err:
                # Rows that joined after the batch began are not in the caller's list: tell them here.
                for row in rows:
                    if not row.finished:
                        row.req.on_event("error", f"{type(err).__name__}: {err}")

    def _prefill(self, prompts: list[list[int]], adapter_names: list[str], hint: int):
        """Run the prompts into a new cache; return it, last-position logits, the attention mask and positions.

        Requests to one variant usually share a long prefix (its system prompt). When every row has the same
        adapter, that prefix is computed once (or taken from the prefix cache, when the requests marked it as
        shared with `prefix_len`) and copied to each row; each row's own suffix follows, left-padded, so the
        padding sits between prefix and suffix (masked; positions stay contiguous).
        """
        torch = self._torch
        from transformers import DynamicCache

        same_adapter = len(set(adapter_names)) == 1
        shared = common_prefix_len(prompts) if same_adapter else 0
        shared = min(shared, min(len(p) for p in prompts) - 1)  # every row keeps a token of its own
        if same_adapter and MIN_PREFILL_PREFIX <= hint <= shared:
            shared = hint
            cache = self._cached_prefix(prompts[0][:shared], adapter_names[0])
        elif shared >= MIN_PREFILL_PREFIX and len(prompts) > 1:
            cache = self._run_prefix(prompts[0][:shared], adapter_names[0])
        else:
            shared, cache = 0, DynamicCache()
        if shared:
            cache.batch_repeat_interleave(len(prompts))
        suffixes = [p[shared:] for p in prompts]
        width = max(len(p) for p in suffixes)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        own = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, p in enumerate(suffixes):
            ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
            own[i, width - len(p):] = 1
        mask = torch.cat([torch.ones((len(prompts), shared), dtype=torch.long), own], dim=1)
        positions = ((mask.cumsum(-1) - 1).clamp(min=0))[:, shared:]
        logits = self._forward(ids, mask, positions, cache, adapter_names)
        return cache, logits, mask, positions

    def _join_waiting(self, rows, adapter_names, cache, logits, mask, positions):
        """Prefill waiting requests and append them to the running batch (cache, mask, positions, logits).

        Cache rows of different lengths are aligned by left-padding the shorter side with masked zeros.
        Returns the new (logits, mask, positions), or None when nothing joined.
        """
        torch = self._torch
        from transformers.cache_utils import DynamicLayer

        if not all(type(layer) is DynamicLayer for layer in cache.layers):
            return None  # sliding-window or other layouts: let the batch finish first
        new: list[GenRequest] = []
        while len(rows) + len(new) < self.max_batch:
            try:
                req = self.queue.get_nowait()
            except queue.Empty:
                break
            if req.prompt_ids and not req.cancelled:
                new.append(req)
        if not new:
            return None
        joined_any = False
        for req in new:
            try:
                c2, l2, m2, p2 = self._prefill([req.prompt_ids], [req.adapter], req.prefix_len)
            except Exception as err:  # this request fails alone; the running batch goes on
                req.on_event("error", f"{type(err).__name__}: {err}")
                continue
            width, width2 = mask.shape[1], m2.shape[1]
            if width2 < width:
                c2, m2 = _left_pad(c2, m2, width - width2)
            elif width < width2:
                cache, mask = _left_pad(cache, mask, width2 - width)
            for layer, layer2 in zip(cache.layers, c2.layers):
                layer.keys = torch.cat([layer.keys, layer2.keys], dim=0)
                layer.values = torch.cat([layer.values, layer2.values], dim=0)
            mask = torch.cat([mask, m2], dim=0)
            positions = torch.cat([positions[:, -1:], p2[:, -1:]], dim=0)
            logits = torch.cat([logits, l2], dim=0)
            rows.append(_Row(req, self.tokenizer))
            adapter_names.append(req.adapter)
            self.joined += 1
            joined_any = True
        return (logits, mask, positions) if joined_any else None

    def _run_prefix(self, prefix: list[int], adapter: str):
        from transformers import DynamicCache

        torch = self._torch
        cache = DynamicCache()
        ids = torch.tensor([prefix], dtype=torch.long)
        self._forward(ids, torch.ones_like(ids), torch.arange(len(prefix)).unsqueeze(0), cache, [adapter])
        return cache

    def _cached_prefix(self, prefix: list[int], adapter: str):
        """A private copy of the prefix's cache (the batch extends it), computed once per adapter and prefix."""
        key = (adapter, tuple(prefix))
        if key in self._prefixes:
            self._prefixes.move_to_end(key)
        else:
            self._prefixes[key] = self._run_prefix(prefix, adapter)
            while len(self._prefixes) > PREFIX_CACHE_ENTRIES:
                self._prefixes.popitem(last=False)
        return copy.deepcopy(self._prefixes[key])

    def _forward(self, ids, mask, positions, cache, adapter_names):
        kwargs = dict(
            input_ids=ids.to(self.device), attention_mask=mask.to(self.device), position_ids=positions.to(self.device),
            use_cache=True, logits_to_keep=1, **with_cache(cache),
        )
        if self.is_peft:
            kwargs["adapter_names"] = adapter_names
        return self.model(**kwargs).logits[:, -1, :].float().cpu()

    def _step(self, row: _Row, logits) -> str | None:
        """Pick the row's next token and send text; return a finish reason when the row is done."""
        req = row.req
        if req.cancelled:
            return "cancelled"
        if len(row.ids) >= req.max_tokens:
            return row.flush(final=True) or "length"
        tok = self._choose(row, logits)
        if tok is None or tok in self.stops:
            return row.flush(final=True) or "stop"
        if req.constraint is not None:
            req.constraint.advance(tok)
        if req.logprobs is not None:
            row.logprobs.append(self._logprob_entry(logits, tok, req.logprobs))
        row.ids.append(tok)
        self.tokens_generated += 1
        reason = row.flush(final=False)
        if reason:
            return reason
        if len(row.ids) >= req.max_tokens:
            return row.flush(final=True) or "length"
        return None
