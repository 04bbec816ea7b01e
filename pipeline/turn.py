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
from pipeline.care.conversation import CareState
from pipeline.care.policy import care_turn
from pipeline.care.policy import warm_up as care_warm_up
from pipeline.care.risk import assess_risk
from pipeline.errors import EmptyTextError, TextTooLongError
from pipeline.settings import Settings
from pipeline.stages import reply_tone, synthesize_in_tone
from pipeline.types import EMOTION_LABELS, Audio, Emotion, HistoryTurn, Transcript, TurnResult

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

    def backend(self, stage: str) -> Any:
        """The backend for ``stage``, building it on first use."""
        if stage not in self._backends:
            with self._lock:
                if stage not in self._backends:
                    name = getattr(self.settings, stage)
                    start = time.perf_counter()
                    self._backends[stage] = registry.create(stage, name, self.settings)
                    log.info("loaded %s backend %r in %.0f ms", stage, name, (time.perf_counter() - start) * 1e3)
        return self._backends[stage]

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
        care_warm_up()  # the care layer checks replies against the client's words with Kiwi

    @property
    def loaded(self) -> bool:
        return all(stage in self._backends for stage in registry.STAGES)

    def backend_names(self) -> dict[str, str]:
        """Stage → backend name: a ready backend's own ``name``, else the configured one."""
        return {
            stage: getattr(self._backends.get(stage), "name", None) or getattr(self.settings, stage)
            for stage in registry.STAGES
        }

    def run_recording(
        self,
        data: bytes,
        history: Sequence[HistoryTurn] = (),
        *,
        synthesize: bool = True,
        care_state: CareState | None = None,
    ) -> TurnResult:
        """An uploaded recording (any supported container) → decoded → ``run_audio``.

        Raises:
            AudioError: the recording is empty, undecodable, silent, too short or too long.
        """
        start = time.perf_counter()
        audio = decode(data, self.settings)
        decode_ms = (time.perf_counter() - start) * 1000.0
        result = self.run_audio(audio, history, synthesize=synthesize, care_state=care_state)
        timings = {"decode": round(decode_ms, 1), **result.timings_ms}
        timings["total"] = round(result.timings_ms["total"] + decode_ms, 1)
        return dataclasses.replace(result, timings_ms=timings)

    def run_audio(
        self,
        audio: Audio,
        history: Sequence[HistoryTurn] = (),
        *,
        synthesize: bool = True,
        care_state: CareState | None = None,
    ) -> TurnResult:
        """Decoded speech → transcript → risk → emotion → reply → speech."""
        transcriber = self.transcriber  # built (on a first turn) before the clock starts
        start = time.perf_counter()
        transcript = transcriber.transcribe(audio)
        transcribe_ms = (time.perf_counter() - start) * 1000.0
        return self._answer(transcript, history, {"transcribe": transcribe_ms}, synthesize, care_state)

    def run_text(
        self,
        text: str,
        history: Sequence[HistoryTurn] = (),
        *,
        synthesize: bool = True,
        care_state: CareState | None = None,
    ) -> TurnResult:
        """Typed text → risk → emotion → reply → speech.

        ``care_state`` is the conversation's state before this turn (a new conversation when
        None); the result carries the updated one.
        """
        text = clean_text(text, self.settings.max_text_chars)
        return self._answer(Transcript(text=text), history, {}, synthesize, care_state)

    def _answer(
        self,
        transcript: Transcript,
        history: Sequence[HistoryTurn],
        timings: dict[str, float],
        synthesize: bool,
        care_state: CareState | None,
    ) -> TurnResult:
        text = transcript.text
        classifier, responder = self.classifier, self.responder  # model loading is not stage time
        synthesizer = self.synthesizer if synthesize else None
        t0 = time.perf_counter()
        risk = assess_risk(text)  # before anything else answers
        t1 = time.perf_counter()
        emotion = classifier.classify(text) if text else NO_EMOTION
        t2 = time.perf_counter()
        care = care_turn(text, emotion, risk, care_state or CareState(), history, responder.respond)
        risk, reply = care.risk, care.reply  # the turn's risk in the light of the conversation
        t3 = time.perf_counter()
        timings.update(risk=(t1 - t0) * 1e3, emotion=(t2 - t1) * 1e3, respond=(t3 - t2) * 1e3)
        speech, synthesis_error = None, ""
        if synthesizer is not None:
            try:
                speech = synthesize_in_tone(synthesizer, reply.text, reply_tone(reply.kind, emotion.label))
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
            care_state=care.state,
        )
