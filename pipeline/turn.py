"""One whole client turn through every stage, with per-stage timings.

``Pipeline`` builds its backends lazily by name from ``Settings`` (so a web worker loads
models on its first request, never at import or fork) and can be handed ready backends in
tests.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import unicodedata
from collections.abc import Sequence
from typing import Any

from pipeline import registry
from pipeline.audio import decode
from pipeline.care.risk import assess_risk
from pipeline.errors import EmptyTextError, TextTooLongError, UnknownBackendError
from pipeline.settings import Settings
from pipeline.speech_cache import SpeechCache
from pipeline.stages import reply_tone
from pipeline.types import EMOTION_LABELS, Audio, Emotion, HistoryTurn, Transcript, TurnResult
from pipeline.voice import Voice, reply_sentences, spoken_text

log = logging.getLogger(__name__)

#: The emotion used when there is nothing to classify (an empty transcript).
NO_EMOTION = Emotion(label="neutral", scores={label: float(label == "neutral") for label in EMOTION_LABELS})


def clean_text(text: str, max_chars: int) -> str:
    """Normalise typed or transcribed text: NFC, no control characters, single spaces.

    Raises:
        EmptyTextError: nothing is left.
        TextTooLongError: longer than ``max_chars``.
    """
    text = unicodedata.normalize("NFC", text)
    # Control characters separate words; invisible format characters (zero-width space, bidi
    # overrides) are dropped so they can neither split words nor hide text.
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = " ".join(text.split())
    if not text:
        raise EmptyTextError()
    if len(text) > max_chars:
        raise TextTooLongError(max_chars)
    return text


class Pipeline:
    """The four model stages plus risk assessment, built on first use.

    Args:
        settings: which backends and how.
        **backends: ready objects for ``transcriber``, ``classifier``, ``responder`` or
            ``synthesizer`` that replace the configured ones.
    """

    def __init__(self, settings: Settings, **backends: Any) -> None:
        unknown = set(backends) - set(registry.STAGES)
        if unknown:
            raise TypeError(f"unknown stages {sorted(unknown)}; valid: {list(registry.STAGES)}")
        self.settings = settings
        self._backends: dict[str, Any] = dict(backends)
        self._lock = threading.Lock()
        self._speech_cache: SpeechCache | None = None
        self._voice: Voice | None = None

    def backend(self, stage: str) -> Any:
        """The backend for ``stage``, building it on first use."""
        if stage not in self._backends:
            with self._lock:
                if stage not in self._backends:
                    name = getattr(self.settings, stage)
                    start = time.perf_counter()
                    self._backends[stage] = self._create(stage, name)
                    log.info("loaded %s backend %r in %.0f ms", stage, name, (time.perf_counter() - start) * 1e3)
        return self._backends[stage]

    def _create(self, stage: str, name: str) -> Any:
        """Build a backend; a synthesizer that cannot load gives way to ``synthesizer_fallback``."""
        fallback = self.settings.synthesizer_fallback
        if stage != "synthesizer" or not fallback or fallback == name:
            return registry.create(stage, name, self.settings)
        try:
            return registry.create(stage, name, self.settings)
        except UnknownBackendError:
            raise  # a typo in the settings is for the operator to fix, not to hide
        except Exception:
            log.exception("synthesizer %r could not load; speaking with %r instead", name, fallback)
            return registry.create(stage, fallback, self.settings)

    @property
    def speech_cache(self) -> SpeechCache:
        """The synthesised-sentence cache (``tts_cache_dir``, else ``<cache_dir>/tts``)."""
        with self._lock:
            if self._speech_cache is None:
                root = self.settings.tts_cache_dir or str(self.settings.resolved_cache_dir / "tts")
                self._speech_cache = SpeechCache(root, self.settings.tts_cache_max_bytes)
        return self._speech_cache

    @property
    def voice(self) -> Voice:
        """The synthesizer with its fallback and the sentence cache (built on first use)."""
        if self._voice is None:
            primary, cache = self.synthesizer, self.speech_cache  # each built under the lock
            fallback_name = self.settings.synthesizer_fallback
            fallback = None
            if fallback_name and fallback_name != getattr(primary, "name", ""):
                fallback = lambda: registry.create("synthesizer", fallback_name, self.settings)  # noqa: E731
            with self._lock:
                if self._voice is None:  # one voice per pipeline, so threads share its in-process locks
                    self._voice = Voice(primary, fallback, cache)
        return self._voice

    def prerender(self, texts: Sequence[tuple[str, str]]) -> dict[str, int]:
        """Speak ``(text, tone)`` pairs into the cache as pinned entries (never evicted).

        Returns:
            ``{"sentences", "cached", "rendered"}`` counts.
        """
        counts = {"sentences": 0, "cached": 0, "rendered": 0}
        for text, tone in texts:
            for sentence in reply_sentences(text):
                _, hit = self.voice.speak_sentence(sentence, tone, pinned=True)
                counts["sentences"] += 1
                counts["cached" if hit else "rendered"] += 1
        return counts

    @property
    def transcriber(self) -> Any:
        return self.backend("transcriber")

    @property
    def classifier(self) -> Any:
        return self.backend("classifier")

    @property
    def responder(self) -> Any:
        return self.backend("responder")

    @property
    def synthesizer(self) -> Any:
        return self.backend("synthesizer")

    def load_all(self) -> None:
        """Build every backend now and compile the risk rules (readiness checks, benchmarks)."""
        for stage in registry.STAGES:
            self.backend(stage)
        assess_risk("")  # the first call compiles the patterns (~40 ms); not a client's turn

    @property
    def loaded(self) -> bool:
        return all(stage in self._backends for stage in registry.STAGES)

    def backend_names(self) -> dict[str, str]:
        """Stage → backend name: a ready backend's own ``name``, else the configured one."""
        return {
            stage: getattr(self._backends.get(stage), "name", None) or getattr(self.settings, stage)
            for stage in registry.STAGES
        }

    def run_recording(self, data: bytes, history: Sequence[HistoryTurn] = (), *, synthesize: bool = True) -> TurnResult:
        """An uploaded recording (any supported container) → decoded → ``run_audio``.

        Raises:
            AudioError: the recording is empty, undecodable, silent, too short or too long.
        """
        start = time.perf_counter()
        audio = decode(data, self.settings)
        decode_ms = (time.perf_counter() - start) * 1000.0
        result = self.run_audio(audio, history, synthesize=synthesize)
        timings = {"decode": round(decode_ms, 1), **result.timings_ms}
        timings["total"] = round(result.timings_ms["total"] + decode_ms, 1)
        return dataclasses.replace(result, timings_ms=timings)

    def run_audio(self, audio: Audio, history: Sequence[HistoryTurn] = (), *, synthesize: bool = True) -> TurnResult:
        """Decoded speech → transcript → risk → emotion → reply → speech."""
        transcriber = self.transcriber  # built (on a first turn) before the clock starts
        start = time.perf_counter()
        transcript = transcriber.transcribe(audio)
        transcribe_ms = (time.perf_counter() - start) * 1000.0
        return self._answer(transcript, history, {"transcribe": transcribe_ms}, synthesize=synthesize)

    def run_text(self, text: str, history: Sequence[HistoryTurn] = (), *, synthesize: bool = True) -> TurnResult:
        """Typed text → risk → emotion → reply → speech."""
        text = clean_text(text, self.settings.max_text_chars)
        return self._answer(Transcript(text=text), history, {}, synthesize=synthesize)

    def _answer(
        self, transcript: Transcript, history: Sequence[HistoryTurn], timings: dict[str, float], *, synthesize: bool
    ) -> TurnResult:
        text = transcript.text
        classifier, responder = self.classifier, self.responder  # model loading is not stage time
        voice = self.voice if synthesize else None  # loaded before the clock starts
        t0 = time.perf_counter()
        risk = assess_risk(text)  # before anything else answers
        t1 = time.perf_counter()
        emotion = classifier.classify(text) if text else NO_EMOTION
        t2 = time.perf_counter()
        reply = responder.respond(text, emotion, risk, history)
        t3 = time.perf_counter()
        timings.update(risk=(t1 - t0) * 1e3, emotion=(t2 - t1) * 1e3, respond=(t3 - t2) * 1e3)
        speech, synthesis_error = None, ""
        if voice is not None:
            try:
                speech = voice.speak(spoken_text(reply), reply_tone(reply.kind, emotion.label))
            except Exception as exc:  # noqa: BLE001 - the reply text must still reach the client
                log.exception("speech synthesis failed")
                synthesis_error = getattr(exc, "code", "synthesis_failed")
            timings["synthesize"] = (time.perf_counter() - t3) * 1e3
        timings["total"] = sum(timings.values())
        return TurnResult(
            transcript=transcript,
            risk=risk,
            emotion=emotion,
            reply=reply,
            speech=speech,
            timings_ms={k: round(v, 1) for k, v in timings.items()},
            synthesis_error=synthesis_error,
        )
