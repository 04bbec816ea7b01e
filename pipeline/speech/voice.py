"""How the pipeline speaks a reply: sentence by sentence, through the cache, with a fallback voice.

``reply_sentences`` cuts a reply into the clips it is spoken in; each is one clip the page can
play as soon as it exists. The first clip is short (the first clause of a long first sentence)
so that it is synthesised fast: the client hears it while the rest is made; the next clip is
synthesised while it plays. ``Voice.speak_sentence`` returns one sentence's speech from the
``SpeechCache`` or synthesises (and stores) it; ``Voice.speak`` joins a whole reply from its
sentences (the file a counsellor listens to).

A voice failure never costs a reply: when the configured synthesizer raises, the sentence is
spoken by the fallback (``synthesizer_fallback``, espeak by default) instead. Only a backend with
a ``voice_key(tone)`` method is cached, because only it can say what decides its sound.
"""

from __future__ import annotations

import io
import logging
import re
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

#: A first sentence with more speakable characters than this is cut at its first clause. Kokoro
#: speaks ~7 syllables a second at a real-time factor ≈ 0.45: 14 characters take ~0.9 s to make.
FIRST_CLIP_MAX = 14
#: Where the first clip is cut, in speakable characters, when no clause ends early enough.
FIRST_CLIP_TARGET = 10
#: Shortest head and rest of a cut first sentence (a lone word sounds odd on its own).
MIN_HEAD, MIN_REST = 5, 6
_SPEAKABLE = re.compile(r"[가-힣A-Za-z0-9]")
# Word endings that close a clause (…하면, …하고, …해서, …한데, …지만, …며, …니까, …도록).
_CLAUSE_END = re.compile(r"(?:면|고|[해어아워라]서|[는은인한]데|지만|며|니까|도록|요)$")
# Word endings of a noun phrase (a particle): the next best place to pause.
_PHRASE_END = re.compile(r"(?:은|는|이|가|을|를|에|에게|께|도|와|과|로|으로|처럼|까지|부터)$")
# Words that lean on the next one (잘 못 | 주무셨군요 would split a verb from its adverb).
_LEANING = frozenset({"못", "안", "잘", "더", "좀", "꼭", "다", "또", "너무", "아주", "정말", "많이"})


def speakable_len(text: str) -> int:
    """Hangul syllables, Latin letters and digits in ``text`` (what takes time to say)."""
    return len(_SPEAKABLE.findall(text))


def first_clause(sentence: str) -> tuple[str, str]:
    """``(head, rest)``: a long sentence cut after its first clause; ``(sentence, "")`` when short.

    A sentence of more than ``FIRST_CLIP_MAX`` speakable characters is cut, in this order of
    preference, after the first comma, else after the first word that ends a clause (지금 많이
    힘드시면 | …), that leaves a head of ``MIN_HEAD`` to ``FIRST_CLIP_MAX`` characters; else at
    the end of a noun phrase (a particle), or any space, nearest to ``FIRST_CLIP_TARGET``
    characters. The rest keeps at least ``MIN_REST`` characters. Words, numbers and hotlines are never split.
    """
    total = speakable_len(sentence)
    if total <= FIRST_CLIP_MAX:
        return sentence, ""
    cuts = []  # (head length, cut index, after a comma, after a clause ending)
    for m in re.finditer(r"\s+", sentence):
        head = sentence[: m.start()]
        size = speakable_len(head)
        if size >= MIN_HEAD and total - size >= MIN_REST:
            last = head.split()[-1]
            cuts.append((size, m.start(), head.endswith(","), bool(_CLAUSE_END.search(head)),
                         bool(_PHRASE_END.search(last)) and last not in _LEANING))  # fmt: skip
    within = [c for c in cuts if c[0] <= FIRST_CLIP_MAX]
    chosen = next((c for c in within if c[2]), None) or next((c for c in within if c[3]), None)
    if chosen is None and cuts:
        # Nearest to the target, a noun phrase's end before any other space.
        chosen = min(cuts, key=lambda c: (not c[4], abs(c[0] - FIRST_CLIP_TARGET), c[0]))
    if chosen is None:
        return sentence, ""
    return sentence[: chosen[1]].strip(), sentence[chosen[1] :].strip()


def reply_sentences(text: str) -> list[str]:
    """The clips ``text`` is spoken in, as written (numbers are read out when each is spoken).

    The first sentence's first clause (``first_clause``), then the rest of it, then the other
    sentences (``split_sentences`` has already joined the very short ones to a neighbour).
    """
    sentences = split_sentences(text)
    if not sentences:
        return []
    head, rest = first_clause(sentences[0])
    return [head, *([rest] if rest else []), *sentences[1:]]


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
