"""The server follows the registry: a version promoted (or rolled back) to a stage is loaded while the server
keeps answering, then requests that name the variant (`invoice`, `invoice@production`) move to it.

A background thread polls the registry every `interval` seconds for the versions in production and staging of
every served name, and loads those it does not hold (catalog.add: the adapter is attached between two batches).
Until the new version is in place, catalog.resolve keeps routing a reference to the version it routed to before,
so no request fails during the switch.

Versions leave memory too: one archived in the registry (a rollback archives the version it rolls away from),
or one this follower loaded for a stage it no longer holds (production replaced twice over), is retired in two
steps. First it leaves the catalog (gone from /v1/models, no new request reaches it); then, once `drain_s` has
passed and no queued request names its adapter, the adapter is unloaded (engine.remove_adapter) or the
classifier dropped. Requests already on their way finish on it, so a retirement fails no request in flight.
"""

from __future__ import annotations

import threading
import time

FOLLOWED_STAGES = ("production", "staging")


class RegistryFollower:
    def __init__(self, catalog, interval: float = 2.0, log=print, drain_s: float | None = None, start: bool = True):
        self.catalog = catalog
        self.interval = interval
        self.log = log
        # A request that resolved a version just before it left the catalog may still be on its way to the
        # engine's queue: the adapter stays loaded at least this long after the version stopped being listed.
        self.drain_s = max(2 * interval, 1.0) if drain_s is None else drain_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._pending: dict[str, str] = {}
        self._lock = threading.Lock()
        self.followed: set[str] = set()  # versions loaded because they reached a followed stage
        self.retiring: dict[str, tuple[object, float]] = {}  # id -> (entry, when it left the catalog)
        catalog.follower = self
        self.thread = threading.Thread(target=self._loop, name="tuneforge-follow", daemon=True)
        if start:  # tests drive poll_once themselves
            self.thread.start()

    def wanted(self, variant) -> None:
        """A request named a version that is not loaded yet: load it soon."""
        with self._lock:
            self._pending[variant.ref] = variant.run_path
        self._wake.set()

    def names(self) -> set[str]:
        # A job's model is served as `ft:...` but registered as `ft-<job>:N`: follow its registry name.
        return {e.traffic_variant.split(":")[0] for e in self.catalog.list()
                if e.kind == "variant" and ":" in e.traffic_variant}

    def poll_once(self) -> list[str]:
        from tuneforge.registry.store import Registry

        registry = Registry()
        try:
            todo, staged = {}, set()
            for name in self.names():
                for stage in FOLLOWED_STAGES:
                    v = registry.find(f"{name}@{stage}")
                    if v is not None:
                        staged.add(v.ref)
                    if v is not None and self.catalog.serving(v.ref) is None:  # a job's version: under ft:...
                        todo[v.ref] = v.run_path
            self.followed |= set(todo)
            with self._lock:
                pending, self._pending = self._pending, {}
            for ref, run_path in pending.items():  # a request named it; an archived version is not brought back
                v = registry.find(ref)
                if v is not None and v.stage != "archived":
                    todo[ref] = run_path
            stages = self._served_stages(registry)
        finally:
            registry.close()
        from tuneforge.registry.owners import owner_of

        loaded = []
        for ref, run_path in todo.items():
            try:
                if self.catalog.serving(ref) is None:  # a job's name stays its owner's (registry/owners.py)
                    self.catalog.add(ref, run_path, owner=owner_of(ref.split(":")[0]))
                loaded.append(ref)
                self.log(f"now serving {ref} (followed the registry)")
            except Exception as err:  # a version that cannot be loaded must not stop the server
                self.log(f"could not load {ref}: {err}")
        self.retire(stages, staged)
        self.unload_drained()
        return loaded

    def _served_stages(self, registry) -> dict[str, str]:
        """Registry stage of every served variant whose id is a registry version (name:version)."""
        out = {}
        for e in list(self.catalog.entries.values()):
            if e.kind == "variant" and ":" in e.id:
                v = registry.find(e.id)
                if v is not None and v.ref == e.id:
                    out[e.id] = v.stage
        return out

    def retire(self, stages: dict[str, str], staged: set[str]) -> list[str]:
        """Take out of the catalog the versions that were archived, and those this follower loaded for a stage
        they no longer hold; they are unloaded once drained (unload_drained)."""
        gone = []
        for ref, stage in stages.items():
            if not (stage == "archived" or (ref in self.followed and ref not in staged)):
                continue
            entry = self.catalog.detach(ref)
            if entry is None:
                continue
            self.retiring[ref] = (entry, time.monotonic())
            self.followed.discard(ref)
            gone.append(ref)
            self.log(f"stopped serving {ref} ({stage}); it unloads once its requests have finished")
        return gone

    def unload_drained(self) -> list[str]:
        done = []
        for ref, (entry, since) in list(self.retiring.items()):
            if time.monotonic() - since < self.drain_s:
                continue
            try:
                if not self.catalog.unload(entry):
                    continue  # requests still queued for it: try again at the next poll
            except Exception as err:
                self.log(f"could not unload {ref}: {err}")
            del self.retiring[ref]
            done.append(ref)
            self.log(f"unloaded {ref} (followed the registry)")
        return done

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as err:
                self.log(f"registry follow: {err}")
            self._wake.wait(self.interval)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
