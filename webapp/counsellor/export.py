"""Conversation exports as CSV (one row per turn, for Excel) and JSON (everything, notes included).

CSV cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return) get a leading apostrophe, and the file starts with a UTF-8 byte order
mark so that Excel reads Korean correctly. Times are Korea time with their offset.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from pipeline.types import EMOTION_LABELS, EMOTION_NAMES_KO
from webapp.counsellor.display import INPUT_KIND_NAMES_KO, emotion_name, fallback_name, iso_kst, risk_name
from webapp.db import Conversation, Note, db

#: Characters that make a spreadsheet cell a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = (
    ["대화 ID", "대화 시작", "순서", "시각", "입력", "내담자의 말", "감정"]
    + [f"{EMOTION_NAMES_KO[label]} 점수" for label in EMOTION_LABELS]
    + ["위험도", "위험 신호", "마음의 답", "답 종류", "생성 모델 대신 쓴 이유", "답 음성"]
)


def csv_safe(value: Any) -> Any:
    """``value`` made harmless for a spreadsheet: text that starts like a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def load(ids: Sequence[str]) -> list[Conversation]:
    """The conversations with these ids, with their turns, notes and reviewers, in the order given."""
    if not ids:
        return []
    rows = db.session.scalars(
        sa.select(Conversation)
        .where(Conversation.id.in_(ids))
        .options(
            selectinload(Conversation.turns),
            selectinload(Conversation.notes).selectinload(Note.author),
            selectinload(Conversation.reviewed_by),
        )
    ).all()
    by_id = {c.id: c for c in rows}
    return [by_id[i] for i in ids if i in by_id]


def csv_rows(conversations: Iterable[Conversation]) -> Iterable[list[Any]]:
    """Header, then one row per turn."""
    yield list(CSV_COLUMNS)
    for conversation in conversations:
        for turn in conversation.turns:
            scores = [round(float(turn.emotion_scores.get(label, 0.0)), 4) for label in EMOTION_LABELS]
            if turn.reply_audio_path:
                reply_audio = "있음"
            else:
                reply_audio = "만들지 못함" if turn.reply_audio_missing else "없음"
            yield [
                conversation.id,
                iso_kst(conversation.created_at),
                turn.index + 1,
                iso_kst(turn.created_at),
                INPUT_KIND_NAMES_KO.get(turn.input_kind, turn.input_kind),
                turn.user_text,
                emotion_name(turn.emotion_label),
                *scores,
                risk_name(turn.risk_level),
                "; ".join(turn.risk_reasons),
                turn.reply_text,
                turn.reply_kind,
                fallback_name(turn.reply_fallback),
                reply_audio,
            ]


def to_csv(conversations: Iterable[Conversation]) -> bytes:
    """The CSV file: UTF-8 with a byte order mark, CRLF line ends, formula-safe cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in csv_rows(conversations):
        writer.writerow([csv_safe(cell) for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    """Everything kept about one conversation, except the audio itself and the client's token."""
    return {
        "id": conversation.id,
        "started_at": iso_kst(conversation.created_at),
        "last_activity_at": iso_kst(conversation.updated_at),
        "reviewed_at": iso_kst(conversation.reviewed_at),
        "reviewed_by": conversation.reviewed_by.email if conversation.reviewed_by else None,
        # risk across the turns, screening questions and answers, remembered facts (None: before Care v2)
        "care_state": conversation.care_state,
        "turns": [
            {
                "index": turn.index + 1,
                "at": iso_kst(turn.created_at),
                "input_kind": turn.input_kind,
                "transcript": turn.user_text,
                "emotion": {
                    "label": turn.emotion_label,
                    "name_ko": emotion_name(turn.emotion_label),
                    "scores": {label: turn.emotion_scores.get(label) for label in EMOTION_LABELS},
                },
                "risk": {
                    "level": turn.risk_level,
                    "reasons": list(turn.risk_reasons),
                    "categories": list(turn.risk_categories),
                },
                "reply": {
                    "text": turn.reply_text,
                    "kind": turn.reply_kind,
                    "generator_fallback": turn.reply_fallback,
                    "audio_missing": turn.reply_audio_missing,
                },
                "has_user_audio": turn.user_audio_path is not None,
                "degraded": list(turn.degraded or ()),
            }
            for turn in conversation.turns
        ],
        "notes": [
            {"at": iso_kst(note.created_at), "author": note.author.email, "body": note.body}
            for note in conversation.notes
        ],
    }


def to_json(conversations: Iterable[Conversation], meta: Mapping[str, Any]) -> bytes:
    """The JSON file: ``meta`` (who, when, why, which filters) and the conversations."""
    document = {**meta, "conversations": [conversation_json(c) for c in conversations]}
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
