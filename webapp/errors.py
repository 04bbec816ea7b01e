"""Every error the app answers with, in one place.

``describe_error`` turns any exception into ``(status, code, message)``: a stable English
``code`` for programs and a warm Korean ``message`` for people. ``register`` installs one handler
for the whole app that answers JSON (``{"error": {"code", "message"}}``) under ``/api`` and the
health checks, and a Korean HTML page elsewhere. No stack trace ever reaches a client; unexpected
errors are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import sqlalchemy.exc as sa_exc
from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from pipeline.care.safety_net import HOTLINES_NOTE
from pipeline.errors import AudioTooLargeError, BackendError, PipelineError
from webapp.domain_errors import (
    DomainError,
    PracticeSentenceUnknown,
    PracticeTextNotKorean,
    SpeechUnavailable,
    TurnConflict,
)

log = logging.getLogger(__name__)

#: Blueprints whose errors are JSON; any path under ``/api/`` is JSON too, even an unknown one.
JSON_BLUEPRINTS = frozenset({"api", "health"})

INTERNAL_ERROR = ("internal_error", "잠시 문제가 생겼어요. 조금 뒤에 다시 시도해 주세요. " + HOTLINES_NOTE)

#: The database cannot be reached, is locked, too slow, or lacks its tables: 503, never a 500.
DATABASE_UNAVAILABLE = (
    "database_unavailable",
    "지금은 대화를 저장할 수 없어서 답을 드리지 못했어요. 잠시 후에 다시 시도해 주세요. " + HOTLINES_NOTE,
)

#: Endpoints a client in crisis may be talking to: every error message they get carries the hotlines.
CRISIS_ENDPOINTS = frozenset({"api.create_turn"})

#: PostgreSQL SQLSTATEs of a schema that is missing or behind the code (undefined table, column).
SCHEMA_SQLSTATES = frozenset({"42P01", "42703"})
# A read-only database (hot standby, default_transaction_read_only).
_READ_ONLY_SQLSTATE = "25006"

#: HTTP status → (code, message) for errors Flask and Werkzeug raise.
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "요청을 이해하지 못했어요. 페이지를 새로 고친 뒤 다시 시도해 주세요."),
    401: ("unauthorized", "대화에 다시 연결해야 해요. 페이지를 새로 고쳐 새 대화를 시작해 주세요."),
    403: ("forbidden", "이 내용은 볼 수 없어요."),
    404: ("not_found", "찾으시는 내용이 없어요. 주소를 다시 확인해 주세요."),
    405: ("method_not_allowed", "이 주소에서는 할 수 없는 요청이에요."),
    409: ("conflict", "메시지가 한꺼번에 도착했어요. 잠시 후에 다시 보내 주시겠어요?"),
    413: ("payload_too_large", "보내신 내용이 너무 커요. 조금 짧게 나누어 보내 주시겠어요?"),
    415: ("unsupported_media_type", '녹음 파일(audio)이나 글({"text": ...} JSON)로 보내 주세요.'),
    429: ("too_many_requests", "요청이 너무 많아요. 잠시 쉬었다가 다시 시도해 주세요."),
    500: INTERNAL_ERROR,
    503: ("unavailable", "지금은 준비 중이에요. 잠시 후에 다시 시도해 주세요."),
}


#: Each service (domain) error → the HTTP status it answers with (the code and message follow the
#: status), or → its own ``(status, code, message)``.
DOMAIN_ERRORS: dict[type[DomainError], int | tuple[int, str, str]] = {
    TurnConflict: 409,
    PracticeSentenceUnknown: (400, "practice_sentence_unknown", "연습 문장을 찾을 수 없어요. 문장을 다시 골라 주세요."),
    PracticeTextNotKorean: (400, "practice_text_not_korean", "한국어 문장을 적어 주세요."),
    SpeechUnavailable: (503, "synthesis_failed", "지금은 문장을 읽어 드릴 수 없어요."),
}


class ApiError(Exception):
    """An error a view raises on purpose, with its status, stable code and Korean message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str | None = None,
        *,
        detail: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message if message is not None else HTTP_ERRORS.get(status, INTERNAL_ERROR)[1]
        self.detail = detail  # English, for logs only
        self.headers = dict(headers or {})  # sent with the error, e.g. Retry-After on 429
        super().__init__(f"{status} {code}: {detail or self.message}")


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot serve now (down, timed out, locked, tables missing)."""
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True  # connect/statement timeouts, "database is locked", SQLite's "no such table", a full pool
    if isinstance(exc, sa_exc.ProgrammingError | sa_exc.InternalError):
        return getattr(exc.orig, "sqlstate", None) in SCHEMA_SQLSTATES | {_READ_ONLY_SQLSTATE}
    return type(exc) is sa_exc.DatabaseError  # e.g. SQLite's "file is not a database"


def is_schema_missing(exc: BaseException) -> bool:
    """Whether a database error says a table or column does not exist (schema missing or behind)."""
    orig = getattr(exc, "orig", None)
    return (
        getattr(orig, "sqlstate", None) in SCHEMA_SQLSTATES
        or "no such table" in str(orig)
        or "no such column" in str(orig)
    )


def describe_error(exc: BaseException) -> tuple[int, str, str]:
    """``(HTTP status, code, Korean message)`` for any exception."""
    if is_database_unavailable(exc):
        return 503, *DATABASE_UNAVAILABLE
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message
    if isinstance(exc, DomainError):
        answer = next((a for kind, a in DOMAIN_ERRORS.items() if isinstance(exc, kind)), 500)
        if isinstance(answer, tuple):
            return answer
        return answer, *HTTP_ERRORS.get(answer, INTERNAL_ERROR)
    if isinstance(exc, PipelineError):
        if isinstance(exc, BackendError):
            status = 503  # a model failed to load or run: not the client's fault
        elif isinstance(exc, AudioTooLargeError):
            status = 413
        else:
            status = 400
        return status, exc.code, exc.message
    if isinstance(exc, HTTPException) and exc.code is not None:
        code, message = HTTP_ERRORS.get(exc.code, (f"http_{exc.code}", HTTP_ERRORS[500][1]))
        return exc.code, code, message
    return 500, *INTERNAL_ERROR


def error_body(exc: BaseException) -> tuple[int, dict[str, dict[str, str]]]:
    """``(status, {"error": {"code", "message"}})`` for any exception."""
    status, code, message = describe_error(exc)
    return status, {"error": {"code": code, "message": message}}


def wants_json() -> bool:
    """Whether the current request should get errors as JSON rather than as a page."""
    return request.blueprint in JSON_BLUEPRINTS or request.path == "/api" or request.path.startswith("/api/")


def handle_error(exc: Exception) -> Response:
    """Answer ``exc`` as JSON (API, health) or as a Korean page, with its status and no internals."""
    status, body = error_body(exc)
    _log(exc, status)
    if request.endpoint in CRISIS_ENDPOINTS and HOTLINES_NOTE not in body["error"]["message"]:
        body["error"]["message"] += " " + HOTLINES_NOTE
    if wants_json():
        response = jsonify(body)
        response.status_code = status
    else:
        template = f"errors/{status}.html" if status in (404, 500) else "errors/error.html"
        response = Response(
            render_template(template, status=status, message=body["error"]["message"], path=request.path),
            status=status,
            mimetype="text/html",
        )
    if isinstance(exc, HTTPException):
        # Keep what the protocol needs (e.g. ``Allow`` on 405), not Werkzeug's HTML content type.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
    if isinstance(exc, ApiError):
        response.headers.update(exc.headers)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="maum"'
    return response


def _log(exc: Exception, status: int) -> None:
    if is_database_unavailable(exc):
        log.error(
            "%s %s -> 503 database unavailable: %s", request.method, request.path, exc.__class__.__name__, exc_info=exc
        )
    elif status >= 500:
        if isinstance(exc, HTTPException) and not isinstance(exc.__cause__ or exc.__context__, Exception):
            log.error("%s %s -> %s", request.method, request.path, status)
        else:
            log.error("%s %s -> %s", request.method, request.path, status, exc_info=exc)
    elif isinstance(exc, PipelineError | ApiError):
        log.info("%s %s -> %s %s (%s)", request.method, request.path, status, exc.code, exc.detail or "-")
    elif isinstance(exc, DomainError):
        log.info("%s %s -> %s %s (%s)", request.method, request.path, status, type(exc).__name__, exc.detail or "-")


def register(app: Flask) -> None:
    """Answer every error of ``app`` through ``handle_error``."""
    app.register_error_handler(HTTPException, handle_error)
    app.register_error_handler(Exception, handle_error)
