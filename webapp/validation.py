"""What the API accepts as text and as form fields, in one place that the OpenAPI document repeats.

The OpenAPI document (``webapp/api/openapi.json``) states these rules as JSON Schema (``pattern``,
``maxLength``, ``additionalProperties: false``, ``enum``) and ``tests/test_api_fuzz.py`` has
schemathesis check that the server accepts exactly what the document calls valid. A rule here and
its schema must therefore say the same thing; ``tests/test_openapi.py`` compares them.

Why a list of characters rather than "not blank": the pipeline drops control, format, private-use
and unassigned characters and collapses spaces (``pipeline.turn.clean_text``), which no short
regular expression can express. A message must instead contain at least one character that surely
survives: printable ASCII, Latin-1 letters, Hangul (syllables and jamo), hanja, common punctuation,
arrows, symbols, enclosed numbers and emoji. Messages made only of other scripts or invisible
characters get the same 400 ``text_empty`` as an empty one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.errors import EmptyTextError, TextTooLongError
from webapp.errors import ApiError

#: A typed message must contain one of these (JSON Schema ``pattern``, searched anywhere).
VISIBLE_TEXT_PATTERN = (
    "[!-~\u00a1-\u00ac\u00ae-\u00ff\u1100-\u11ff\u2010-\u2027\u2030-\u205e\u2190-\u23ff\u2460-\u24ff"
    "\u25a0-\u27bf\u3001-\u303f\u3131-\u318e\u3200-\u321e\u4e00-\u9fff\uac00-\ud7a3\uff01-\uff60"
    "\U0001f300-\U0001f64f\U0001f900-\U0001f9ff]"
)

#: A practice sentence must contain a Hangul syllable.
HANGUL_PATTERN = "[가-힣]"

_VISIBLE = re.compile(VISIBLE_TEXT_PATTERN)
_HANGUL = re.compile(HANGUL_PATTERN)

UNEXPECTED_FIELD_MESSAGE = "알 수 없는 항목이 함께 왔어요. 페이지를 새로 고친 뒤 다시 보내 주시겠어요?"


def check_message_text(raw: Any, max_chars: int) -> str:
    """Return ``raw`` when it is a message the API accepts, else raise the pipeline's text errors.

    Raises:
        ApiError: not a string (400 ``text_invalid``).
        TextTooLongError: more than ``max_chars`` characters as sent.
        EmptyTextError: no visible character (see ``VISIBLE_TEXT_PATTERN``).
    """
    if not isinstance(raw, str):
        raise ApiError(400, "text_invalid", "하고 싶은 말을 글로 적어 보내 주시겠어요?")
    if len(raw) > max_chars:
        raise TextTooLongError(max_chars)
    if not _VISIBLE.search(raw):
        raise EmptyTextError()
    return raw


def check_practice_text(raw: Any, max_chars: int) -> str:
    """Return ``raw`` when it is a practice sentence the API accepts (Korean, at most ``max_chars``).

    Raises:
        ApiError: 400 ``practice_text_missing`` or ``practice_text_not_korean``.
        TextTooLongError: more than ``max_chars`` characters as sent.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(400, "practice_text_missing", "읽을 문장을 고르거나 적어 주세요.")
    if len(raw) > max_chars:
        raise TextTooLongError(max_chars)
    if not _HANGUL.search(raw):
        raise ApiError(400, "practice_text_not_korean", "한국어 문장을 적어 주세요.")
    return raw


def refuse_unexpected_fields(received: Iterable[str], allowed: Iterable[str]) -> None:
    """Raise 400 ``unexpected_field`` when a JSON object or form carries a field the API does not know."""
    unexpected = sorted(set(received) - set(allowed))
    if unexpected:
        raise ApiError(400, "unexpected_field", UNEXPECTED_FIELD_MESSAGE, detail=f"unexpected {unexpected}")


def form_fields(form: Mapping[str, Any], files: Mapping[str, Any]) -> set[str]:
    """Every field name of a multipart body, text fields and files alike."""
    return set(form.keys()) | set(files.keys())
