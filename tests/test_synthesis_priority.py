"""The synthesis worker: urgent clips before background sentences, errors handed back, a lower OS priority."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from pipeline.speech.priority import (
    BACKGROUND,
    URGENT,
    PriorityWorker,
    background_synthesis,
    current_priority,
)


def test_background_block_sets_and_restores_the_priority():
    assert current_priority() == URGENT
    with background_synthesis():
        assert current_priority() == BACKGROUND
    assert current_priority() == URGENT


def test_urgent_jobs_overtake_queued_background_jobs():
    worker = PriorityWorker("test-priority")
    release, started = threading.Event(), threading.Event()
    order: list[str] = []

    def blocker():
        started.set()
        release.wait(5)
        return "blocker"

    def submit(name: str, background: bool) -> threading.Thread:
        def job():
            order.append(name)

        def ask():
            if background:
                with background_synthesis():
                    worker.call(job)
            else:
                worker.call(job)

        thread = threading.Thread(target=ask)
        thread.start()
        return thread

    first = threading.Thread(target=worker.call, args=(blocker,))
    first.start()
    assert started.wait(5)
    waiting = [submit("background-1", True), submit("background-2", True)]
    while worker._queue.qsize() < 2:  # both queued behind the running job
        threading.Event().wait(0.01)
    waiting.append(submit("urgent", False))
    while worker._queue.qsize() < 3:
        threading.Event().wait(0.01)
    release.set()
    for thread in [first, *waiting]:
        thread.join(5)
    assert order == ["urgent", "background-1", "background-2"]


def test_a_failing_job_raises_in_the_caller_and_the_worker_goes_on():
    worker = PriorityWorker("test-priority-errors")

    def broken():
        raise RuntimeError("model failed")

    with pytest.raises(RuntimeError, match="model failed"):
        worker.call(broken)
    assert worker.call(lambda: 42) == 42


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_the_worker_and_the_threads_it_starts_run_at_a_lower_priority():
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    worker = PriorityWorker("test-priority-nice", nice_increment=5)
    seen: dict[str, int] = {}

    def child():
        seen["child"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def job():
        seen["worker"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        thread = threading.Thread(target=child)  # as onnxruntime's pool threads are started
        thread.start()
        thread.join()

    worker.call(job)
    expected = min(19, before + 5)
    assert seen == {"worker": expected, "child": expected}
    assert worker.nice == expected
    # The caller's own thread keeps its priority.
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
