"""How the pipeline speaks a reply: sentence by sentence, through the cache, with a fallback voice.

``reply_sentences`` cuts a reply into the sentences it is spoken in; each is one clip the page
can play as soon as it exists. ``Voice.speak_sentence`` returns one sentence's speech from the
``SpeechCache`` or synthesises (and stores) it; ``Voice.speak`` joins a whole reply from its
sentences (the file a counsellor listens to).

A voice failure never costs a reply: when the configured synthesizer raises, the sentence is
spoken by the fallback (``synthesizer_fallback``, espeak by default) instead. Only a backend with
a ``voice_key(tone)`` method is cached, because only it can say what decides its sound.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from pipeline.audio import to_wav_bytes
from pipeline.errors import BackendError
from pipeline.speech.speech_cache import SpeechCache
from pipeline.stages import synthesize_in_tone
from pipeline.text.normalize import split_sentences
from pipeline.types import Speech

log = logging.getLogger(__name__)

PAUSE_S = 0.3  # between the sentences of a joined reply


def reply_sentences(text: str) -> list[str]:
    """The sentences ``text`` is spoken in, as written (numbers are read out when each is spoken)."""
    return split_sentences(text)


def spoken_text(reply: Any) -> str:
    """What is said aloud for ``reply``: its shorter ``spoken_text`` when it has one, else its text."""
    return (getattr(reply, "spoken_text", "") or "").strip() or reply.text


class Voice:
    """A synthesizer, its fallback and the sentence cache, used together.

    Args:
        primary: the configured synthesizer.
        fallback: builds the fallback synthesizer on first need (None: no fallback).
        cache: where sentences are kept (None: never cached).
    """

    def __init__(
        self, primary: Any, fallback: Callable[[], Any] | None = None, cache: SpeechCache | None = None
    ) -> None:
        self.primary = primary
        self._make_fallback = fallback
        self._fallback: Any = None
        self.cache = cache

    @property
    def name(self) -> str:
        """The primary synthesizer's name (for timings and the stored turn)."""
        return getattr(self.primary, "name", type(self.primary).__name__)

    def fallback(self) -> Any:
        """The fallback synthesizer, built on first use (None when there is none)."""
        if self._fallback is None and self._make_fallback is not None:
            self._fallback = self._make_fallback()
            self._make_fallback = None
        return self._fallback

    def _spoken_by(self, backend: Any, sentence: str, tone: str, *, pinned: bool = False) -> tuple[Speech, bool]:
        voice_key = getattr(backend, "voice_key", None)
        if self.cache is None or voice_key is None:
            return synthesize_in_tone(backend, sentence, tone), False
        return self.cache.get_or_make(
            sentence, voice_key(tone), lambda: synthesize_in_tone(backend, sentence, tone), pinned=pinned
        )

    def speak_sentence(self, sentence: str, tone: str = "", *, pinned: bool = False) -> tuple[Speech, bool]:
        """``(speech, cached)`` of one sentence, by the primary voice or, if it fails, the fallback.

        Raises:
            Exception: what the last voice raised, when every voice failed.
        """
        try:
            return self._spoken_by(self.primary, sentence, tone, pinned=pinned)
        except Exception:
            fallback = self._fallback_or_none()
            if fallback is None:
                raise
            log.exception("%s failed on a sentence; speaking it with %s", self.name, getattr(fallback, "name", "?"))
            return self._spoken_by(fallback, sentence, tone, pinned=pinned)

    def _fallback_or_none(self) -> Any:
        try:
            return self.fallback()
        except Exception:  # noqa: BLE001 - the primary's error is the one worth raising
            log.exception("the fallback synthesizer could not load")
            return None

    def speak(self, text: str, tone: str = "", sentences: Sequence[str] | None = None) -> Speech:
        """A whole reply as one WAV: its sentences (cached ones reused) joined by short pauses.

        Raises:
            BackendError: nothing speakable in ``text``.
        """
        start = time.perf_counter()
        parts = [
            self.speak_sentence(s, tone)[0] for s in (sentences if sentences is not None else reply_sentences(text))
        ]
        if not parts:
            raise BackendError(detail="nothing to synthesize")
        speech = join_speech(parts)
        return Speech(
            wav=speech.wav,
            sample_rate=speech.sample_rate,
            duration_s=speech.duration_s,
            latency_ms=(time.perf_counter() - start) * 1000.0,
        )


def join_speech(parts: Sequence[Speech], pause_s: float = PAUSE_S) -> Speech:
    """Several WAVs → one, at the first one's sample rate, with ``pause_s`` of silence between them."""
    rate = parts[0].sample_rate
    pieces: list[np.ndarray] = []
    for i, part in enumerate(parts):
        samples, part_rate = sf.read(io.BytesIO(part.wav), dtype="float32", always_2d=True)
        samples = samples[:, 0]
        if part_rate != rate:  # a sentence spoken by the fallback voice
            samples = soxr.resample(samples, part_rate, rate).astype(np.float32)
        if i:
            pieces.append(np.zeros(int(pause_s * rate), dtype=np.float32))
        pieces.append(samples)
    audio = np.concatenate(pieces)
    return Speech(wav=to_wav_bytes(audio, rate), sample_rate=rate, duration_s=round(len(audio) / rate, 3))
