"""How much a recording's quality limits the verdicts: band-limited (telephone) or noisy audio.

Measured from the samples alone, never from a label:

* ``high_band_db``: the energy of the speech frames above ``HIGH_BAND_HZ`` relative to their
  energy from ``LOW_BAND_HZ`` up, in dB. A microphone recording at 16 kHz keeps the fricatives and
  bursts up to 8 kHz (about −15 to −30 dB up there); audio that came through a telephone line or
  an 8 kHz codec has next to nothing above 3.4–4 kHz (below −45 dB).
* ``snr_db``: loud frames over quiet ones (``fluency.estimate_snr_db``): speech over the noise floor.

The phoneme head was trained mostly on clean wide-band synthetic speech, and on band-limited or
noisy audio it finds "better" learner-like variants for correct syllables (holdout_v2: 12.5 % of a
native speaker's syllables through a telephone band with noise). On such audio the scorer lets the
head lower a syllable to "unsure" but not to "wrong" (``scoring.judge_syllable``'s ``degraded``),
and the learner is told that the recording limited the verdicts (``QUALITY_NOTE``).

Thresholds were set on the calibration split of ``tests/data/pronunciation_set`` only (its clean,
telephone and noisy conditions, 98 clips under each; ``benchmarks.pronunciation_bench --quality``),
where the two measures tell the four conditions apart without a single error. No human speech was
used (the NIKL recordings are in holdout_v2); the calibration's synthetic readings have digital
silence between words, so how many real clean recordings fall under ``NOISY_SNR_DB`` is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.pronunciation.fluency import estimate_snr_db
from pipeline.types import Audio

#: Energy above this (Hz) is what a telephone band cuts (300–3400 Hz, through 8 kHz).
HIGH_BAND_HZ = 3800.0
#: Energy below this (Hz) is left out of the reference (hum, breath, DC).
LOW_BAND_HZ = 300.0
#: Band-limited when the speech's high band is at most this far (dB) below its whole band.
#: Calibration: clean readings −30.3 dB at the lowest (Kokoro; espeak −28.8), telephone-band ones
#: −63.3 dB at the highest; about half-way, nearer the clean side's far end.
BAND_LIMITED_DB = -48.0
#: Noisy when the loud frames stand less than this (dB) above the quiet ones. Calibration: 10–20 dB
#: white noise measures 11.9–25.8 dB, clean synthetic readings 97 dB and more (digital silence
#: between words). Kept just above the noisy readings: a real room is never that silent, and the
#: lower this is, the fewer clean human recordings lose the head's "wrong".
NOISY_SNR_DB = 30.0
#: Frames of this many seconds; the loudest SPEECH_SHARE of them count as speech.
FRAME_S = 0.032
SPEECH_SHARE = 0.5

QUALITY_NOTE = {
    "band_limited": "전화처럼 좁은 음역으로 녹음되어",
    "noisy": "주변 소리가 함께 녹음되어",
    "both": "좁은 음역에 주변 소리까지 함께 녹음되어",
}
QUALITY_ADVICE = (
    "음절 하나하나를 정확히 듣기 어려웠어요. 그래서 확실하지 않은 음절은 '다시 해 봐요' 대신 "
    "'애매해요'로 표시했어요. 조용한 곳에서 마이크에 가까이 대고 읽으면 더 정확하게 알려 드릴 수 있어요."
)


@dataclass(frozen=True)
class AudioQuality:
    """What limits a recording (see the module docstring).

    Attributes:
        high_band_db: speech energy above ``HIGH_BAND_HZ`` relative to above ``LOW_BAND_HZ``, dB.
        snr_db: loud frames over quiet ones, dB.
        band_limited: ``high_band_db`` at or below ``BAND_LIMITED_DB``.
        noisy: ``snr_db`` below ``NOISY_SNR_DB``.
    """

    high_band_db: float
    snr_db: float
    band_limited: bool
    noisy: bool

    @property
    def degraded(self) -> bool:
        """Band-limited or noisy: the phoneme head alone may not call a syllable wrong."""
        return self.band_limited or self.noisy

    def message(self) -> str:
        """A plain Korean sentence for the learner ("" when the recording is fine)."""
        if not self.degraded:
            return ""
        if self.band_limited and self.noisy:
            cause = QUALITY_NOTE["both"]
        else:
            cause = QUALITY_NOTE["band_limited" if self.band_limited else "noisy"]
        return f"{cause} {QUALITY_ADVICE}"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (the practice API returns it as ``quality``)."""
        return {
            "degraded": self.degraded,
            "band_limited": self.band_limited,
            "noisy": self.noisy,
            "high_band_db": round(self.high_band_db, 1),
            "snr_db": round(self.snr_db, 1),
            "message": self.message(),
        }


def high_band_db(audio: Audio) -> float:
    """Energy of the loudest frames above ``HIGH_BAND_HZ`` relative to above ``LOW_BAND_HZ``, in dB.

    Only the loudest ``SPEECH_SHARE`` of the frames count (speech, not the silence around it);
    Hann-windowed frames of ``FRAME_S``. Audio with no energy at all gives 0 dB (nothing to say).
    """
    samples = np.asarray(audio.samples, dtype=np.float64)
    rate = audio.sample_rate
    if rate < 2 * (HIGH_BAND_HZ + 1000.0):
        return -120.0  # sampled at a telephone's rate: it cannot hold the band that is missing
    frame = max(16, int(FRAME_S * rate))
    n = len(samples) // frame
    if n < 2:
        return 0.0
    frames = samples[: n * frame].reshape(n, frame)
    power = np.mean(frames**2, axis=1)
    loud = frames[power >= np.quantile(power, 1.0 - SPEECH_SHARE)]
    spectrum = np.abs(np.fft.rfft(loud * np.hanning(frame), axis=1)) ** 2
    freqs = np.fft.rfftfreq(frame, 1.0 / rate)
    total = float(spectrum[:, freqs >= LOW_BAND_HZ].sum())
    high = float(spectrum[:, freqs >= HIGH_BAND_HZ].sum())
    if total <= 0.0:
        return 0.0
    return float(10.0 * np.log10(max(high, total * 1e-12) / total))


def assess(audio: Audio) -> AudioQuality:
    """Measure how band-limited and how noisy a recording is (see the module docstring)."""
    band = high_band_db(audio)
    snr = estimate_snr_db(audio)
    return AudioQuality(band, snr, band <= BAND_LIMITED_DB, snr < NOISY_SNR_DB)
