"""``/healthz``: the process answers. ``/readyz``: every model is loaded and the database answers.

``/readyz`` loads the pipeline's backends on its first call, so pointing a readiness probe at it
warms a fresh worker before clients reach it.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Response, current_app, jsonify

from webapp.db import db
from webapp.errors import error_body
from webapp.health import bp

log = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = {
    "code": "database_unavailable",
    "message": "대화 기록을 저장할 수 없는 상태예요. 잠시 후에 다시 시도해 주세요.",
}


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response | tuple[Response, int]:
    pipeline = current_app.extensions["maum.pipeline"]
    try:
        pipeline.load_all()
    except Exception as exc:
        log.exception("not ready: a pipeline backend failed to load")
        return jsonify(status="unavailable", error=error_body(exc)[1]["error"]), 503
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:
        log.exception("not ready: the database does not answer")
        db.session.rollback()
        return jsonify(status="unavailable", error=DATABASE_UNAVAILABLE), 503
    return jsonify(status="ready", backends=pipeline.backend_names())
