"""Limits on what a request body may hold, checked before anything parses it.

Python's ``json`` module recurses once per nested array or object, so a body like ``[[[[...]]]]``
100,000 deep raises ``RecursionError`` (a 500) inside any view that reads JSON. ``LimitedRequest``
gives Flask a JSON reader that first refuses bodies larger than ``MAUM_MAX_JSON_BYTES`` and then
measures the nesting with one linear scan (no recursion) before ``json.loads`` ever sees it: bodies
deeper than ``MAUM_MAX_JSON_DEPTH`` get 400 ``json_too_deep``. Both errors are ``ApiError``, not
``ValueError``, so ``get_json(silent=True)`` does not hide them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, request
from flask import json as flask_json
from flask.wrappers import Request

from webapp.errors import ApiError
from webapp.extensions import get_settings

JSON_TOO_LARGE = ("json_too_large", "보내신 내용이 너무 길어요. 조금 짧게 나누어 보내 주시겠어요?")
JSON_TOO_DEEP = ("json_too_deep", "보내신 내용의 구조가 너무 복잡해서 읽을 수 없어요. 다시 보내 주시겠어요?")

#: Characters that open or close a value or a string, or escape inside one.
_STRUCTURAL = re.compile(r'[\[\]{}"\\]')


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether ``text`` nests arrays and objects deeper than ``limit`` (brackets inside strings do not count).

    One pass over the structural characters only; malformed text is measured as far as it goes
    (``json.loads`` reports it afterwards).
    """
    depth = 0
    in_string = False
    skip_to = -1
    for match in _STRUCTURAL.finditer(text):
        i = match.start()
        if i < skip_to:
            continue  # the character after a backslash
        c = text[i]
        if in_string:
            if c == "\\":
                skip_to = i + 2
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > limit:
                return True
        elif c in "]}":
            depth -= 1
    return False


def _settings() -> Any:
    return get_settings()


def load_request_json(data: str | bytes) -> Any:
    """Parse a request body as JSON within the size and depth limits.

    Raises:
        ApiError: 400 ``json_too_large`` or ``json_too_deep``.
        ValueError: the body is not JSON (Flask turns it into ``None`` or a 400).
    """
    settings = _settings()
    if len(data) > settings.max_json_bytes:
        raise ApiError(400, *JSON_TOO_LARGE, detail=f"{len(data)} bytes")
    text = data.decode(json.detect_encoding(data)) if isinstance(data, bytes) else data
    if json_depth_exceeds(text, settings.max_json_depth):
        raise ApiError(400, *JSON_TOO_DEEP, detail=f"deeper than {settings.max_json_depth}")
    try:
        return json.loads(text)
    except RecursionError as exc:  # cannot happen below the depth limit; never let it become a 500
        raise ApiError(400, *JSON_TOO_DEEP, detail="recursion") from exc


class _LimitedJSON:
    """What ``Request.json_module`` must offer: the app's ``dumps``, and ``loads`` with the limits."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return load_request_json(s)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return self._provider.dumps(obj, **kwargs)


class LimitedRequest(Request):
    """Flask's request whose ``get_json`` parses within ``MAUM_MAX_JSON_BYTES`` and ``MAUM_MAX_JSON_DEPTH``."""

    _json_provider: Any = flask_json

    @property  # type: ignore[override]
    def json_module(self) -> Any:
        """The JSON module ``get_json`` uses: Flask's, with ``loads`` checked against the limits first."""
        return _LimitedJSON(self._json_provider)

    @json_module.setter
    def json_module(self, provider: Any) -> None:
        # Flask assigns ``app.json`` here for every request; keep it for ``dumps``, wrap ``loads``.
        self._json_provider = provider


def _refuse_large_json() -> None:
    # A declared length is checked before the body is read at all.
    length = request.content_length
    if request.is_json and length is not None and length > _settings().max_json_bytes:
        raise ApiError(400, *JSON_TOO_LARGE, detail=f"Content-Length {length}")


def register(app: Flask) -> None:
    """Make ``app`` parse JSON bodies within the limits."""
    app.request_class = LimitedRequest
    app.before_request(_refuse_large_json)
