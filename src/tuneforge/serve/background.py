"""Long work a request starts and a later request asks about: an evaluation, a retrain. One thread per task, at
most one task per key at a time; the result stays on disk (eval.json, the retrain report), so this only holds
whether a task is running and the error of one that failed, for the pages to show. Each task's status is also
written to SQLite when it starts and ends (serve/task_store.py), so a restarted server still shows the last one.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field


@dataclass
class Task:
    key: str
    status: str = "running"  # running | succeeded | failed
    started_at: int = field(default_factory=lambda: int(time.time()))
    finished_at: int | None = None
    error: str | None = None
    result: dict | None = None
    log: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"status": self.status, "started_at": self.started_at, "finished_at": self.finished_at,
                "error": self.error, "result": self.result, "log": self.log[-20:]}


class Tasks:
    def __init__(self, store=None):
        """`store`: a task_store.TaskStore that keeps each task's last status across restarts (None: memory only)."""
        self._tasks: dict[str, Task] = {}  # the tasks this server started: the live log of a running one
        self._lock = threading.Lock()
        self._store = store
        if store is not None:
            store.fail_unfinished()

    def get(self, key: str) -> Task | None:
        task = self._tasks.get(key)
        if task is None and self._store is not None:
            stored = self._store.load(key)
            task = Task(**stored) if stored else None
        return task

    def start(self, key: str, work) -> Task:
        """Run `work(log) -> dict | None` in a thread unless a task of `key` runs already (then return that one).
        A UserError's message becomes the task's error; anything else also (with its type), and is printed."""
        from tuneforge.errors import UserError

        with self._lock:
            running = self._tasks.get(key)
            if running is not None and running.status == "running":
                return running
            task = self._tasks[key] = Task(key)
            self._record(task)

        def run():
            try:
                task.result = work(task.log.append)
                task.status = "succeeded"
            except UserError as err:
                task.error, task.status = str(err), "failed"
            except Exception as err:  # a bug: keep the server up, show it, print the traceback for the operator
                traceback.print_exc()
                task.error, task.status = f"{type(err).__name__}: {err}", "failed"
            task.finished_at = int(time.time())
            self._record(task)

        threading.Thread(target=run, name=f"tuneforge-{key}", daemon=True).start()
        return task

    def _record(self, task: Task) -> None:
        if self._store is None:
            return
        try:
            self._store.save(task)
        except Exception:  # the status in memory still holds; a store that cannot be written is the operator's
            traceback.print_exc()

    def wait(self, key: str, timeout: float = 60.0) -> Task | None:
        """For tests and scripts: wait until the task of `key` is no longer running."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            task = self._tasks.get(key)
            if task is None or task.status != "running":
                return task
            time.sleep(0.05)
        return self._tasks.get(key)


_creating = threading.Lock()


def tasks_of(app) -> Tasks:
    """The app's one task table (created on first use), its statuses kept in TUNEFORGE_HOME's registry.db."""
    from tuneforge.serve.task_store import TaskStore

    with _creating:
        if getattr(app.state, "tasks", None) is None:
            app.state.tasks = Tasks(TaskStore())
        return app.state.tasks
