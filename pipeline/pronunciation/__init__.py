"""Pronunciation coaching: standard pronunciation (표준발음법), IPA, alignment, scores, feedback.

* ``g2p.pronounce(text)``: the standard pronunciation in Hangul and IPA, with every rule applied.
* ``ipa``: the Korean phoneme inventory in IPA and Hangul → IPA conversion.
* ``alignment``: expected vs heard phonemes, per syllable.
* ``scoring``: the scorer: a recording rated against its sentence, syllable by syllable.
* ``fluency``: speech detection (Silero VAD), speech rate, long pauses, signal-to-noise.
* ``results``: what an attempt gives back (``PronunciationScore``, ``SyllableScore``, ``Fluency``).
* ``feedback``: what to tell the learner, in Korean.
"""
