"""Speech infrastructure: ASR features and vocabularies, noise, vocoder, TTS text, the voice and its cache."""
