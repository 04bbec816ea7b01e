"""Admin views: the audit trail, the accounts and their sign-in sessions, and deleting one conversation."""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import DateField, Form, SelectField, StringField
from wtforms.validators import Length, Optional

from webapp import audit, sessions
from webapp.admin import bp
from webapp.counsellor import queries
from webapp.counsellor.display import KST
from webapp.counsellor.forms import reason_field
from webapp.counsellor.retention import delete_conversation
from webapp.db import AuditEvent, Conversation, User, UserSession, db
from webapp.extensions import get_audio_store

PER_PAGE = 50


class AuditFilterForm(Form):
    """Filters of the audit log page (GET parameters, no CSRF token: it changes nothing)."""

    user = StringField("계정(이메일)", validators=[Optional(), Length(max=254)])
    action = SelectField("한 일", choices={"": "모두", **audit.ACTIONS}, default="", validators=[Optional()])
    date_from = DateField("시작일", validators=[Optional()])
    date_to = DateField("종료일", validators=[Optional()])
    conversation = StringField("대화 ID", validators=[Optional(), Length(max=32)])


class DeleteForm(FlaskForm):
    """The confirmation of a conversation's deletion, with the required reason."""

    reason = reason_field("지우는 사유 (예: 내담자 본인의 삭제 요청)")


@bp.get("/")
def index() -> Response:
    """The admin home: straight on to the audit log."""
    return redirect(url_for(".audit_log"))


@bp.get("/audit")
def audit_log() -> str:
    """The audit trail, newest first, filtered by account, action and KST dates (bad filters dropped, with a note)."""
    form = AuditFilterForm(request.args)
    valid = form.validate()
    if not valid:
        flash("거르기 조건 중 알아볼 수 없는 값이 있어서 빼고 보여 드려요.")
    data = form.data if valid else {}
    query = sa.select(AuditEvent)
    if data.get("user"):
        query = query.where(AuditEvent.user_email.icontains(data["user"].strip(), autoescape=True))
    if data.get("action"):
        query = query.where(AuditEvent.action == data["action"])
    if data.get("date_from"):
        query = query.where(AuditEvent.at >= datetime.combine(data["date_from"], time.min, tzinfo=KST))
    if data.get("date_to"):
        end = datetime.combine(data["date_to"] + timedelta(days=1), time.min, tzinfo=KST)
        query = query.where(AuditEvent.at < end)
    if data.get("conversation"):
        query = query.where(AuditEvent.conversation_id.startswith(data["conversation"].strip(), autoescape=True))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    page = max(1, request.args.get("page", 1, type=int) or 1)
    events = db.session.scalars(
        query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    shown_filters = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items() if v}
    audit.record("view_audit", detail={"filters": shown_filters, "page": page})
    db.session.commit()
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "admin/audit.html",
        form=form,
        events=events,
        page=page,
        pages=max(1, math.ceil(total / PER_PAGE)),
        total=total,
        args=args,
        actions=audit.ACTIONS,
        detail_names=audit.DETAIL_NAMES,
        value_names=audit.VALUE_NAMES,
    )


@bp.get("/users")
def users() -> str:
    """Every counsellor and admin account (admins first); viewing the list is itself audited."""
    accounts = db.session.scalars(sa.select(User).order_by(User.role.desc(), User.email)).all()
    audit.record("view_users", commit=True)
    return render_template("admin/users.html", accounts=accounts)


def _account(user_id: str) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/users/<user_id>/sessions")
def user_sessions(user_id: str) -> str:
    """An account's latest sign-in sessions, live ones first, each with a button that ends it."""
    user = _account(user_id)
    lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"]
    rows = sessions.recent_sessions(user)
    audit.record("view_sessions", detail={"account": user.email}, commit=True)
    return render_template(
        "admin/sessions.html",
        account=user,
        rows=rows,
        idle={row.id for row in rows if row.ended_at is None and sessions.is_idle(row, lifetime)},
        reasons=sessions.END_REASONS,
    )


@bp.post("/users/<user_id>/sessions/<session_id>/end")
def end_session(user_id: str, session_id: str) -> Response:
    """End one of an account's sign-in sessions (that browser must sign in again); 404 for another account's session."""
    user = _account(user_id)
    row = db.session.get(UserSession, session_id)
    if row is None or row.user_id != user.id:
        abort(404)
    if sessions.end(row, "admin"):
        db.session.commit()
        flash("그 세션을 끝냈어요. 그 브라우저는 다시 로그인해야 해요.")
    else:
        flash("이미 끝난 세션이에요.")
    return redirect(url_for(".user_sessions", user_id=user.id))


@bp.post("/users/<user_id>/sessions/end")
def end_all_sessions(user_id: str) -> Response:
    """End every live session of an account at once, e.g. after a lost phone."""
    user = _account(user_id)
    ended = sessions.end_all(user, "admin")
    db.session.commit()
    flash(f"{user.email}의 세션 {ended}개를 모두 끝냈어요.")
    return redirect(url_for(".user_sessions", user_id=user.id))


@bp.route("/conversations/<conversation_id>/delete", methods=["GET", "POST"])
def delete(conversation_id: str) -> Any:
    """Confirm (GET) and delete (POST, with a reason) a conversation and all its audio; the audit log keeps it."""
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None:
        abort(404)
    form = DeleteForm()
    if form.validate_on_submit():
        files = delete_conversation(
            get_audio_store(),
            conversation_id,
            action="delete_conversation",
            detail={"reason": (form.reason.data or "").strip()},
        )
        current_app.logger.info("conversation %s deleted on request (%d audio files)", conversation_id, files)
        flash("대화와 음성 파일을 모두 지웠어요. 지운 기록은 접근 기록에 남아 있어요.")
        return redirect(url_for("counsellor.index"))
    summary = queries.summary_of(conversation_id)
    status = 400 if form.is_submitted() else 200
    return render_template("admin/delete.html", conversation=conversation, summary=summary, form=form), status
