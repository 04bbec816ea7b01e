"""The chat page. Everything after the first paint happens in ``static/chat.js`` through ``/api``."""

from __future__ import annotations

from flask import render_template

from pipeline.types import EMOTION_LABELS, EMOTION_NAMES_KO
from webapp.chat import bp
from webapp.extensions import get_settings


@bp.get("/")
def index() -> str:
    """The chat page: talk or type to Maum, with the crisis lines always in view."""
    app_settings = get_settings()
    settings = app_settings.pipeline
    return render_template(
        "chat/index.html",
        emotion_names={label: EMOTION_NAMES_KO[label] for label in EMOTION_LABELS},
        show_emotion=app_settings.show_emotion_to_client,
        max_audio_s=settings.max_audio_s,
        max_text_chars=settings.max_text_chars,
    )
