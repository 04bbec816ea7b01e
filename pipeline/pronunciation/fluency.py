"""Speech detection and fluency: where the learner spoke, how fast, with what pauses, how clearly.

``speech_stretches`` finds the stretches of speech with the Silero VAD bundled with faster-whisper;
``measure_fluency`` turns them into a speech rate, long pauses and a 0–100 fluency score; and
``estimate_snr_db`` says roughly how far the speech stands above the noise (the scorer calls an
attempt too unclear to judge when it does not).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.pronunciation.results import Fluency
from pipeline.types import Audio

#: A silence at least this long between two stretches of speech is a long pause.
LONG_PAUSE_S = 0.6
#: Comfortable reading rates, in syllables per second of speaking.
RATE_RANGE_SPS = (2.5, 7.5)


def speech_stretches(audio: Audio) -> list[tuple[float, float]]:
    """(start_s, end_s) of each stretch of speech, by the Silero VAD bundled with faster-whisper."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(threshold=0.5, min_silence_duration_ms=200, speech_pad_ms=60)
    chunks = get_speech_timestamps(audio.samples, options, sampling_rate=audio.sample_rate)
    return [(c["start"] / audio.sample_rate, c["end"] / audio.sample_rate) for c in chunks]


def measure_fluency(stretches: Sequence[tuple[float, float]], syllables_heard: int, coverage: float = 1.0) -> Fluency:
    """Speech rate, long pauses and how much of the target was read → a 0–100 fluency score.

    ``fluency = (rate_score − pause_penalty) × coverage²``, clipped to 0–100, where the rate score
    is 100 inside ``RATE_RANGE_SPS``, falls to 0 at 0.8 syllables/s and to 50 at 11 syllables/s;
    the pause penalty is 15 points per long pause plus 10 per second of pausing beyond one; and
    ``coverage`` (0–1) is the share of the target's syllables the audio supports. Squared, so that
    reading another sentence that shares a few endings with the target (…도 …다: a third of the
    syllables) stays far below 40, while a reading of the whole target keeps its rate score.
    """
    if not stretches or syllables_heard <= 0:
        return Fluency(0.0, 0.0, 0, 0.0, 0.0)
    speech_s = stretches[-1][1] - stretches[0][0]
    gaps = [b[0] - a[1] for a, b in zip(stretches, stretches[1:], strict=False)]
    long_gaps = [g for g in gaps if g >= LONG_PAUSE_S]
    pause_s = sum(long_gaps)
    speaking_s = max(0.2, speech_s - pause_s)
    rate = syllables_heard / speaking_s
    low, high = RATE_RANGE_SPS
    if rate < low:
        rate_score = 100.0 * max(0.0, (rate - 0.8) / (low - 0.8))
    elif rate > high:
        rate_score = max(50.0, 100.0 - 50.0 * (rate - high) / (11.0 - high))
    else:
        rate_score = 100.0
    penalty = 15.0 * len(long_gaps) + 10.0 * max(0.0, pause_s - 1.0)
    score = max(0.0, min(100.0, (rate_score - penalty) * max(0.0, min(1.0, coverage)) ** 2))
    return Fluency(round(speech_s, 2), round(rate, 2), len(long_gaps), round(pause_s, 2), round(score, 1))


def estimate_snr_db(audio: Audio) -> float:
    """Rough signal-to-noise ratio of a recording, in dB: loud frames over quiet ones.

    20 ms frames; the 90th percentile of frame power (speech) over the 10th (the noise floor).
    Digital silence between words gives a very high value; steady hiss with no speech, about 0.
    """
    samples = np.asarray(audio.samples, dtype=np.float64)
    frame = max(1, int(0.02 * audio.sample_rate))
    n = len(samples) // frame
    if n < 5:
        return 0.0
    power = np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1)
    loud, quiet = np.percentile(power, 90), np.percentile(power, 10)
    return float(10.0 * np.log10((loud + 1e-12) / (quiet + 1e-12)))
