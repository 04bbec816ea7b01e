"""Text to speech with the espeak-ng Korean voice (offline, fast, robotic).

espeak-ng is a Debian package, run as a subprocess with the text as one argument (no shell),
so nothing in the text is interpreted: SSML and phoneme input stay off.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import time

import soundfile as sf

from pipeline.errors import BackendError, MissingDependencyError
from pipeline.settings import Settings
from pipeline.types import Speech

_TIMEOUT_S = 20
_MAX_CHARS = 2000


class EspeakSynthesizer:
    """``Synthesizer`` on the ``espeak-ng`` command."""

    name = "espeak"

    def __init__(self, settings: Settings) -> None:
        self.binary = shutil.which("espeak-ng")
        if self.binary is None:
            raise MissingDependencyError(detail="espeak-ng is not installed: apt-get install espeak-ng")
        self.voice = settings.espeak_voice
        self.rate_wpm = settings.espeak_rate_wpm

    def synthesize(self, text: str) -> Speech:
        """Korean text → 16-bit mono WAV (22.05 kHz, espeak-ng's native rate)."""
        text = " ".join(text.split())[:_MAX_CHARS]
        if not text:
            raise BackendError(detail="nothing to synthesize")
        start = time.perf_counter()
        cmd = [self.binary, "-v", self.voice, "-s", str(self.rate_wpm), "--stdout", "--", text]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise BackendError(detail="espeak-ng timed out") from None
        if proc.returncode != 0 or len(proc.stdout) <= 44:
            raise BackendError(detail=f"espeak-ng failed: {proc.stderr.decode('utf-8', 'replace')[-300:]}")
        info = sf.info(io.BytesIO(proc.stdout))
        return Speech(
            wav=proc.stdout,
            sample_rate=info.samplerate,
            duration_s=round(info.duration, 3),
            latency_ms=(time.perf_counter() - start) * 1000.0,
        )
