"""The server follows the registry: a version promoted (or rolled back) to a stage is loaded while the server
keeps answering, then requests that name the variant (`invoice`, `invoice@production`) move to it.

A background thread polls the registry every `interval` seconds for the versions in production and staging of
every served name, and loads those it does not hold (catalog.add: the adapter is attached between two batches).
Until the new version is in place, catalog.resolve keeps routing a reference to the version it routed to before,
so no request fails during the switch.
"""

from __future__ import annotations

import threading

FOLLOWED_STAGES = ("production", "staging")


class RegistryFollower:
    def __init__(self, catalog, interval: float = 2.0, log=print):
        self.catalog = catalog
        self.interval = interval
        self.log = log
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._pending: dict[str, str] = {}
        self._lock = threading.Lock()
        catalog.follower = self
        self.thread = threading.Thread(target=self._loop, name="tuneforge-follow", daemon=True)
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
            todo = {}
            for name in self.names():
                for stage in FOLLOWED_STAGES:
                    v = registry.find(f"{name}@{stage}")
                    if v is not None and self.catalog.serving(v.ref) is None:
                        todo[v.ref] = v.run_path
        finally:
            registry.close()
        with self._lock:
            todo.update(self._pending)
            self._pending.clear()
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
        return loaded

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
        self.thread.join(timeout=10)
