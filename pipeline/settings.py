"""Pipeline settings: one frozen dataclass, loaded from ``MAUM_*`` environment variables.

Every field carries a one-line ``help`` in its metadata; the README lists them all (a test checks).
Nothing here reads the environment at import time: call ``Settings.from_env()``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ENV_PREFIX = "MAUM_"

T = TypeVar("T")


def setting(default: Any, help: str) -> Any:  # noqa: A002 - "help" reads best in the field table
    """A dataclass field with a one-line help text."""
    return field(default=default, metadata={"help": help})


def default_cache_dir() -> str:
    """Where prepared model files go: ``$XDG_CACHE_HOME/maum`` or ``~/.cache/maum``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "maum")


@dataclass(frozen=True)
class Settings:
    """What the voice pipeline runs with. Safe defaults work offline on a CPU."""

    device: str = setting("auto", "Where neural models run: auto, cpu, or cuda:N.")
    transcriber: str = setting("whisper", "Speech-to-text backend (see pipeline/registry.py).")
    classifier: str = setting("e5-head", "Emotion classifier backend.")
    responder: str = setting("care", "Reply backend.")
    synthesizer: str = setting("kokoro", "Text-to-speech backend.")
    synthesizer_fallback: str = setting(
        "espeak", "Synthesizer used when the configured one cannot load or fails (empty: none)."
    )
    cache_dir: str = setting("", "Folder for prepared model files; empty means ~/.cache/maum.")
    whisper_model: str = setting("", "Whisper model: empty for the bundled base model, or a local CTranslate2 folder.")
    whisper_compute_type: str = setting("int8", "CTranslate2 compute type for Whisper.")
    whisper_beam_size: int = setting(5, "Whisper beam size (5: fewer errors; 1 is greedy and fastest).")
    whisper_cpu_threads: int = setting(2, "CPU threads for Whisper; 0 lets CTranslate2 choose.")
    whisper_window_s: float = setting(
        15.0, "Shortest audio window Whisper encodes, in seconds; 30 (its full window) encodes every window whole."
    )
    whisper_vad: bool = setting(True, "Skip non-speech with the Silero VAD bundled in faster-whisper.")
    phoneme_model: str = setting(
        "", "Phoneme recogniser for pronunciation scoring (IPA DeepSpeech2 .pt or wav2vec2 folder); empty: transcript."
    )
    deepspeech2_checkpoint: str = setting("", "DeepSpeech2 checkpoint (.pt from training/train_deepspeech2.py).")
    wav2vec2_model: str = setting("", "Local Hugging Face-format wav2vec2 CTC folder (model, tokenizer, features).")
    ctc_beam_size: int = setting(1, "Beam width of the CTC transcribers (deepspeech2, wav2vec2); 1 is greedy.")
    language: str = setting("ko", "Language spoken by clients (Whisper language code).")
    emotion_head: str = setting("", "Emotion head file (.npz); empty means the one shipped in pipeline/assets.")
    risk_classifier: str = setting(
        "auto", "Risk classifier beside the rules: auto (when the emotion classifier is e5-head), e5-head, or rules."
    )
    risk_head: str = setting("", "Risk classifier head file (.npz); empty means the one shipped in pipeline/assets.")
    replies_path: str = setting("", "Curated reply bank (JSON); empty means the one shipped in pipeline/care/data.")
    care_min_match: float = setting(
        0.92, "Cue similarity (e5 cosine) below which the care responder invites more instead of guessing."
    )
    care_min_emotion: float = setting(
        0.6, "Emotion probability the care responder trusts when no cue is close in meaning."
    )
    klue_bert_model: str = setting("", "Fine-tuned BERT emotion model folder (config.json, weights, tokenizer).")
    klue_bert_max_tokens: int = setting(128, "Longest input the klue-bert classifier reads, in tokens.")
    klue_bert_batch_size: int = setting(32, "Sentences per forward pass when klue-bert classifies a batch.")
    kogpt2_model: str = setting("", "Fine-tuned KoGPT2 folder written by training/finetune_kogpt2.py.")
    kogpt2_fallback: str = setting(
        "care", "Responder used for high-risk turns and whenever a generated reply fails or is rejected."
    )
    kogpt2_max_new_tokens: int = setting(48, "Most tokens KoGPT2 may generate for one reply.")
    kogpt2_max_time_s: float = setting(2.0, "Wall-time budget for generating one reply, in seconds.")
    kogpt2_top_p: float = setting(0.9, "Nucleus sampling: sample from the smallest token set with this probability.")
    kogpt2_temperature: float = setting(0.8, "Sampling temperature (lower is more conservative).")
    kogpt2_repetition_penalty: float = setting(1.3, "Penalty on tokens already in the prompt or reply (1 = none).")
    kogpt2_no_repeat_ngram: int = setting(3, "Never repeat a token n-gram of this size (0 = off).")
    kogpt2_candidates: int = setting(3, "Replies sampled per turn; the first that passes the safety rails is used.")
    kogpt2_history_turns: int = setting(2, "Earlier exchanges of the conversation put in the prompt.")
    kogpt2_max_reply_chars: int = setting(160, "Longest generated reply accepted, in characters.")
    keras_emotion_model: str = setting("", "Keras emotion classifier (.keras file) for the keras classifier.")
    kokoro_voice: str = setting(
        "jf_gongitsune", "Kokoro voice (jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo)."
    )
    kokoro_speed: float = setting(
        1.0, "Kokoro speaking speed (1 is the voice's own; replies in a crisis tone are slower)."
    )
    kokoro_threads: int = setting(2, "CPU threads for one Kokoro run; 0 lets onnxruntime choose.")
    kokoro_nice: int = setting(
        10, "How much lower than the rest Kokoro's threads run (nice increment, 0-19): transcription goes first."
    )
    tts_cache_dir: str = setting(
        "", "Folder of synthesised sentences; empty: <cache_dir>/tts (the web app: instance/cache/tts)."
    )
    tts_cache_max_bytes: int = setting(
        200 * 1024 * 1024, "Largest size of the sentence cache, in bytes (oldest used go first)."
    )
    espeak_voice: str = setting("ko", "espeak-ng voice name.")
    espeak_rate_wpm: int = setting(160, "espeak-ng speaking rate in words per minute.")
    tacotron_checkpoint: str = setting("", "Tacotron checkpoint (.pt from training/train_tacotron.py).")
    griffin_lim_iters: int = setting(32, "Griffin-Lim iterations of the tacotron synthesizer (more: cleaner, slower).")
    vits_model: str = setting("", "Local Hugging Face VITS folder (e.g. a Korean MMS-TTS model).")
    max_audio_s: float = setting(60.0, "Longest accepted recording, in seconds.")
    min_audio_s: float = setting(0.2, "Shortest accepted recording, in seconds.")
    max_audio_bytes: int = setting(25 * 1024 * 1024, "Largest accepted audio upload, in bytes.")
    silence_dbfs: float = setting(-55.0, "Recordings quieter than this RMS level (dBFS) count as silent.")
    max_text_chars: int = setting(1000, "Longest accepted typed message, in characters.")

    @property
    def resolved_cache_dir(self) -> Path:
        """The model cache folder: ``MAUM_CACHE_DIR``, else ``$XDG_CACHE_HOME/maum`` or ``~/.cache/maum``."""
        return Path(self.cache_dir or default_cache_dir())

    @classmethod
    def from_env(cls: type[T], environ: Mapping[str, str] | None = None, prefix: str = ENV_PREFIX) -> T:
        """Build settings from ``{prefix}{FIELD_NAME}`` variables; unset ones keep their defaults."""
        return load_from_env(cls, environ if environ is not None else os.environ, prefix)


def env_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of ``cls`` that are single environment variables (not marked ``env: False``)."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("env", True)]


def load_from_env(cls: type[T], environ: Mapping[str, str], prefix: str) -> T:
    """Fill the simple-typed fields of dataclass ``cls`` from ``environ``.

    Raises:
        ValueError: a variable does not parse as its field's type (names the variable).
    """
    values: dict[str, Any] = {}
    for f in env_fields(cls):
        name = prefix + f.name.upper()
        if name not in environ:
            continue
        raw = environ[name].strip()
        values[f.name] = _parse(raw, f.type, name)
    return cls(**values)


#: The words a boolean setting or command-line option means (any case).
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def parse_bool(text: str) -> bool:
    """``true``/``false`` (and yes/no, on/off, 1/0, any case) as a bool: the one reading of a flag's words.

    Raises:
        ValueError: for any other text.
    """
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError(f"expected true or false, not {text!r}")


def _parse(raw: str, type_name: Any, name: str) -> Any:
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", str(type_name))
    try:
        if kind == "bool":
            return bool(raw) and parse_bool(raw)  # an empty variable is off
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a valid {kind}") from None
    return raw


def describe(cls: type) -> list[tuple[str, str, Any]]:
    """(environment variable, help, default) for each field, for docs and ``--help``."""
    return [(ENV_PREFIX + f.name.upper(), f.metadata.get("help", ""), f.default) for f in env_fields(cls)]


def resolve_device(device: str) -> str:
    """Turn the ``device`` setting into a concrete torch device string, once.

    ``auto`` picks ``cuda:0`` when torch sees a GPU, else ``cpu``. Torch is imported only here
    and only when needed, so the default CPU pipeline never pays for it.
    """
    if device != "auto":
        if device != "cpu" and not device.startswith("cuda"):
            raise ValueError(f"device must be auto, cpu or cuda:N, not {device!r}")
        return device
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda:0" if torch.cuda.is_available() else "cpu"
