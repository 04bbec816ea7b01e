"""How a reply's tone changes a voice: one table shared by every synthesizer.

A tone is a reply kind (``crisis``) or the client's emotion label (``pipeline.stages.reply_tone``).
espeak-ng uses both the rate factor and the pitch; Kokoro, Tacotron and VITS scale their speed by
the rate factor.
"""

from __future__ import annotations

from typing import NamedTuple

_PITCH_NEUTRAL = 50  # espeak-ng's default pitch (0-99)


class Tone(NamedTuple):
    """How a tone changes the voice: a factor on the configured rate and an espeak-ng pitch."""

    rate: float
    pitch: int


#: Voice per tone (a reply kind or the client's emotion label). Unknown tones sound neutral.
TONES: dict[str, Tone] = {
    "": Tone(1.0, _PITCH_NEUTRAL),
    "neutral": Tone(1.0, _PITCH_NEUTRAL),
    "crisis": Tone(0.85, 42),  # calm, slow and steady: every word of a crisis line must be clear
    "sadness": Tone(0.88, 44),
    "fear": Tone(0.9, 46),
    "anger": Tone(0.94, 46),  # calm, not matching the heat
    "disgust": Tone(0.95, 48),
    "surprise": Tone(1.0, 54),
    "happiness": Tone(1.05, 56),
}
