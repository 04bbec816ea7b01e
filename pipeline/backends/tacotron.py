"""Text to speech with our own Tacotron checkpoints (``models/tacotron.py``) and Griffin-Lim.

The checkpoint named by ``MAUM_TACOTRON_CHECKPOINT`` (``tacotron.pt`` from
``training/train_tacotron.py``) carries the weights, the model config, the audio settings
(``pipeline.speech.vocoder.AudioConfig``) and the symbol table; the model is rebuilt from them with
``torch.load(weights_only=True)``. Text is read out by ``pipeline.text.normalize``, cut into sentences,
and each sentence becomes jamo symbols → mel (or linear) frames → Griffin-Lim waveform; the
sentences are joined with short pauses.

Speed follows the reply's tone like the espeak voice (``pipeline.speech.tones.TONES``): Griffin-
Lim rebuilds the waveform with a longer or shorter hop between frames, which slows or quickens the
speech without changing its pitch.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np

from pipeline.audio import join_sentences
from pipeline.errors import BackendError, MissingDependencyError, ModelFilesError
from pipeline.settings import Settings, resolve_device
from pipeline.speech.tones import TONES
from pipeline.speech.tts_text import TextEncoder
from pipeline.speech.vocoder import AudioConfig, griffin_lim
from pipeline.text.normalize import normalize, split_sentences
from pipeline.types import Speech

try:
    import torch

    from models.tacotron import load_checkpoint
except ImportError as exc:  # pragma: no cover - torch is a core dependency
    raise MissingDependencyError(detail=f"the tacotron synthesizer needs torch: {exc}") from exc

_SETTING = "MAUM_TACOTRON_CHECKPOINT"
_PAUSE_S = 0.25  # between sentences
_MAX_SECONDS_PER_SYMBOL = 0.25  # decoding stops here if the stop token never fires (≈ 4× a normal pace)


def tone_rate(tone: str) -> float:
    """Speaking-rate factor for a tone, shared with the espeak voice (1.0 for unknown tones)."""
    return TONES[tone].rate if tone in TONES else 1.0


class TacotronSynthesizer:
    """``Synthesizer`` on a Tacotron checkpoint with the Griffin-Lim vocoder.

    Inference runs under ``torch.inference_mode()`` with the model in ``eval()``; it reads the
    weights only, so one instance may serve several threads.

    Raises:
        ModelFilesError: the checkpoint setting is empty, names no file, or the file is not a
            complete Tacotron checkpoint (weights, config, audio settings, symbol table that agree).
    """

    name = "tacotron"

    def __init__(self, settings: Settings) -> None:
        path = settings.tacotron_checkpoint.strip()
        if not path:
            raise ModelFilesError(
                detail=f"{_SETTING} is empty: set it to a tacotron.pt written by training/train_tacotron.py"
            )
        if not Path(path).is_file():
            raise ModelFilesError(detail=f"{_SETTING}={path!r}: no such file")
        try:
            loaded = load_checkpoint(path)
            self.audio = AudioConfig.from_dict(loaded.extra["audio"])
            self.encoder = TextEncoder(loaded.extra["symbols"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelFilesError(detail=f"{_SETTING}={path!r} is not a usable Tacotron checkpoint: {exc}") from exc
        config = loaded.config
        bins = self.audio.n_linear if config.postnet_type == "cbhg" else self.audio.n_mels
        out_bins = config.n_linear if config.postnet_type == "cbhg" else config.n_mels
        if len(self.encoder) != config.vocab_size or bins != out_bins or config.n_mels != self.audio.n_mels:
            raise ModelFilesError(
                detail=f"{path}: symbols ({len(self.encoder)}) or spectrogram bins ({self.audio.n_mels}/{bins}) "
                f"do not match the model ({config.vocab_size}, {config.n_mels}/{out_bins})"
            )
        self.config = config
        self.device = torch.device(resolve_device(settings.device))
        self.model = loaded.model.to(self.device).eval()
        self.griffin_lim_iters = max(1, settings.griffin_lim_iters)
        self.name = f"tacotron:{Path(path).name}"

    def spectrogram(self, sentence: str) -> np.ndarray:
        """One normalised sentence → (frames, bins) float32 spectrogram, up to the stop token.

        Raises:
            BackendError: nothing in the sentence can be read.
        """
        ids = self.encoder.encode(sentence, normalized=True)
        if len(ids) < 2:
            raise BackendError(detail=f"no readable Korean in {sentence[:40]!r}")
        max_frames = len(ids) * _MAX_SECONDS_PER_SYMBOL * self.audio.frames_per_second
        max_steps = max(1, math.ceil(max_frames / self.config.reduction_factor))
        tokens = torch.tensor([ids], dtype=torch.long, device=self.device)
        out = self.model.inference(tokens, max_steps=max_steps)
        frames = int(out.lengths[0])
        return out.spectrogram[0, :frames].float().cpu().numpy()

    def synthesize(self, text: str, *, tone: str = "") -> Speech:
        """Korean text → 16-bit mono WAV at the checkpoint's sample rate; ``tone`` sets the pace."""
        start = time.perf_counter()
        sentences = [s for s in split_sentences(normalize(text)) if len(self.encoder.encode(s, normalized=True)) > 1]
        if not sentences:
            raise BackendError(detail="nothing to synthesize")
        rate = tone_rate(tone)
        audio = self.audio
        if rate != 1.0:  # same frames, wider or narrower hop: slower or faster speech, same pitch
            audio = dataclasses.replace(audio, hop_length=max(1, round(audio.hop_length / rate)))
        pieces = [griffin_lim(self.spectrogram(s), audio, n_iter=self.griffin_lim_iters) for s in sentences]
        return join_sentences(pieces, audio.sample_rate, pause_s=_PAUSE_S, started=start)
