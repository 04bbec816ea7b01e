"""Errors the web app's services raise, free of any web framework.

The service modules (``conversations.py`` and the like) say what went wrong in their own terms;
``webapp/errors.py`` alone decides the HTTP status, stable code and Korean message of each
(``DOMAIN_ERRORS`` there), so a service never needs Flask to report a failure.
"""

from __future__ import annotations


class DomainError(Exception):
    """A failure of a service that the client should hear about.

    Attributes:
        detail: English, for the logs only; never shown to a client.
    """

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.__class__.__name__)
        self.detail = detail


class TurnConflict(DomainError):
    """Another turn of the same conversation was stored at the same moment (a race between two sends)."""


class PracticeSentenceUnknown(DomainError):
    """The practice sentence id names no sentence of the practice sets."""


class PracticeTextNotKorean(DomainError):
    """A practice sentence has nothing that can be read in Korean."""


class SpeechUnavailable(DomainError):
    """The synthesizer could not speak a practice sentence just now."""
