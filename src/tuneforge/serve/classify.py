"""Serving a classification variant: the same request interface as the generative engine, answered by its head.

A classification variant answers with the argmax label and nothing else; its calibrated label probabilities
go out as the answer's logprobs: the chosen label's log-probability and, in `top_logprobs`, the k most likely
labels (each label counts as one "token", since the head scores whole labels). Requests queue and run in
batches on a worker thread, like serve/engine.py, so an HTTP handler never blocks on the model.

Events sent to `req.on_event` follow the generative engine: ("delta", label, logprob_entries), then
("done", "stop", 1), or ("error", message).
"""

from __future__ import annotations

import math
import queue
import threading
import time

from tuneforge.models.classifier import classifier_input, load_classifier, pooled_logits

CLASSIFIER_ADAPTER = "__classifier__"


class ClassifierEngine:
    classifies = True

    def __init__(self, run_dir: str, max_batch: int = 16, max_queue: int = 64, batch_wait_s: float = 0.01,
                 dtype: str = "float32", **_ignored):
        self.classifier = load_classifier(run_dir, dtype=dtype)
        self.tokenizer = self.classifier.tokenizer
        self.model = self.classifier.model
        self.labels = self.classifier.labels
        self.max_batch, self.batch_wait_s = max_batch, batch_wait_s
        self.queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._stopping = False
        self.worker = threading.Thread(target=self._loop, name="tuneforge-classifier", daemon=True)
        self.worker.start()

    # -- the interface the server uses --------------------------------------------------------------------------
    def adapter_for(self, served_name: str | None) -> str:
        return CLASSIFIER_ADAPTER

    def encode_messages(self, messages: list[dict]) -> list[int]:
        """Prompt ids for a chat request: the user text the head was trained on (no system prompt, no template)."""
        return self.tokenizer(classifier_input(messages), add_special_tokens=False)["input_ids"]

    def submit(self, req) -> None:
        self.submit_many([req])

    def submit_many(self, reqs: list) -> None:
        from tuneforge.serve.engine import QueueFull

        with self._lock:
            if self.queue.maxsize - self.queue.qsize() < len(reqs):
                raise QueueFull(f"the server is at capacity ({self.queue.maxsize} requests waiting); retry later")
            for r in reqs:
                self.queue.put_nowait(r)

    def close(self) -> None:
        self._stopping = True
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass
        self.worker.join(timeout=10)

    # -- worker --------------------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping:
            first = self.queue.get()
            if first is None or self._stopping:
                break
            batch = [first]
            deadline = time.monotonic() + self.batch_wait_s
            while len(batch) < self.max_batch:
                left = deadline - time.monotonic()
                try:
                    nxt = self.queue.get(timeout=left) if left > 0 else self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is not None:
                    batch.append(nxt)
            batch = [r for r in batch if not r.cancelled]
            if not batch:
                continue
            try:
                self._answer(batch)
            except Exception as err:  # one bad batch must not kill the server
                for r in batch:
                    r.on_event("error", f"{type(err).__name__}: {err}")

    def _answer(self, reqs: list) -> None:
        import torch

        from tuneforge.eval.generate import left_padded

        ids, mask = left_padded([r.prompt_ids or [self.tokenizer.pad_token_id] for r in reqs],
                                self.tokenizer.pad_token_id)
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            logits = pooled_logits(self.model, ids.to(device), mask.to(device), self.classifier.pooling).cpu()
        probs = torch.softmax(logits / self.classifier.temperature, dim=-1).tolist()
        for req, p in zip(reqs, probs):
            best = max(range(len(p)), key=p.__getitem__)
            req.on_event("delta", self.labels[best], self._logprobs(p, best, getattr(req, "logprobs", None)))
            req.on_event("done", "stop", 1)

    def _logprobs(self, probs: list[float], best: int, top: int | None) -> list[dict]:
        """One logprob entry (the label as one token) in the server's layout; none unless the request asked."""
        if top is None:
            return []
        order = sorted(range(len(probs)), key=lambda i: -probs[i])[: max(0, top)]
        return [dict(self._entry(best, probs[best]), top_logprobs=[self._entry(i, probs[i]) for i in order])]

    def _entry(self, i: int, p: float) -> dict:
        label = self.labels[i]
        return {"token": label, "logprob": math.log(max(p, 1e-45)), "bytes": list(label.encode("utf-8"))}
