"""One shared Kiwi morphological analyser per process (kiwipiepy ships its model offline).

Kiwi takes about a second and ~100 MB to build, and several parts of Maum (reply reflection,
the care layer's check of a reply against the client's words, standard pronunciation, the
counsellor's summary) need it, so they share this instance; building it is guarded by a lock.

Unlike the e5 embedder (``Pipeline.embedder``), Kiwi is not handed out by the ``Pipeline``: its
main user is ``pipeline.pronunciation.g2p``, whose cached pure functions (``pronounce``) serve
TTS text, scoring and the practice page and hold no object to hand a model to. A second,
Pipeline-held instance beside this one would double its memory in every worker, so there is
exactly one per process, here. Kiwi is stateless between calls, so sharing it is safe.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

_lock = threading.Lock()
_kiwi: Kiwi | None = None


def kiwi() -> Kiwi:
    """Return the process-wide Kiwi, building it on first use."""
    global _kiwi
    if _kiwi is None:
        with _lock:
            if _kiwi is None:
                from kiwipiepy import Kiwi

                _kiwi = Kiwi()
    return _kiwi
