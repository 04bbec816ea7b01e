"""Who goes first on a small CPU: the voice's model runs in one lower-priority thread, urgent clips first.

On two cores, synthesising the reply audio of earlier turns competed with transcribing new ones:
under ``make load`` the reply text waited behind speech nobody was listening to yet. So:

* a synthesizer runs its model in one ``PriorityWorker`` thread whose OS scheduling priority is
  lowered (Linux keeps a nice value per thread; threads a model creates from there, such as
  onnxruntime's intra-op pool, inherit it). Transcription and the reply text, in the request
  threads, then get the cores first; on an idle machine nothing changes;
* jobs wait in a priority queue: a clip the page is waiting for (``URGENT``, the default) runs
  before a sentence spoken only for the counsellor's complete file (``BACKGROUND``, what code
  inside ``background_synthesis()`` asks for). A running job is never interrupted.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

log = logging.getLogger(__name__)

URGENT, BACKGROUND = 0, 1
_priority: ContextVar[int] = ContextVar("maum_synthesis_priority", default=URGENT)

T = TypeVar("T")


@contextmanager
def background_synthesis() -> Iterator[None]:
    """Within this block, synthesis this thread asks for waits behind every urgent clip."""
    token = _priority.set(BACKGROUND)
    try:
        yield
    finally:
        _priority.reset(token)


def current_priority() -> int:
    """``URGENT`` or ``BACKGROUND``: the priority synthesis asked for here gets."""
    return _priority.get()


def lower_thread_priority(increment: int) -> int | None:
    """Add ``increment`` to the calling thread's nice value (capped at 19); the new value, or None.

    Only this OS thread changes (Linux); where that is not possible nothing changes and None is returned.
    """
    if increment <= 0 or not hasattr(os, "setpriority"):
        return None
    try:
        tid = threading.get_native_id()
        nice = min(19, os.getpriority(os.PRIO_PROCESS, tid) + increment)
        os.setpriority(os.PRIO_PROCESS, tid, nice)
        return nice
    except OSError:  # pragma: no cover - a platform without per-thread priorities
        log.warning("could not lower the synthesis thread's priority", exc_info=True)
        return None


class PriorityWorker:
    """One daemon thread that runs the jobs handed to ``call`` one at a time, urgent ones first.

    Args:
        name: the thread's name.
        nice_increment: how much to lower the thread's priority (0: not at all).
    """

    def __init__(self, name: str, nice_increment: int = 0) -> None:
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._increment = nice_increment
        self.nice: int | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def call(self, job: Callable[[], T], priority: int | None = None) -> T:
        """Run ``job`` in the worker thread and return its result (or raise what it raised).

        ``priority`` defaults to ``current_priority()`` of the calling context.
        """
        if threading.current_thread() is self._thread:
            return job()
        future: Future = Future()
        rank = current_priority() if priority is None else priority
        self._queue.put((rank, next(self._order), job, future))
        return future.result()

    def _loop(self) -> None:
        self.nice = lower_thread_priority(self._increment)
        while True:
            _, _, job, future = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, whatever it is
                future.set_exception(exc)
