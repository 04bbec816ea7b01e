"""Reply audio after the answer: one clip per sentence on request, the whole file in the background.

The turn answer carries the reply text as soon as it exists. Its audio comes in two forms:

* clips: ``GET …/turns/<turn_id>/audio/reply/<n>`` speaks sentence ``n`` of ``Turn.reply_clips``
  from the sentence cache, or synthesises it on the spot in whichever worker gets the request
  (so any worker on any node can answer);
* the complete reply file for the counsellor: a daemon thread started after the turn is stored
  speaks every sentence in order (filling the cache the clip requests read), joins them and
  attaches the file to the turn (``attach_reply_audio``). The page never waits for it: after the
  first clip (which the page asks for at once) its sentences are synthesised as background work,
  behind every clip a page is waiting for (``pipeline.speech.priority``).
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from pipeline.speech.priority import background_synthesis
from pipeline.speech.voice import join_speech
from pipeline.stages import reply_tone
from pipeline.turn import Pipeline
from pipeline.types import Speech
from webapp.conversations import attach_reply_audio
from webapp.db import Turn
from webapp.extensions import get_audio_store, get_pipeline, get_settings

log = logging.getLogger(__name__)

THREAD_PREFIX = "maum-reply-audio-"


def turn_tone(turn: Turn) -> str:
    """The tone a stored turn's reply is spoken in (as when it was answered)."""
    return reply_tone(turn.reply_kind, turn.emotion_label)


def speak_clip(pipeline: Pipeline, turn: Turn, n: int) -> Speech:
    """Sentence ``n`` of a turn's reply, from the cache or synthesised now.

    Raises:
        IndexError: the reply has no sentence ``n``.
        Exception: every voice failed on it.
    """
    if not 0 <= n < len(turn.reply_clips):
        raise IndexError(n)
    speech, _ = pipeline.voice.speak_sentence(turn.reply_clips[n], turn_tone(turn))
    return speech


def assemble_reply_audio(app: Flask, turn_id: str, clips: list[str], tone: str) -> None:
    """Speak ``clips``, join them and attach the file to the turn (marked missing when that fails)."""
    with app.app_context():
        pipeline: Pipeline = get_pipeline(app)
        store = get_audio_store(app)
        try:
            # The first clip is the one the page plays first: it keeps the page's priority.
            parts = [pipeline.voice.speak_sentence(clips[0], tone)[0]]
            with background_synthesis():
                parts += [pipeline.voice.speak_sentence(clip, tone)[0] for clip in clips[1:]]
            wav = join_speech(parts).wav
        except BaseException as exc:  # noqa: BLE001 - a thread must not die silently: record why audio is missing
            log.exception("reply audio of turn %s could not be synthesised", turn_id)
            attach_reply_audio(store, turn_id, None, getattr(exc, "code", "synthesis_failed"))
            return
        try:
            settings = get_settings(app)
            attach_reply_audio(
                store, turn_id, wav, reply_format=settings.reply_audio_format, reply_kbps=settings.reply_opus_kbps
            )
        except BaseException:  # noqa: BLE001 - logged; the clips still play from the cache
            log.exception("reply audio of turn %s could not be stored", turn_id)


def start_reply_audio(app: Flask, turn: Turn) -> threading.Thread | None:
    """Start assembling the complete reply file of ``turn`` in a daemon thread (None: no clips)."""
    if not turn.reply_clips:
        return None
    thread = threading.Thread(
        target=assemble_reply_audio,
        args=(app, turn.id, list(turn.reply_clips), turn_tone(turn)),
        name=f"{THREAD_PREFIX}{turn.id}",
        daemon=True,
    )
    thread.start()
    return thread


def wait_for_reply_audio(timeout_s: float = 30.0) -> None:
    """Wait (up to ``timeout_s`` in all) for the reply files being assembled in this process.

    A stopping worker calls this so that replies it answered still get their complete file.
    """
    deadline = time.monotonic() + timeout_s
    for thread in threading.enumerate():
        if thread.name.startswith(THREAD_PREFIX):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
