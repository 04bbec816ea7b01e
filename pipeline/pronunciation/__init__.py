"""Pronunciation coaching: standard pronunciation (표준발음법), IPA, alignment, scores, feedback.

* ``g2p.pronounce(text)``: the standard pronunciation in Hangul and IPA, with every rule applied.
* ``ipa``: the Korean phoneme inventory in IPA and Hangul → IPA conversion.
* ``alignment``: expected vs heard phonemes, per syllable.
* ``scoring``: a recording scored against its sentence (accuracy, completeness, fluency).
* ``feedback``: what to tell the learner, in Korean.
"""
