"""One shared Kiwi morphological analyser per process (kiwipiepy ships its model offline).

Kiwi takes about a second and ~100 MB to build, and several parts of Maum (reply reflection,
standard pronunciation) need it, so they share this instance; building it is guarded by a lock.
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
