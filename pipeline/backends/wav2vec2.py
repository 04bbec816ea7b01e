"""Speech to text with a wav2vec2 CTC model in Hugging Face format, loaded from a local folder.

``MAUM_WAV2VEC2_MODEL`` names a folder as ``save_pretrained`` writes it (for example the output
of ``training/finetune_wav2vec2.py``): ``config.json`` and the weights of a
``Wav2Vec2ForCTC``, the tokenizer's ``vocab.json`` and the feature extractor settings
(``processor_config.json``, or ``preprocessor_config.json`` from older transformers). Nothing is
downloaded.
"""

from __future__ import annotations

import time
import unicodedata
from pathlib import Path

import numpy as np

from pipeline.errors import MissingDependencyError, ModelFilesError
from pipeline.pronunciation.ipa import IPA_SYMBOLS, WORD_BOUNDARY, split_ipa
from pipeline.settings import Settings, resolve_device
from pipeline.types import Audio, Segment, Transcript

_SETTING = "MAUM_WAV2VEC2_MODEL"
REQUIRED_FILES = ("config.json", "vocab.json")
# transformers 5 keeps the feature extractor inside processor_config.json; older folders have their own file.
FEATURE_FILES = ("processor_config.json", "preprocessor_config.json")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def check_model_folder(path: str) -> Path:
    """The folder named by the setting, checked for the files a wav2vec2 CTC model needs.

    Raises:
        ModelFilesError: the setting is empty, the folder is missing, or files are missing (named).
    """
    if not path.strip():
        raise ModelFilesError(detail=f"{_SETTING} is empty: set it to a local wav2vec2 CTC folder")
    folder = Path(path.strip())
    if not folder.is_dir():
        raise ModelFilesError(detail=f"{_SETTING}={path!r}: no such folder")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if not any((folder / name).is_file() for name in FEATURE_FILES):
        missing.append(" or ".join(FEATURE_FILES))
    if not any((folder / name).is_file() for name in WEIGHT_FILES) and not any(folder.glob("model*.safetensors")):
        missing.append(" or ".join(WEIGHT_FILES))
    if missing:
        raise ModelFilesError(detail=f"{_SETTING}={path!r} lacks {', '.join(missing)}")
    return folder


class Wav2Vec2Transcriber:
    """``Transcriber`` on ``Wav2Vec2ForCTC``; greedy or prefix-beam CTC decoding (``ctc_beam_size``).

    Inference runs under ``torch.inference_mode()`` with the model in ``eval()``.

    Raises:
        ModelFilesError: the folder setting is empty or wrong, or transformers cannot load it.
        MissingDependencyError: torch or transformers is not installed.
    """

    def __init__(self, settings: Settings) -> None:
        folder = check_model_folder(settings.wav2vec2_model)
        try:
            import torch
            from transformers import Wav2Vec2ForCTC, Wav2Vec2Processor
        except ImportError as exc:  # pragma: no cover - core dependencies
            raise MissingDependencyError(
                detail=f"the wav2vec2 transcriber needs torch and transformers: {exc}"
            ) from exc
        self._torch = torch
        try:
            self.processor = Wav2Vec2Processor.from_pretrained(str(folder), local_files_only=True)
            model = Wav2Vec2ForCTC.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFilesError(detail=f"{_SETTING}={str(folder)!r} does not load as Wav2Vec2ForCTC: {exc}") from exc
        tokenizer = self.processor.tokenizer
        if model.config.vocab_size < tokenizer.vocab_size:  # vocab.json, without never-emitted <s> </s>
            raise ModelFilesError(
                detail=f"{folder}: vocab.json has {tokenizer.vocab_size} tokens, "
                f"the model only {model.config.vocab_size} outputs"
            )
        self.device = torch.device(resolve_device(settings.device))
        self.model = model.to(self.device).eval()
        self.blank_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
        self.sample_rate = int(self.processor.feature_extractor.sampling_rate)
        self.beam_size = max(1, settings.ctc_beam_size)
        self.name = f"wav2vec2:{folder.name}"

    def transcribe(self, audio: Audio) -> Transcript:
        """Audio (16 kHz mono float32) → text."""
        from models.deepspeech2 import ctc_confidence, ctc_prefix_beam_search

        torch = self._torch
        if audio.sample_rate != self.sample_rate:
            raise ValueError(f"expected {self.sample_rate} Hz audio, got {audio.sample_rate} Hz")
        start = time.perf_counter()
        inputs = self.processor.feature_extractor(
            np.asarray(audio.samples, dtype=np.float32), sampling_rate=self.sample_rate, return_tensors="pt"
        )
        with torch.inference_mode():
            logits = self.model(inputs.input_values.to(self.device)).logits[0]
            log_probs = torch.log_softmax(logits.float(), dim=-1).cpu()
        tokenizer = self.processor.tokenizer
        if self.beam_size > 1:
            ids = ctc_prefix_beam_search(log_probs, beam_width=self.beam_size, blank_id=self.blank_id)[0][0]
            text = tokenizer.decode(ids, group_tokens=False, skip_special_tokens=True)
        else:
            # The tokenizer merges repeats before it drops the blank (<pad>); <unk> is dropped too.
            text = tokenizer.decode(log_probs.argmax(dim=-1).tolist(), skip_special_tokens=True)
        text = " ".join(unicodedata.normalize("NFC", text).split())
        confidence = ctc_confidence(log_probs, log_probs.shape[0], self.blank_id)
        return Transcript(
            text=text,
            segments=(Segment(0.0, round(audio.duration_s, 2), text),) if text else (),
            confidence=round(confidence, 3) if text else 0.0,
            latency_ms=(time.perf_counter() - start) * 1000.0,
        )


class Wav2Vec2Phonemes:
    """``PhonemeRecognizer`` on a wav2vec2 CTC folder whose tokens are IPA symbols (``MAUM_PHONEME_MODEL``).

    Raises:
        ModelFilesError: the folder does not load, or its tokenizer has no IPA symbols.
    """

    name = "wav2vec2-phonemes"

    def __init__(self, settings: Settings) -> None:
        self.transcriber = Wav2Vec2Transcriber(settings)
        if not set(IPA_SYMBOLS) & set(self.transcriber.processor.tokenizer.get_vocab()):
            raise ModelFilesError(
                detail=f"MAUM_PHONEME_MODEL={settings.wav2vec2_model!r}: the tokenizer has no IPA symbols"
            )

    def recognize_phonemes(self, audio: Audio) -> list[str]:
        """Audio (16 kHz mono float32) → the IPA symbols heard, in order (word boundaries left out)."""
        text = self.transcriber.transcribe(audio).text
        return [s for s in split_ipa("".join(text.split())) if s != WORD_BOUNDARY]
