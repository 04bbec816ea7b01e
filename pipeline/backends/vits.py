"""Text to speech with a VITS model from a local Hugging Face folder (``transformers.VitsModel``).

``MAUM_VITS_MODEL`` names a folder with ``config.json``, the weights and the tokenizer files
(``vocab.json``, ``tokenizer_config.json``), e.g. a Korean MMS-TTS model (``facebook/mms-tts-kor``,
CC-BY-NC 4.0) that the operator downloaded once; nothing is fetched at run time.

What the tokenizer expects depends on the model, and its ``tokenizer_config.json`` says so:

* ``is_uroman: true`` (MMS-TTS Korean is one): the model was trained on *romanised* text
  (``오늘 하루`` → ``oneul haru``). This backend romanises each sentence with the ``uroman``
  package (a dependency) before the tokenizer sees it. The tokenizer could do it too, but it builds
  a new romaniser, about 2.5 s of table loading, for every call; here one is built at start-up.
  Without ``uroman`` the tokenizer would only log a warning and drop every non-Latin character,
  so the backend refuses to start rather than speak silence.
* ``phonemize: true`` (some English MMS models): needs the ``phonemizer`` package and espeak.
* otherwise characters are looked up in ``vocab.json`` as they are: a model trained on Hangul
  syllables gets syllables; one whose vocabulary has conjoining jamo but no syllables gets jamo.

Text is read out by ``pipeline.text.normalize`` first (numbers in Hangul), cut into sentences, and the
sentences are joined with short pauses. The speaking rate follows the reply's tone as for espeak.
"""

from __future__ import annotations

import importlib.util
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.audio import join_sentences
from pipeline.errors import BackendError, MissingDependencyError, ModelFilesError
from pipeline.settings import Settings, resolve_device
from pipeline.speech.tones import TONES
from pipeline.speech.tts_text import to_jamo
from pipeline.text.normalize import normalize, split_sentences
from pipeline.types import Speech

try:
    import torch
    from transformers import AutoTokenizer, VitsModel
except ImportError as exc:  # pragma: no cover - core dependencies
    raise MissingDependencyError(detail=f"the vits synthesizer needs torch and transformers: {exc}") from exc

_SETTING = "MAUM_VITS_MODEL"
_PAUSE_S = 0.25  # between sentences
_SYLLABLE = re.compile(r"[가-힣]")
_CONJOINING_JAMO = re.compile(r"[\u1100-\u11ff]")


class VitsSynthesizer:
    """``Synthesizer`` on ``transformers.VitsModel`` + its tokenizer, loaded with ``local_files_only``.

    Raises:
        ModelFilesError: the setting is empty, or the folder is missing or not a VITS model.
        MissingDependencyError: the model needs ``uroman`` or ``phonemizer`` and it is not installed.
    """

    name = "vits"

    def __init__(self, settings: Settings) -> None:
        path = settings.vits_model.strip()
        if not path:
            raise ModelFilesError(detail=f"{_SETTING} is empty: set it to a local VITS folder (config.json, weights)")
        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise ModelFilesError(detail=f"{_SETTING}={path!r}: no config.json there")
        try:
            self.tokenizer: Any = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.model = VitsModel.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFilesError(detail=f"{_SETTING}={path!r} is not a usable VITS model: {exc}") from exc
        self.romaniser: Any = None
        if getattr(self.tokenizer, "is_uroman", False):
            if importlib.util.find_spec("uroman") is None:
                raise MissingDependencyError(
                    detail=f"{path} expects romanised text (tokenizer is_uroman=true, as MMS-TTS Korean): "
                    "pip install uroman"
                )
            import uroman

            self.romaniser = uroman.Uroman()
        if getattr(self.tokenizer, "phonemize", False) and importlib.util.find_spec("phonemizer") is None:
            raise MissingDependencyError(
                detail=f"{path} expects phonemes (tokenizer phonemize=true): pip install phonemizer"
            )
        vocab = "".join(self.tokenizer.get_vocab())
        self.wants_jamo = not _SYLLABLE.search(vocab) and bool(_CONJOINING_JAMO.search(vocab))
        self.device = torch.device(resolve_device(settings.device))
        self.model.to(self.device).eval()
        self.sample_rate = int(self.model.config.sampling_rate)
        self.pad_id = self.tokenizer.pad_token_id
        self._lock = threading.Lock()  # one forward pass at a time: VITS is large for a CPU
        self.name = f"vits:{folder.name}"

    def waveform(self, sentence: str, rate: float = 1.0) -> np.ndarray:
        """One normalised sentence → (time,) float32 at ``sample_rate``.

        Raises:
            BackendError: the tokenizer keeps no character of the sentence.
        """
        if self.romaniser is not None:
            text = self.romaniser.romanize_string(sentence)
        else:
            text = to_jamo(sentence) if self.wants_jamo else sentence
        inputs = self.tokenizer(text, return_tensors="pt")
        ids = inputs["input_ids"]
        if ids.numel() == 0 or bool((ids == self.pad_id).all()):
            raise BackendError(detail=f"the VITS vocabulary has none of the characters in {sentence[:40]!r}")
        with self._lock, torch.inference_mode():
            out = self.model(**inputs.to(self.device), speaking_rate=rate)
        return out.waveform[0].float().cpu().numpy()

    def synthesize(self, text: str, *, tone: str = "") -> Speech:
        """Korean text → 16-bit mono WAV at the model's sample rate; ``tone`` sets the pace."""
        start = time.perf_counter()
        sentences = split_sentences(normalize(text))
        if not sentences:
            raise BackendError(detail="nothing to synthesize")
        rate = TONES[tone].rate if tone in TONES else 1.0
        pieces: list[np.ndarray] = []
        unreadable: BackendError | None = None
        for sentence in sentences:
            try:
                samples = self.waveform(sentence, rate)
            except BackendError as exc:  # say the rest; fail only when nothing at all is readable
                unreadable = exc
                continue
            pieces.append(samples)
        if not pieces:
            raise unreadable or BackendError(detail="nothing to synthesize")
        return join_sentences(pieces, self.sample_rate, pause_s=_PAUSE_S, started=start)
