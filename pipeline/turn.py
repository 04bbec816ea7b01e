"""One whole client turn through every stage, with per-stage timings; and one practice reading, scored.

``Pipeline`` builds its backends lazily by name from ``Settings`` (so a web worker loads
models on its first request, never at import or fork) and can be handed ready backends in
tests. It owns every loaded model: the stage backends, the e5 embedder they share with the risk
assessor (one model per worker), the Kiwi analyser it lends to everything that reads Korean
morphology (the care layer and responder, Kokoro's text front end, the scorer and ``pronounce``:
one per worker, see ``pipeline/text/morphology.py``), the risk assessor, the voice with its
sentence cache, and the pronunciation scorer (``score_reading``, on the same transcriber as a
voice turn, with the acoustic evidence and phoneme recogniser the registry names).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pipeline import registry
from pipeline.audio import decode
from pipeline.care.assessor import RiskAssessor
from pipeline.care.conversation import CareState
from pipeline.care.policy import care_turn
from pipeline.care.policy import warm_up as care_warm_up
from pipeline.care.risk import assess_risk
from pipeline.care.safety_net import safety_net_reply
from pipeline.errors import EmptyTextError, TextTooLongError, UnknownBackendError
from pipeline.pronunciation.feedback import explain_pronunciation
from pipeline.pronunciation.g2p import Pronunciation, pronounce
from pipeline.pronunciation.results import PronunciationScore
from pipeline.pronunciation.scoring import MAX_PRACTICE_S, MAX_TARGET_CHARS, PronunciationScorer
from pipeline.pronunciation.sentences import PracticeSentence, find_sentence, practice_sets
from pipeline.settings import Settings
from pipeline.speech.speech_cache import SpeechCache
from pipeline.speech.voice import Voice, reply_sentences, spoken_text
from pipeline.stages import EmotionClassifier, Responder, Synthesizer, Transcriber, reply_tone, synthesize_in_tone
from pipeline.text.e5 import E5Embedder
from pipeline.text.morphology import load_kiwi
from pipeline.types import (
    EMOTION_LABELS,
    Audio,
    Emotion,
    HistoryTurn,
    Reply,
    Risk,
    Speech,
    StageVerb,
    Transcript,
    TurnResult,
)

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

__all__ = [
    "FAILURE_CODES",
    "LOAD_RETRY_S",
    "NO_EMOTION",
    "STAGE_VERBS",
    "Pipeline",
    "clean_text",
    "error_code",
    # Re-exported: what practice needs beside ``Pipeline.score_reading``, so the practice service
    # reaches pronunciation/ only through this module (contract ``practice-through-pipeline``).
    "MAX_PRACTICE_S",
    "MAX_TARGET_CHARS",
    "PracticeSentence",
    "Pronunciation",
    "PronunciationScore",
    "explain_pronunciation",
    "find_sentence",
    "practice_sets",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The verb of each stage, as named in ``TurnResult.degraded`` and in ``/readyz``.
STAGE_VERBS: dict[str, StageVerb] = {
    "transcriber": "transcribe",
    "classifier": "classify",
    "responder": "respond",
    "synthesizer": "synthesize",
}

#: Error code recorded for a stage that failed with an exception that carries no ``code`` of its own.
FAILURE_CODES: dict[StageVerb, str] = {
    "transcribe": "transcription_failed",
    "classify": "classification_failed",
    "respond": "reply_failed",
    "synthesize": "synthesis_failed",
}

#: Seconds a backend that failed to load is not tried again (turns meanwhile degrade at once).
LOAD_RETRY_S = 30.0

#: The emotion used when there is nothing to classify (an empty transcript).
NO_EMOTION = Emotion(label="neutral", scores={label: float(label == "neutral") for label in EMOTION_LABELS})


def error_code(exc: BaseException, default: str) -> str:
    """The stable ``code`` of a pipeline error, else ``default`` (other libraries' ``code`` may be anything)."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) and code else default


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
        risk_assessor: a ready ``RiskAssessor`` (tests); built from ``settings`` on first use otherwise.
        embedder: a ready e5 embedder (tests); loaded on first use otherwise.
        kiwi: a ready Kiwi analyser (tests); built on first use otherwise.
        **backends: ready objects for ``transcriber``, ``classifier``, ``responder`` or
            ``synthesizer`` that replace the configured ones.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        risk_assessor: RiskAssessor | None = None,
        embedder: E5Embedder | None = None,
        kiwi: Kiwi | None = None,
        **backends: Any,
    ) -> None:
        unknown = set(backends) - set(registry.STAGES)
        if unknown:
            raise TypeError(f"unknown stages {sorted(unknown)}; valid: {list(registry.STAGES)}")
        self.settings = settings
        self._backends: dict[str, Any] = dict(backends)
        self._load_errors: dict[str, tuple[BaseException, float]] = {}  # stage -> (error, monotonic time)
        self._risk_assessor = risk_assessor
        self._embedder = embedder
        self._lock = threading.Lock()
        self._embedder_lock = threading.Lock()  # apart from _lock: backends and the assessor load it under _lock
        self._kiwi = kiwi
        self._kiwi_lock = threading.Lock()  # apart from _lock and _scorer_lock, which hold it while building
        self._speech_cache: SpeechCache | None = None
        self._voice: Voice | None = None
        self._scorer: PronunciationScorer | None = None
        self._scorer_lock = threading.Lock()  # apart from _lock: building the scorer builds the transcriber

    @property
    def embedder(self) -> E5Embedder:
        """The e5 model this pipeline's emotion head, risk classifier and care responder share, loaded on first use."""
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    self._embedder = E5Embedder()
        return self._embedder

    def _load_embedder(self) -> E5Embedder:
        return self.embedder

    @property
    def kiwi(self) -> Kiwi:
        """The Kiwi analyser this pipeline lends to every reader of Korean morphology, built on first use."""
        if self._kiwi is None:
            with self._kiwi_lock:
                if self._kiwi is None:
                    self._kiwi = load_kiwi()
        return self._kiwi

    def _load_kiwi(self) -> Kiwi:
        return self.kiwi

    @property
    def risk_assessor(self) -> RiskAssessor:
        """Rules + trained classifier (see ``pipeline.care.assessor``), built once on first use.

        The classifier shares this pipeline's e5 embedder with the emotion head; if it cannot load, the rules
        run alone and the cause is logged.
        """
        if self._risk_assessor is None:
            with self._lock:
                if self._risk_assessor is None:
                    start = time.perf_counter()
                    assessor = RiskAssessor.from_settings(self.settings, embedder=self._load_embedder)
                    assessor.assess("안녕하세요")  # compiles the patterns, warms the classifier; not a client's turn
                    self._risk_assessor = assessor
                    log.info(
                        "risk assessor ready (%s) in %.0f ms",
                        "rules + classifier" if assessor.uses_classifier else "rules only",
                        (time.perf_counter() - start) * 1e3,
                    )
        return self._risk_assessor

    def _assess(self, text: str) -> Risk:
        """The hybrid assessment; the rules alone if the assessor itself cannot be built."""
        try:
            assessor = self.risk_assessor
        except Exception:  # noqa: BLE001 - risk must always be assessed; the rules need no model
            log.exception("risk assessor failed to build; using the rules alone")
            return assess_risk(text)
        return assessor.assess(text)

    def backend(self, stage: str) -> Any:
        """The backend for ``stage``, building it on first use.

        A backend that fails to load is logged once and its error raised again, without another
        attempt, for ``LOAD_RETRY_S`` seconds (a broken model must not slow every turn down).
        """
        if stage not in self._backends:
            with self._lock:
                if stage not in self._backends:
                    failed = self._load_errors.get(stage)
                    if failed is not None and time.monotonic() - failed[1] < LOAD_RETRY_S:
                        raise failed[0].with_traceback(None)
                    name = getattr(self.settings, stage)
                    start = time.perf_counter()
                    try:
                        self._backends[stage] = self._create(stage, name)
                    except Exception as exc:
                        log.exception("%s backend %r failed to load", stage, name)
                        self._load_errors[stage] = (exc, time.monotonic())
                        raise
                    self._load_errors.pop(stage, None)
                    log.info("loaded %s backend %r in %.0f ms", stage, name, (time.perf_counter() - start) * 1e3)
        return self._backends[stage]

    def _build(self, stage: str, name: str) -> Any:
        """``registry.create``; a backend whose registry entry asks for them gets this pipeline's e5 model and Kiwi."""
        entry = registry.spec(stage, name)
        lent: dict[str, Any] = {}
        if entry.embedder:
            lent["embedder"] = self._load_embedder
        if entry.kiwi:
            lent["kiwi"] = self._load_kiwi
        return registry.create(stage, name, self.settings, **lent)

    def _create(self, stage: str, name: str) -> Any:
        """Build a backend; a synthesizer that cannot load gives way to ``synthesizer_fallback``."""
        fallback = self.settings.synthesizer_fallback
        if stage != "synthesizer" or not fallback or fallback == name:
            return self._build(stage, name)
        try:
            return self._build(stage, name)
        except UnknownBackendError:
            raise  # a typo in the settings is for the operator to fix, not to hide
        except Exception:
            log.exception("synthesizer %r could not load; speaking with %r instead", name, fallback)
            return self._build(stage, fallback)

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
                fallback = lambda: self._build("synthesizer", fallback_name)  # noqa: E731
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
    def transcriber(self) -> Transcriber:
        """The ``Transcriber`` (``settings.transcriber``, or the one handed in), built on first use."""
        return self.backend("transcriber")

    @property
    def classifier(self) -> EmotionClassifier:
        """The ``EmotionClassifier`` (``settings.classifier``, or the one handed in), built on first use."""
        return self.backend("classifier")

    @property
    def responder(self) -> Responder:
        """The ``Responder`` (``settings.responder``, or the one handed in), built on first use."""
        return self.backend("responder")

    @property
    def synthesizer(self) -> Synthesizer:
        """The ``Synthesizer`` (``settings.synthesizer``, or the one handed in), built on first use."""
        return self.backend("synthesizer")

    @property
    def scorer(self) -> PronunciationScorer:
        """The pronunciation scorer, built once on first use on this pipeline's own models.

        It hears through the configured transcriber (the same one as a voice turn) or, when
        ``phoneme_model`` names one, the phoneme recogniser; acoustic evidence comes from the
        registry's backend for the configured transcriber, when it can read that model (Whisper).

        Raises:
            ModelFilesError: ``phoneme_model`` names a missing model or one that does not write IPA.
        """
        if self._scorer is None:
            with self._scorer_lock:
                if self._scorer is None:
                    recognizer = registry.load_phoneme_recognizer(self.settings)
                    transcriber = self.transcriber
                    evidence = None
                    if self.settings.transcriber in registry.ACOUSTIC_EVIDENCE:
                        adapter = registry.backend_class("acoustic_evidence", self.settings.transcriber)
                        evidence = adapter.for_transcriber(transcriber, self.settings)
                    self._scorer = PronunciationScorer(transcriber, evidence, recognizer, kiwi=self.kiwi)
        return self._scorer

    def score_reading(self, recording: bytes | Audio, text: str) -> PronunciationScore:
        """A learner's reading of ``text`` → per-syllable verdicts and 0–100 scores (practice).

        Args:
            recording: an uploaded recording (any supported container), or audio already decoded.
            text: the sentence the learner meant to read.

        Raises:
            AudioError: the recording is empty, undecodable, silent, too short or too long.
            EmptyTextError: the target has no Korean to read.
            TextTooLongError: the target is longer than ``scoring.MAX_TARGET_CHARS``.
        """
        audio = decode(recording, self.settings) if isinstance(recording, bytes) else recording
        return self.scorer.score(audio, text)

    def pronounce(self, text: str) -> Pronunciation:
        """The standard pronunciation of ``text`` (Hangul, IPA, the rules applied), as practice teaches it."""
        return pronounce(text, self.kiwi)

    def speak_reading(self, text: str) -> Speech:
        """``text`` read aloud as pronounced (a practice target) by the configured synthesizer, uncached.

        Raises:
            BackendError: the synthesizer could not load or run; PipelineError: it refused the text.
        """
        return synthesize_in_tone(self.synthesizer, self.pronounce(text).spoken or text)

    def load_all(self) -> None:
        """Build every backend and the risk assessor now (readiness checks, benchmarks)."""
        for stage in registry.STAGES:
            self.backend(stage)
        self.risk_assessor  # noqa: B018 - building it is the point
        care_warm_up(self.kiwi)  # the care layer checks replies against the client's words with Kiwi

    def load_report(self) -> dict[str, str]:
        """Try to build every backend; return stage verb → error code for those that failed (empty: all loaded)."""
        failed = {}
        for stage in registry.STAGES:
            try:
                self.backend(stage)
            except Exception as exc:  # noqa: BLE001 - reported to the operator, never raised to a client
                failed[STAGE_VERBS[stage]] = error_code(exc, "backend_error")
        self.risk_assessor  # noqa: B018 - builds the rules and the classifier, as load_all does
        care_warm_up(self.kiwi)
        return failed

    @property
    def loaded(self) -> bool:
        """Whether every stage backend is built already (asking loads nothing)."""
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
        """Risk first; then every later stage degrades (``_degrade``) instead of failing the turn."""
        text = transcript.text
        failed: dict[StageVerb, str] = {}  # stage verb -> error code
        t0 = time.perf_counter()
        risk = self._assess(text)  # before anything else answers
        timings["risk"] = (time.perf_counter() - t0) * 1e3

        def classify(classifier: EmotionClassifier) -> Emotion:
            return classifier.classify(text) if text else NO_EMOTION

        emotion = self._degrade("classifier", classify, lambda: NO_EMOTION, failed, timings, "emotion")

        def respond(text_: str, emotion_: Emotion, risk_: Risk, history_: Sequence[HistoryTurn]) -> Reply:
            return self._degrade(
                "responder",
                lambda responder: responder.respond(text_, emotion_, risk_, history_),
                lambda: safety_net_reply(risk_),
                failed,
                timings,
                "respond",
            )

        before = care_state or CareState()
        start = time.perf_counter()
        try:
            care = care_turn(text, emotion, risk, before, history, respond, self.kiwi)
            risk, reply, after = care.risk, care.reply, care.state  # the turn's risk in the light of the conversation
        except Exception as exc:  # noqa: BLE001 - the care layer must never cost the client the reply
            log.exception("care layer failed; answering with the safety net")
            failed["respond"] = error_code(exc, FAILURE_CODES["respond"])
            reply, after = safety_net_reply(risk), before
        timings["respond"] = (time.perf_counter() - start) * 1e3
        speech = None
        if synthesize:
            tone = reply_tone(reply.kind, emotion.label)
            speech = self._degrade(
                "synthesizer",
                lambda _synthesizer: self.voice.speak(spoken_text(reply), tone),
                lambda: None,
                failed,
                timings,
                "synthesize",
            )
        timings["total"] = sum(timings.values())
        return TurnResult(
            transcript=transcript,
            risk=risk,
            emotion=emotion,
            reply=reply,
            speech=speech,
            timings_ms={k: round(v, 1) for k, v in timings.items()},
            synthesis_error=failed.get("synthesize", ""),
            degraded=tuple(failed),
            care_state=after,
        )

    def _degrade(
        self,
        stage: str,
        use: Callable[[Any], T],
        fallback: Callable[[], T],
        failed: dict[StageVerb, str],
        timings: dict[str, float],
        timing_key: str,
    ) -> T:
        """Run ``use(backend)`` for a stage after risk; if the backend fails to load or to run, ``fallback()``.

        The failure is logged and recorded in ``failed`` (stage verb → error code). Loading a model
        is not counted as stage time.
        """
        try:
            backend = self.backend(stage)
        except Exception as exc:  # noqa: BLE001 - logged by backend(); the reply must still reach the client
            failed[STAGE_VERBS[stage]] = error_code(exc, "backend_error")
            log.warning("%s degraded: its backend did not load (%s)", STAGE_VERBS[stage], failed[STAGE_VERBS[stage]])
            return fallback()
        start = time.perf_counter()
        try:
            return use(backend)
        except Exception as exc:  # noqa: BLE001 - the reply must still reach the client
            failed[STAGE_VERBS[stage]] = error_code(exc, FAILURE_CODES[STAGE_VERBS[stage]])
            log.exception("%s degraded: the %s failed on this turn", STAGE_VERBS[stage], stage)
            return fallback()
        finally:
            timings[timing_key] = (time.perf_counter() - start) * 1e3
