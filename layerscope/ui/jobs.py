"""At most one running thread per kind of job (tree, preview); the newest request waits.

Textual cannot stop a thread: cancelling a thread worker ends its asyncio side at once while
the thread runs on, so "exclusive" workers pile up threads (and fill the executor) when keys
repeat. Here each job gets its own Event, the model checks it and returns early, and the
next job starts only when the previous thread has returned. Requests made meanwhile replace
each other: only the newest runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.worker import Worker, WorkerState

Start = Callable[[threading.Event], Worker[Any]]
DONE = (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)


class Jobs:
    def __init__(self) -> None:
        self._running: dict[str, tuple[Worker[Any], threading.Event]] = {}
        self._queued: dict[str, Start] = {}

    def submit(self, group: str, start: Start) -> None:
        current = self._running.get(group)
        if current is not None:
            current[1].set()  # ask it to stop; the newest request runs after it
            self._queued[group] = start
            return
        self._start(group, start)

    def _start(self, group: str, start: Start) -> None:
        cancel = threading.Event()
        self._running[group] = (start(cancel), cancel)

    def finished(self, worker: Worker[Any]) -> None:
        """Call when a worker reaches a final state."""
        for group, (running, _) in list(self._running.items()):
            if running is worker:
                del self._running[group]
                queued = self._queued.pop(group, None)
                if queued is not None:
                    self._start(group, queued)

    def cancel(self, group: str) -> bool:
        """Stop the group's running job and drop its queued one; False if none ran."""
        self._queued.pop(group, None)
        current = self._running.get(group)
        if current is None:
            return False
        current[1].set()
        return True

    def running(self, group: str) -> bool:
        return group in self._running

    def cancel_all(self) -> None:
        self._queued.clear()
        for _, cancel in self._running.values():
            cancel.set()
