"""Counsellor views: the list, one conversation (turns, audio, chart, notes, review), and export.

Every view is behind ``webapp.auth.guard`` (signed in; CSRF token on posts) and records what was
seen or done in the audit trail.
"""

from __future__ import annotations

import io
import math
import secrets
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from pipeline.care.conversation import SIGNAL_NAMES_KO, CareState
from pipeline.care.facts import EVENTS
from pipeline.care.screening import ANSWER_NAMES_KO, QUESTION_NAMES_KO
from pipeline.types import EMOTION_LABELS
from webapp import audit
from webapp.auth import returns_data
from webapp.counsellor import bp, export, queries
from webapp.counsellor.display import emotion_name, format_kst, iso_kst
from webapp.counsellor.forms import ExportForm, FilterForm, NoteForm, ReviewForm
from webapp.counsellor.summary import summarize
from webapp.db import AlertNotice, Conversation, Note, Turn, db, new_id, utcnow
from webapp.extensions import get_audio_store, get_pipeline
from webapp.storage import mimetype_for, read_audio

#: Most conversations one export may hold; a longer list asks for narrower filters.
MAX_EXPORT_CONVERSATIONS = 2000


def _filters_from(values: Any) -> tuple[queries.Filters, FilterForm]:
    form = FilterForm(values)
    if not form.validate():
        flash("거르기 조건 중 알아볼 수 없는 값이 있어서 빼고 보여 드려요.")
        return queries.Filters(), form
    return queries.Filters.from_mapping(form.data), form


def _conversation_or_404(conversation_id: str, *, with_everything: bool = False) -> Conversation:
    query = sa.select(Conversation).where(Conversation.id == conversation_id)
    if with_everything:
        query = query.options(
            selectinload(Conversation.turns),
            selectinload(Conversation.notes).selectinload(Note.author),
            selectinload(Conversation.reviewed_by),
        )
    conversation = db.session.scalar(query)
    if conversation is None:
        abort(404)
    return conversation


@bp.get("/")
def index() -> str:
    """The conversation list for counsellors: unreviewed high-risk ones pinned on top, then latest first; audited."""
    filters, form = _filters_from(request.args)
    page_number = request.args.get("page", 1, type=int) or 1
    page = queries.list_page(filters, page_number)
    audit.record("view_list", detail={"filters": filters.as_args(), "page": page.page, "shown": len(page.items)})
    db.session.commit()
    return render_template(
        "counsellor/list.html",
        form=form,
        filters=filters,
        page=page,
        alerts=queries.alert_count(),
    )


def axis_max(scores: Any) -> float:
    """Top of the chart's score axis: the highest score rounded up to a tenth, at least 0.5 and at most 1."""
    highest = max((float(s) for s in scores), default=0.0)
    return min(1.0, max(0.5, math.ceil(round(highest * 10, 6)) / 10))


def chart_data(conversation: Conversation) -> dict[str, Any]:
    """What ``static/counsellor.js`` draws: one line per emotion over the turns, and where risk was high."""
    turns = conversation.turns
    return {
        "y_max": axis_max(float(v) for t in turns for v in t.emotion_scores.values()),
        "labels": [f"{t.index + 1}번째 · {format_kst(t.created_at, '%H:%M')}" for t in turns],
        "risk": [t.risk_level for t in turns],
        "dominant": [emotion_name(t.emotion_label) for t in turns],
        "series": [
            {
                "label": label,
                "name": emotion_name(label),
                "scores": [round(float(t.emotion_scores.get(label, 0.0)), 4) for t in turns],
            }
            for label in EMOTION_LABELS
        ],
    }


def care_view(conversation: Conversation) -> dict[str, Any]:
    """The conversation's care state as the page shows it: level, categories, reasons, screening, facts."""
    state = CareState.from_json(conversation.care_state)
    return {
        "level": state.level,
        "categories": list(state.categories),
        "reasons": list(state.reasons),
        "signals": [
            {"name": SIGNAL_NAMES_KO.get(s.kind, s.kind), "turn": s.turn + 1, "said": s.said} for s in state.signals
        ],
        "screening": [
            {
                "name": QUESTION_NAMES_KO.get(item.key, item.key),
                "question": item.question,
                "turn": item.turn + 1,
                "answer": ANSWER_NAMES_KO.get(item.answer, "아직 답하지 않았어요"),
                "answer_text": item.answer_text,
            }
            for item in state.screening
        ],
        "facts": [
            {"turn": f.turn + 1, "said": f.said, "summary": f.reference()} for f in state.facts if f.event in EVENTS
        ],
        "known": conversation.care_state is not None,
    }


@bp.get("/conversations/<conversation_id>")
def conversation(conversation_id: str) -> str:
    """One conversation in full: turns with audio, emotion over time, care state, alerts and notes; audited."""
    conversation = _conversation_or_404(conversation_id, with_everything=True)
    summary = queries.summary_of(conversation.id)
    audit.record("view_conversation", conversation_id=conversation.id)
    db.session.commit()
    return render_template(
        "counsellor/detail.html",
        conversation=conversation,
        summary=summary,
        overview=summarize(conversation, kiwi=get_pipeline().kiwi),
        notices=db.session.scalars(
            sa.select(AlertNotice)
            .where(AlertNotice.conversation_id == conversation.id)
            .order_by(AlertNotice.created_at, AlertNotice.channel)
        ).all(),
        chart=chart_data(conversation),
        care=care_view(conversation),
        note_form=NoteForm(),
        review_form=ReviewForm(),
        alerts=queries.alert_count(),
    )


def _audits_this_fetch() -> bool:
    """Record a play once: when the request starts at the first byte (players fetch the rest in ranges)."""
    ranges = request.range
    return ranges is None or not ranges.ranges or ranges.ranges[0][0] == 0


@bp.get("/conversations/<conversation_id>/turns/<turn_id>/audio/<any(user, reply):which>")
@returns_data
def turn_audio(conversation_id: str, turn_id: str, which: str) -> Response:
    """A turn's recording or reply audio for a counsellor, in ranges for the player; each play is audited once."""
    turn = db.session.get(Turn, turn_id)
    if turn is None or turn.conversation_id != conversation_id:
        abort(404)
    rel_path = turn.user_audio_path if which == "user" else turn.reply_audio_path
    if not rel_path:
        abort(404)
    data = read_audio(get_audio_store(), turn.id, rel_path)
    if data is None:
        abort(404)
    if _audits_this_fetch():
        audit.record("play_audio", conversation_id=conversation_id, detail={"turn": turn.index + 1, "which": which})
        db.session.commit()
    return send_file(io.BytesIO(data), mimetype=mimetype_for(rel_path), conditional=True, etag=False)


@bp.post("/conversations/<conversation_id>/review")
def review(conversation_id: str) -> Response:
    """Mark a conversation as reviewed by the signed-in counsellor (the client's last activity time stays)."""
    conversation = _conversation_or_404(conversation_id)
    if ReviewForm().validate_on_submit():
        now = utcnow()
        # updated_at is the client's last activity: a review must not move it.
        db.session.execute(
            sa.update(Conversation)
            .where(Conversation.id == conversation.id)
            .values(reviewed_at=now, reviewed_by_id=current_user.id, updated_at=Conversation.updated_at)
        )
        audit.record("review", conversation_id=conversation.id)
        db.session.commit()
        flash("확인했다고 표시했어요.")
    return redirect(url_for(".conversation", conversation_id=conversation.id))


@bp.post("/conversations/<conversation_id>/notes")
def add_note(conversation_id: str) -> Response:
    """Add the signed-in counsellor's note to a conversation; form errors come back as messages."""
    conversation = _conversation_or_404(conversation_id)
    form = NoteForm()
    if form.validate_on_submit():
        note = Note(id=new_id(), conversation_id=conversation.id, author_id=current_user.id, body=form.body.data or "")
        db.session.add(note)
        audit.record("note", conversation_id=conversation.id, detail={"note": note.id})
        db.session.commit()
        flash("메모를 남겼어요.")
    else:
        for errors in form.errors.values():
            for error in errors:
                flash(str(error))
    return redirect(url_for(".conversation", conversation_id=conversation.id, _anchor="notes"))


def _export_scope(form: ExportForm) -> tuple[queries.Filters, str | None]:
    """The list filters and/or the single conversation an export form names."""
    try:
        filters = queries.Filters.from_mapping(
            {name: getattr(form, name).data for name in ("date_from", "date_to", "risk", "emotion", "reviewed", "q")}
        )
    except ValueError:
        abort(400)
    return filters, (form.conversation.data or None)


@bp.route("/export", methods=["GET", "POST"])
def export_view() -> Any:
    """Choose (GET) and download (POST) an export of one conversation or of those matching the filters."""
    form = ExportForm(formdata=request.form if request.method == "POST" else request.args)
    filters, conversation_id = _export_scope(form)
    if conversation_id is not None:
        ids = [conversation_id] if db.session.get(Conversation, conversation_id) is not None else []
    else:
        ids = queries.matching_ids(filters)
    too_many = len(ids) > MAX_EXPORT_CONVERSATIONS
    if request.method == "POST" and form.validate() and ids and not too_many:
        return _send_export(form, filters, conversation_id, ids)
    status = 400 if request.method == "POST" else 200
    return (
        render_template(
            "counsellor/export.html",
            form=form,
            filters=filters,
            conversation_id=conversation_id,
            count=len(ids),
            too_many=too_many,
            max_conversations=MAX_EXPORT_CONVERSATIONS,
            show_errors=request.method == "POST",
        ),
        status,
    )


def _send_export(form: ExportForm, filters: queries.Filters, conversation_id: str | None, ids: list[str]) -> Response:
    fmt = form.format.data
    reason = (form.reason.data or "").strip()
    export_id = secrets.token_hex(8)
    conversations = export.load(ids)
    now = utcnow()
    if fmt == "json":
        meta = {
            "exported_at": iso_kst(now),
            "exported_by": current_user.email,
            "reason": reason,
            "filters": filters.as_args() if conversation_id is None else {"conversation": conversation_id},
        }
        body, content_type = export.to_json(conversations, meta), "application/json"
    else:
        body, content_type = export.to_csv(conversations), "text/csv; charset=utf-8"
    for conversation in conversations:
        audit.record(
            "export",
            conversation_id=conversation.id,
            detail={
                "reason": reason,
                "format": fmt,
                "export": export_id,
                "count": len(conversations),
                "filters": filters.as_args() if conversation_id is None else {},
            },
        )
    db.session.commit()
    stem = f"maum-{conversation_id[:8]}" if conversation_id else "maum-conversations"
    filename = f"{stem}-{format_kst(now, '%Y%m%d-%H%M')}.{fmt}"
    # The full Content-Type as given: ``mimetype=`` would append a second charset to text/csv.
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
