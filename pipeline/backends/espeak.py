"""Text to speech with the espeak-ng Korean voice (offline, fast, robotic).

The text is first read out by ``pipeline.text.normalize`` (numbers, dates, phone numbers, Latin
letters, symbols → Hangul; markup and emoji dropped), because espeak-ng's own Korean rules read
``109`` or ``3시`` badly, then cut into sentences with ``split_sentences``. Each sentence is one
espeak-ng process (run side by side), joined with a short pause.

espeak-ng is a Debian package, run as a subprocess with the text as one argument (no shell),
so nothing in the text is interpreted: SSML and phoneme input stay off.

Speed and pitch follow the reply's tone (``pipeline.stages.reply_tone``) within a modest range:
crisis and sad replies are slower and a little lower, happy ones a little brighter (``pipeline.speech.tones.TONES``).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import time

import numpy as np
import soundfile as sf

from pipeline.audio import to_wav_bytes
from pipeline.errors import BackendError, MissingDependencyError
from pipeline.settings import Settings
from pipeline.speech.tones import TONES
from pipeline.text.normalize import normalize, split_sentences
from pipeline.types import Speech

_TIMEOUT_S = 20
_MAX_CHARS = 2000
_PAUSE_S = 0.25  # between sentences
_PARALLEL = 4  # espeak-ng processes at a time


class EspeakSynthesizer:
    """``Synthesizer`` on the ``espeak-ng`` command."""

    name = "espeak"

    def __init__(self, settings: Settings) -> None:
        self.binary = shutil.which("espeak-ng")
        if self.binary is None:
            raise MissingDependencyError(detail="espeak-ng is not installed: apt-get install espeak-ng")
        self.voice = settings.espeak_voice
        self.rate_wpm = settings.espeak_rate_wpm

    def command(self, sentence: str, tone: str = "") -> list[str]:
        """The espeak-ng command line that speaks one (normalised) sentence in ``tone``."""
        voice = TONES.get(tone, TONES[""])
        rate = max(80, round(self.rate_wpm * voice.rate))
        return [self.binary, "-v", self.voice, "-s", str(rate), "-p", str(voice.pitch), "--stdout", "--", sentence]

    def synthesize(self, text: str, *, tone: str = "") -> Speech:
        """Korean text → 16-bit mono WAV (22.05 kHz, espeak-ng's native rate).

        Args:
            text: the reply as written; it is normalised and split into sentences here.
            tone: ``crisis`` or an emotion label (see ``pipeline.speech.tones.TONES``); empty or unknown is neutral.

        Raises:
            BackendError: nothing speakable in ``text``, or espeak-ng failed or timed out.
        """
        start = time.perf_counter()
        sentences = split_sentences(normalize(text[: _MAX_CHARS * 2])[:_MAX_CHARS])
        if not sentences:
            raise BackendError(detail="nothing to synthesize")
        outputs: list[tuple[np.ndarray, int]] = []
        for batch_start in range(0, len(sentences), _PARALLEL):
            procs = [
                subprocess.Popen(self.command(s, tone), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for s in sentences[batch_start : batch_start + _PARALLEL]
            ]
            try:
                outputs.extend(self._collect(proc) for proc in procs)
            finally:
                for proc in procs:
                    if proc.poll() is None:
                        proc.kill()
                        proc.communicate()
        rate = outputs[0][1]
        pause = np.zeros(int(_PAUSE_S * rate), dtype=np.float32)
        pieces = []
        for i, (samples, _) in enumerate(outputs):
            pieces.extend([pause, samples] if i else [samples])
        audio = np.concatenate(pieces)
        return Speech(
            wav=to_wav_bytes(audio, rate),
            sample_rate=rate,
            duration_s=round(len(audio) / rate, 3),
            latency_ms=(time.perf_counter() - start) * 1000.0,
        )

    @staticmethod
    def _collect(proc: subprocess.Popen[bytes]) -> tuple[np.ndarray, int]:
        try:
            out, err = proc.communicate(timeout=_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise BackendError(detail="espeak-ng timed out") from None
        if proc.returncode != 0 or len(out) <= 44:
            raise BackendError(detail=f"espeak-ng failed: {err.decode('utf-8', 'replace')[-300:]}")
        samples, rate = sf.read(io.BytesIO(out), dtype="float32", always_2d=True)
        return samples[:, 0], rate
