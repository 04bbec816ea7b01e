"""Maum's voice pipeline: plain Python, no Flask.

speech → ``Transcriber`` → ``care.assess_risk`` → ``EmotionClassifier`` → ``Responder`` →
``Synthesizer`` → speech. See ``pipeline.turn.Pipeline`` for one whole turn.
"""
