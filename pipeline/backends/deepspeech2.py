"""Speech to text with our own DeepSpeech2 checkpoints (``models/deepspeech2.py``).

The checkpoint named by ``MAUM_DEEPSPEECH2_CHECKPOINT`` (``best.pt`` from
``training/train_deepspeech2.py``) carries the weights, the model config, the feature settings
and the output vocabulary; the model is rebuilt from them (``torch.load(weights_only=True)``).
A checkpoint with an IPA vocabulary recognises phonemes: its ``transcribe`` returns the IPA
symbols as text and ``recognize_phonemes`` returns them as a list, for pronunciation feedback.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pipeline.errors import MissingDependencyError, ModelFilesError
from pipeline.settings import Settings, resolve_device
from pipeline.speech.asr_features import FeatureConfig, extract_features
from pipeline.speech.asr_vocab import Vocabulary
from pipeline.types import Audio, Segment, Transcript

try:
    import torch

    from models.deepspeech2 import ctc_confidence, ctc_greedy_decode, ctc_prefix_beam_search, load_checkpoint
except ImportError as exc:  # pragma: no cover - torch is a core dependency
    raise MissingDependencyError(detail=f"the deepspeech2 transcriber needs torch: {exc}") from exc

_SETTING = "MAUM_DEEPSPEECH2_CHECKPOINT"


class DeepSpeech2Transcriber:
    """``Transcriber`` on a DeepSpeech2 checkpoint; greedy or prefix-beam CTC decoding (``ctc_beam_size``).

    Inference runs under ``torch.inference_mode()`` with the model in ``eval()``, which reads the
    weights only, so one instance may serve several threads.

    Raises:
        ModelFilesError: the checkpoint setting is empty, names no file, or the file is not a
            complete DeepSpeech2 checkpoint (weights, config, feature settings, vocabulary).
    """

    def __init__(self, settings: Settings) -> None:
        path = settings.deepspeech2_checkpoint.strip()
        if not path:
            raise ModelFilesError(
                detail=f"{_SETTING} is empty: set it to a checkpoint written by training/train_deepspeech2.py"
            )
        if not Path(path).is_file():
            raise ModelFilesError(detail=f"{_SETTING}={path!r}: no such file")
        try:
            loaded = load_checkpoint(path, map_location="cpu")
            self.features = FeatureConfig.from_dict(loaded.extra["features"])
            self.vocab = Vocabulary.from_dict(loaded.extra["vocab"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelFilesError(detail=f"{_SETTING}={path!r} is not a usable DeepSpeech2 checkpoint: {exc}") from exc
        config = loaded.config
        if len(self.vocab) != config.vocab_size or self.features.n_features != config.n_features:
            raise ModelFilesError(
                detail=f"{path}: vocabulary ({len(self.vocab)}) or features ({self.features.n_features}) "
                f"do not match the model ({config.vocab_size}, {config.n_features})"
            )
        self.device = torch.device(resolve_device(settings.device))
        self.model = loaded.model.to(self.device).eval()
        self.blank_id = config.blank_id
        self.beam_size = max(1, settings.ctc_beam_size)
        self.name = f"deepspeech2:{Path(path).name}"
        # One short run now, so the first client does not wait for librosa and the kernels to load.
        self._decode_ids(Audio(np.zeros(self.features.sample_rate // 2, dtype=np.float32), self.features.sample_rate))

    @property
    def recognizes_phonemes(self) -> bool:
        """Whether the checkpoint writes IPA symbols rather than Hangul."""
        return self.vocab.kind == "ipa"

    def _decode_ids(self, audio: Audio) -> tuple[list[int], float]:
        if audio.sample_rate != self.features.sample_rate:
            raise ValueError(f"expected {self.features.sample_rate} Hz audio, got {audio.sample_rate} Hz")
        feats = torch.from_numpy(extract_features(np.asarray(audio.samples, dtype=np.float32), self.features))
        with torch.inference_mode():
            log_probs, lengths = self.model(feats[None].to(self.device), torch.tensor([feats.shape[1]]))
            n = int(lengths[0])
            frames = log_probs[0, :n].float().cpu()
        if self.beam_size > 1:
            ids = ctc_prefix_beam_search(frames, beam_width=self.beam_size, blank_id=self.blank_id)[0][0]
        else:
            ids = ctc_greedy_decode(frames[None], blank_id=self.blank_id)[0]
        return ids, ctc_confidence(frames, n, self.blank_id)

    def transcribe(self, audio: Audio) -> Transcript:
        """Audio (16 kHz mono float32) → text (IPA symbols for an IPA checkpoint)."""
        start = time.perf_counter()
        ids, confidence = self._decode_ids(audio)
        text = self.vocab.decode(ids)
        return Transcript(
            text=text,
            segments=(Segment(0.0, round(audio.duration_s, 2), text),) if text else (),
            confidence=round(confidence, 3) if text else 0.0,
            latency_ms=(time.perf_counter() - start) * 1000.0,
        )

    def recognize_phonemes(self, audio: Audio) -> list[str]:
        """Audio → the IPA symbols heard, in order (word boundaries left out).

        Raises:
            ModelFilesError: the checkpoint writes Hangul, not IPA.
        """
        if not self.recognizes_phonemes:
            raise ModelFilesError(detail=f"{self.name} has a {self.vocab.kind} vocabulary, not IPA")
        ids, _ = self._decode_ids(audio)
        return [u for u in self.vocab.decode_units(ids) if u.strip()]


class DeepSpeech2Phonemes(DeepSpeech2Transcriber):
    """``PhonemeRecognizer`` on a DeepSpeech2 checkpoint with an IPA vocabulary (``MAUM_PHONEME_MODEL``).

    Still a ``Transcriber`` too: it writes the same symbols run together as text.

    Raises:
        ModelFilesError: the checkpoint writes Hangul, not IPA.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        if not self.recognizes_phonemes:
            path = settings.deepspeech2_checkpoint
            raise ModelFilesError(detail=f"MAUM_PHONEME_MODEL={path!r} writes {self.vocab.kind}, not IPA")
