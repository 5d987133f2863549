"""The server's registry follower unloads what the registry rolled away: an archived version leaves the catalog
(and /v1/models) at once, its adapter leaves the engine once no queued request names it, and every request
already on its way to it finishes without an error."""

from __future__ import annotations

import threading
import time

import pytest


@pytest.fixture
def served(tiny_variants, one_torch_thread):
    from tuneforge.registry.store import Registry
    from tuneforge.serve.catalog import Catalog
    from tuneforge.serve.follow import RegistryFollower

    registry = Registry()
    registry.register(tiny_variants["alpha"], "inv")
    registry.register(tiny_variants["beta"], "inv")
    registry.promote("inv:1", "production", require_gate=False)
    catalog = Catalog.load(["inv:1"], max_batch=4, batch_wait_s=0.0)
    logs: list[str] = []
    follower = RegistryFollower(catalog, interval=0.05, log=logs.append, drain_s=0.0, start=False)
    yield catalog, follower, registry, logs
    registry.close()
    catalog.close()


def _send(entry, prompt_ids, outcomes: list, max_tokens: int = 6) -> threading.Event:
    from tuneforge.serve.engine import GenRequest

    done = threading.Event()

    def on_event(kind, *value):
        if kind in ("done", "error"):
            outcomes.append((kind, value))
            done.set()

    entry.engine.submit(GenRequest(prompt_ids=prompt_ids, adapter=entry.adapter, max_tokens=max_tokens,
                                   temperature=0.0, on_event=on_event))
    return done


def test_a_promoted_version_still_loading_is_answered_by_the_version_served_so_far(served):
    """Between a promotion and the follower loading the new version, a request for the stage gets the version the
    server already serves, not an error (the e2e switch test catches this only when a request lands in that
    window)."""
    catalog, follower, registry, logs = served
    assert catalog.resolve("inv").id == "inv:1"
    registry.promote("inv:2", "production", require_gate=False)
    assert catalog.resolve("inv").id == "inv:1"  # not loaded yet: no poll has run
    assert "inv:2" in follower._pending  # ...and the request asked the follower to load it
    follower.poll_once()
    assert catalog.resolve("inv").id == "inv:2"


def test_a_rolled_back_version_is_unloaded_after_its_queued_requests_finish(served):
    catalog, follower, registry, logs = served
    registry.promote("inv:2", "production", require_gate=False)
    assert follower.poll_once() == ["inv:2"] and "inv:2" in catalog.entries
    entry = catalog.resolve("inv")
    engine = entry.engine
    internal = engine.adapters["inv:2"]
    assert entry.id == "inv:2" and internal in engine.model.peft_config
    prompt = engine.tokenizer("dell laptop", add_special_tokens=False)["input_ids"]

    # Seven requests are on their way to inv:2 when the registry rolls it back: the worker is held (as by a long
    # batch), so it has taken up to four of them and the others wait in the queue.
    outcomes: list = []
    with engine._model_lock:
        waits = [_send(entry, prompt, outcomes) for _ in range(7)]
        time.sleep(0.2)
        assert engine.queue.qsize() >= 3
        registry.rollback("inv")  # archives inv:2
        follower.poll_once()
        # Out of the catalog at once (no new request reaches it, /v1/models no longer lists it), still loaded.
        assert "inv:2" not in catalog.entries and "inv:2" not in [e.id for e in catalog.list()]
        assert "inv:2" in follower.retiring and "inv:2" in engine.adapters
        assert catalog.resolve("inv").id == "inv:1"  # the alias moves back at once
    for w in waits:
        assert w.wait(60)
    deadline = time.time() + 60
    while "inv:2" in follower.retiring:
        follower.poll_once()
        assert time.time() < deadline, logs
        time.sleep(0.01)

    assert len(outcomes) == 7 and [o for o in outcomes if o[0] != "done"] == []  # none of them failed
    assert "inv:2" not in engine.adapters and internal not in engine.model.peft_config  # memory freed
    assert any("stopped serving inv:2 (archived)" in m for m in logs) and "unloaded inv:2 (followed the registry)" in logs
    # inv:1 still answers, and an archived version named explicitly is not loaded again.
    again: list = []
    assert _send(catalog.resolve("inv"), prompt, again).wait(60) and again[0][0] == "done"
    with pytest.raises(Exception):
        catalog.resolve("inv:2")
    follower.poll_once()
    assert "inv:2" not in catalog.entries


def test_a_version_followed_into_production_is_unloaded_once_replaced_twice(served, tiny_variants):
    catalog, follower, registry, logs = served
    registry.register(tiny_variants["alpha"], "inv")  # inv:3
    registry.promote("inv:2", "production", require_gate=False)  # inv:1 -> staging
    follower.poll_once()
    registry.promote("inv:3", "production", require_gate=False)  # inv:2 -> staging, inv:1 stays loaded
    follower.poll_once()
    follower.poll_once()
    served_ids = {e.id for e in catalog.list()}
    # inv:2 is the staging version and inv:3 production; inv:1 was given at start-up, so it stays.
    assert {"inv:1", "inv:2", "inv:3"} <= served_ids
    registry.promote("inv:1", "production", require_gate=False)  # inv:3 -> staging, inv:2 left behind
    follower.poll_once()
    served_ids = {e.id for e in catalog.list()}
    assert "inv:2" not in served_ids and {"inv:1", "inv:3"} <= served_ids
    # The engine's worker drops the adapter between two batches (engine.retire_adapter), so it goes a moment later.
    engine, deadline = catalog.entries["inv:1"].engine, time.time() + 30
    while "inv:2" in engine.adapters:
        assert time.time() < deadline, "inv:2 was never unloaded"
        follower.poll_once()
        time.sleep(0.01)
    assert {"inv:1", "inv:3"} <= set(engine.adapters)
