"""Speech to text with faster-whisper (CTranslate2): Whisper base, int8, Silero VAD, Korean.

Whisper reads audio in 30-second windows, and faster-whisper pads every window to 30 s before
the encoder, which then costs about as much for a 5-second turn as for 30 seconds of speech
(profiled on 2 cores: the encoder was ~80 % of a turn's transcription, beam search the rest).
``TrimmedWhisperModel`` encodes only the frames that hold audio plus a margin of padding, and
never less than ``whisper_window_s`` (15 s by default): CTranslate2's encoder takes any length up
to 30 s. Under load this is what keeps 8 clients within the latency target: on 2 cores (3–4
December, ``make load``, quiet machine) time to reply text was p95 3.5–3.7 s with the full 30-s
window and 0.87–0.91 s with 15 s, since the queue in front of each worker's Whisper empties four
times faster. The model hears a little worse without its usual padding, so the default was chosen
by a rule written before the accuracy run (``benchmarks.whisper_options``, 3 December 23:33 UTC):
against the full window, 15 s kept NIKL's CER (0.094), the 100 spoken client sentences Kokoro
read (CER 0.231 against 0.229; same risk level for 76 % of them with either window, 17 against 18
of 31 high sentences still high) and Kokoro's 20 fixed replies (0.117 against 0.110). A 10-s
window read those replies at 0.126 and once heard "자살" as "자사리". ``MAUM_WHISPER_WINDOW_S=30``
restores the full window where CPU is plentiful.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from pipeline.errors import MissingDependencyError, ModelFilesError
from pipeline.model_files import prepare_whisper_base
from pipeline.settings import Settings, resolve_device
from pipeline.types import Audio, Segment, Transcript

try:
    from faster_whisper import WhisperModel
    from faster_whisper.utils import download_model
except ImportError as exc:  # pragma: no cover - core dependency
    raise MissingDependencyError(detail="faster-whisper is not installed: pip install -e .") from exc

# Phrases Whisper invents on silence, music or noise: they come from the subtitles of the videos
# it was trained on. A client talking to a counselling service does not say these.
_ALWAYS_HALLUCINATED = re.compile(
    r"시청\s*해\s*주\s*셔\s*서|구독\s*(과|와|이랑|하고|,)?\s*좋아요|구독\s*(부탁|해\s*주|버튼)|"
    r"좋아요\s*(와|랑)?\s*(알림|눌러)|알림\s*설정|자막\s*(제공|by|제작|협찬)|한글\s*자막|"
    r"(MBC|KBS|SBS|YTN|JTBC)\s*뉴스|뉴스\s*[가-힣]{2,4}\s*입니다|다음\s*영상에서|영상\s*편집|"
    r"이\s*시각\s*세계|^[\s.,!?♪~()\[\]]*(음악|박수|웃음)?[\s.,!?♪~()\[\]]*$",
    re.IGNORECASE,
)
# Short phrases a person may really say; dropped only when the model itself doubts there was speech.
_SOMETIMES_HALLUCINATED = re.compile(r"^\s*(감사합니다|고맙습니다|네|아|음|어|안녕하세요|안녕히\s*계세요)[.!?\s]*$")
_NO_SPEECH_DOUBT = 0.3
_LOW_LOGPROB = -1.0


def is_hallucination(text: str, no_speech_prob: float, avg_logprob: float) -> bool:
    """Whether a recognised segment is Whisper's invention rather than speech."""
    if _ALWAYS_HALLUCINATED.search(text):
        return True
    if _SOMETIMES_HALLUCINATED.match(text):
        return no_speech_prob > _NO_SPEECH_DOUBT or avg_logprob < _LOW_LOGPROB
    return no_speech_prob > 0.6 and avg_logprob < _LOW_LOGPROB


_FRAMES_PER_S = 100  # Whisper's log-Mel frames: 10 ms each
_FULL_WINDOW = 3000  # frames in Whisper's 30-s window
_MARGIN_FRAMES = 200  # padding kept after the last frame with audio in it (2 s)


def window_frames(features: np.ndarray, min_window_s: float) -> int:
    """How many frames of a padded window (``(n_mels, 3000)``) to encode.

    faster-whisper pads a window with frames of zeros; real log-Mel frames are never all zero.
    The frames up to the last one with audio, plus a 2-s margin, rounded up to a whole second,
    and at least ``min_window_s`` seconds (all 3000 when that is 30 or more).
    """
    full = features.shape[-1]
    if min_window_s * _FRAMES_PER_S >= full:
        return full
    heard = np.flatnonzero(np.any(features != 0, axis=-2 if features.ndim == 2 else (0, 1)))
    used = int(heard[-1]) + 1 if len(heard) else 0
    wanted = -(-(used + _MARGIN_FRAMES) // _FRAMES_PER_S) * _FRAMES_PER_S
    return int(min(full, max(wanted, round(min_window_s * _FRAMES_PER_S))))


class TrimmedWhisperModel(WhisperModel):
    """faster-whisper's model, encoding a window only as far as it holds audio (see the module doc)."""

    def __init__(self, *args, min_window_s: float = 30.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.min_window_s = min_window_s
        self._call = threading.local()  # a per-thread override: one model serves a worker's threads

    @contextmanager
    def full_window(self):
        """Within this block, this thread's calls encode Whisper's whole 30-s window."""
        self._call.full = True
        try:
            yield
        finally:
            self._call.full = False

    def encode(self, features: np.ndarray):
        """Encode the frames with audio in them (and a margin); see ``window_frames``."""
        if features.shape[-1] == _FULL_WINDOW and not getattr(self._call, "full", False):
            features = features[..., : window_frames(features, self.min_window_s)]
        return super().encode(np.ascontiguousarray(features))


class WhisperTranscriber:
    """``Transcriber`` on faster-whisper.

    The bundled Whisper base is assembled into the cache folder on first use (the setup command
    does this ahead of time). ``settings.whisper_model`` may name another model instead: a local
    CTranslate2 folder, or a faster-whisper model name (``small``, ``large-v3``…) that is already
    in the local Hugging Face cache; nothing is ever downloaded.
    CTranslate2 models may be called from several threads at once.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        model = settings.whisper_model.strip()
        if not model or model == "base":
            model = str(prepare_whisper_base(settings.resolved_cache_dir))
        elif os.sep in model or model.startswith("."):
            if not (Path(model) / "model.bin").is_file():
                raise ModelFilesError(detail=f"no CTranslate2 model.bin in {model}")
        else:
            # A model name: only the local Hugging Face cache, never the network.
            try:
                model = download_model(model, local_files_only=True)
            except Exception as exc:  # noqa: BLE001 - huggingface_hub raises several kinds here
                raise ModelFilesError(
                    detail=f"whisper model {model!r} is neither a folder nor in the local cache "
                    f"(nothing is downloaded at run time): {exc}"
                ) from exc
        device = resolve_device(settings.device)
        self.model = TrimmedWhisperModel(
            model,
            min_window_s=settings.whisper_window_s,
            device="cuda" if device.startswith("cuda") else "cpu",
            device_index=int(device.partition(":")[2] or 0) if device.startswith("cuda") else 0,
            compute_type=settings.whisper_compute_type,
            cpu_threads=settings.whisper_cpu_threads,
        )
        self.name = f"whisper:{Path(model).name}"

    def transcribe(self, audio: Audio) -> Transcript:
        """Audio (16 kHz mono float32) → Korean transcript with silence hallucinations removed."""
        if audio.sample_rate != 16000:
            raise ValueError(f"expected 16 kHz audio, got {audio.sample_rate} Hz")
        start = time.perf_counter()
        segments = self._decode(audio.samples)
        if self.model.min_window_s < 30.0 and any(seg.temperature > 0.0 for seg in segments):
            # Whisper had to fall back to sampling: the speech is unclear, and a short window
            # then invents more text (espeak's voice: CER 3.1 against 1.0). Listen again as
            # Whisper was trained to, with the whole window; clear speech never pays for this.
            with self.model.full_window():
                segments = self._decode(audio.samples)
        kept: list[Segment] = []
        probs: list[float] = []
        for seg in segments:
            text = seg.text.strip()
            if not text or is_hallucination(text, seg.no_speech_prob, seg.avg_logprob):
                continue
            kept.append(Segment(start_s=round(seg.start, 2), end_s=round(seg.end, 2), text=text))
            probs.append(min(1.0, math.exp(seg.avg_logprob)))
        text = " ".join(s.text for s in kept).strip()
        confidence = sum(probs) / len(probs) if probs else 0.0
        return Transcript(
            text=text,
            segments=tuple(kept),
            confidence=round(confidence, 3),
            latency_ms=(time.perf_counter() - start) * 1000.0,
        )

    def full_window(self):
        """A context in which this thread's transcriptions listen with Whisper's whole 30-s window."""
        return self.model.full_window()

    def _decode(self, samples: np.ndarray) -> list:
        """faster-whisper's segments for one turn, decoded to the end."""
        segments, _info = self.model.transcribe(
            samples,
            language=self.settings.language,
            task="transcribe",
            beam_size=self.settings.whisper_beam_size,
            vad_filter=self.settings.whisper_vad,
            condition_on_previous_text=False,  # stops one hallucination from seeding the next
            without_timestamps=False,
        )
        return list(segments)
