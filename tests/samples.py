"""Audio made in the tests: tones, silence, noise, real speech paths, and other containers."""

from __future__ import annotations

import io
import subprocess
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

from pipeline.metrics import read_transcripts

REPO = Path(__file__).resolve().parents[1]
# ../shared beside the checkout (main); from a worktree under wt/, two levels up.
KOREAN_SPEECH = next(
    (
        p / "eval" / "korean-speech"
        for p in (REPO.parent / "shared", REPO.parents[1] / "shared")
        if (p / "eval").is_dir()
    ),
    REPO.parent / "shared" / "eval" / "korean-speech",
)


def real_sentences() -> list[tuple[Path, str]]:
    """The three NIKL read sentences (audio path, transcript); see NOTICE.md beside them."""
    return read_transcripts(KOREAN_SPEECH)


def tone(seconds: float = 1.0, sample_rate: int = 16000, freq: float = 220.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds: float = 4.0, sample_rate: int = 16000, amp: float = 0.1, seed: int = 0) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * sample_rate))).astype(np.float32)


def encode(samples: np.ndarray, sample_rate: int, fmt: str, subtype: str | None = None) -> bytes:
    """Encode with libsndfile (WAV, FLAC, OGG)."""
    buf = io.BytesIO()
    sf.write(buf, samples, sample_rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def encode_ffmpeg(samples: np.ndarray, sample_rate: int, suffix: str, tmp_path: Path, *codec: str) -> bytes:
    """Encode with ffmpeg to what browsers record (``.webm`` Opus, ``.mp4`` AAC, ``.mp3``)."""
    src = tmp_path / "src.wav"
    out = tmp_path / f"out{suffix}"
    sf.write(src, samples, sample_rate)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), *codec, str(out)], check=True)
    return out.read_bytes()


def bigram_embed(texts) -> np.ndarray:
    """A stand-in for e5 (the care responder's embedder): hashed character bigrams, L2-normalised, 384 dims."""
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for row, text in enumerate(texts):
        compact = text.replace(" ", "")
        for a, b in zip(compact, compact[1:], strict=False):
            out[row, zlib.crc32((a + b).encode()) % 384] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


def two_author_risk_corpus(folder: Path) -> tuple[Path, Path]:
    """``train.tsv`` and ``dev.tsv`` in ``folder``: the tiny risk head's rows, their authors alternating.

    For tests of the leave-one-author-out check (``training.train_risk_head --cross-author``).
    """
    from training.train_risk_head import read_risk_tsv

    rows = read_risk_tsv(REPO / "tests" / "data" / "risk_head_tiny.tsv")
    header = "text\tlevel\tcategory\tgroup\tsource\tauthor\n"
    lines = [
        f"{t}\t{lv}\t{','.join(c) or '-'}\tg{i}\twritten\t{'one' if i % 2 else 'two'}\n"
        for i, (t, lv, c) in enumerate(zip(rows.texts, rows.levels, rows.categories, strict=True))
    ]
    (folder / "train.tsv").write_text(header + "".join(lines[:30]), encoding="utf-8")
    (folder / "dev.tsv").write_text(header + "".join(lines[30:]), encoding="utf-8")
    return folder / "train.tsv", folder / "dev.tsv"
