"""The Kiwi morphological analyser (kiwipiepy ships its model offline), and caches kept per analyser.

Kiwi takes seconds and ~100 MB to build, and several parts of Maum need it: standard
pronunciation (``pipeline.pronunciation.g2p``, so TTS text, scoring and the practice page), the
care layer's check of a reply against the client's words and its reflection of them, and the
counsellor's summary. In the app the analyser belongs to the ``Pipeline`` (``Pipeline.kiwi``, one
per worker), which hands it to each of them; ``shared_kiwi`` is the same for command lines,
training scripts and tests that run without a ``Pipeline``. Kiwi is stateless between calls, so
one instance serves every thread.

Functions that remember analyses of a text take the analyser as their first argument and cache
with ``cached_per_analyser``: one cache per analyser, held weakly, so two analysers' results never
mix.

No Kiwi built here is ever freed (``_built``): with kiwipiepy 0.24.1, a discarded Pipeline's Kiwi
freed by the garbage collector made a later collection crash the interpreter (a segmentation fault
in the test suite, gone when the Kiwi was kept). A worker builds one and keeps it anyway; a script
that makes several pipelines keeps one Kiwi (~100 MB) per pipeline it made.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

_lock = threading.Lock()
_shared: Kiwi | None = None
_built: list[Kiwi] = []  # every Kiwi ``load_kiwi`` made, never freed (see the module docstring)

F = TypeVar("F", bound=Callable[..., Any])


def load_kiwi() -> Kiwi:
    """Build a new Kiwi (seconds), kept for the life of the process; ``Pipeline.kiwi`` calls this once per pipeline."""
    from kiwipiepy import Kiwi

    kiwi = Kiwi()
    _built.append(kiwi)  # list.append is atomic; shared_kiwi calls this under _lock
    return kiwi


def shared_kiwi() -> Kiwi:
    """One Kiwi for code that runs without a ``Pipeline`` (scripts, tests), built on first use."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = load_kiwi()
    return _shared


def cached_per_analyser(maxsize: int) -> Callable[[F], F]:
    """``functools.lru_cache`` for ``fn(kiwi, *args)``, with one cache of ``maxsize`` per analyser.

    Each cache holds its analyser weakly: it goes when the analyser does. ``kiwi`` must not be
    None (resolve a default before calling).
    """

    def decorate(fn: F) -> F:
        caches: weakref.WeakKeyDictionary[Any, Callable[..., Any]] = weakref.WeakKeyDictionary()
        lock = threading.Lock()

        @functools.wraps(fn)
        def cached(kiwi: Any, *args: Any) -> Any:
            per_kiwi = caches.get(kiwi)
            if per_kiwi is None:
                with lock:
                    per_kiwi = caches.get(kiwi)
                    if per_kiwi is None:
                        ref = weakref.ref(kiwi)

                        @functools.lru_cache(maxsize=maxsize)
                        def per_kiwi(*key: Any) -> Any:
                            return fn(ref(), *key)

                        caches[kiwi] = per_kiwi
            return per_kiwi(*args)

        return cached  # type: ignore[return-value]

    return decorate
