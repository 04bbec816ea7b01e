"""The curated reply bank (``data/replies.json``) and its cue embeddings.

Embedding every cue takes a few seconds, so the matrix is cached on disk next to the other
prepared model files, keyed by the bank's SHA-256: editing the bank invalidates it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from pipeline.errors import ModelFilesError
from pipeline.types import EMOTION_LABELS

SITUATIONS = ("work", "school", "family", "relationships", "health", "money", "loneliness", "general")
INTENTS = ("greeting", "thanks", "goodbye", "identity", "listen", "fallback")


@dataclass(frozen=True)
class BankReply:
    id: str
    text: str
    emotion: str = ""
    situation: str = "general"
    cues: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReplyBank:
    replies: tuple[BankReply, ...]
    intents: dict[str, tuple[BankReply, ...]]
    crisis: tuple[BankReply, ...]
    sha256: str

    def cue_rows(self) -> tuple[list[str], np.ndarray]:
        """Every cue text and, per cue, the index of its reply in ``replies``."""
        texts, owners = [], []
        for i, reply in enumerate(self.replies):
            for cue in reply.cues:
                texts.append(cue)
                owners.append(i)
        return texts, np.asarray(owners, dtype=np.int64)


def default_bank_path() -> Path:
    return Path(str(resources.files("pipeline.care") / "data" / "replies.json"))


def load_bank(path: str | Path | None = None) -> ReplyBank:
    """Read and validate the bank.

    Raises:
        ModelFilesError: unreadable JSON, unknown emotion or situation, duplicate ids, or an
            empty section.
    """
    path = Path(path or default_bank_path())
    try:
        raw_bytes = path.read_bytes()
        raw = json.loads(raw_bytes)
        replies = tuple(
            BankReply(r["id"], r["text"], r["emotion"], r.get("situation", "general"), tuple(r["cues"]))
            for r in raw["replies"]
        )
        intents = {name: tuple(BankReply(r["id"], r["text"]) for r in raw["intents"][name]) for name in INTENTS}
        crisis = tuple(BankReply(r["id"], r["text"]) for r in raw["crisis"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFilesError(detail=f"cannot read reply bank {path}: {exc!r}") from exc
    everything = [*replies, *crisis, *(r for group in intents.values() for r in group)]
    ids = [r.id for r in everything]
    problems = [f"duplicate id {i}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    problems += [f"{r.id}: emotion {r.emotion!r}" for r in replies if r.emotion not in EMOTION_LABELS]
    problems += [f"{r.id}: situation {r.situation!r}" for r in replies if r.situation not in SITUATIONS]
    problems += [f"{r.id}: no cues" for r in replies if not r.cues]
    problems += [f"section {name} is empty" for name, group in intents.items() if not group]
    if not replies or not crisis:
        problems.append("replies and crisis must not be empty")
    if problems:
        raise ModelFilesError(detail=f"reply bank {path}: " + "; ".join(problems[:10]))
    return ReplyBank(replies, intents, crisis, hashlib.sha256(raw_bytes).hexdigest())


def cue_embeddings(bank: ReplyBank, embed, cache_dir: Path | None) -> np.ndarray:
    """(number of cues, 384) embeddings of every cue, from the cache when it matches the bank.

    Args:
        bank: the loaded bank.
        embed: callable list[str] → (n, 384) array.
        cache_dir: where to keep ``reply-cues-<sha>.npy``; None disables the cache.
    """
    texts, _ = bank.cue_rows()
    cached = cache_dir / f"reply-cues-{bank.sha256[:16]}.npy" if cache_dir else None
    if cached and cached.is_file():
        matrix = np.load(cached, allow_pickle=False)
        if matrix.shape[0] == len(texts):
            return matrix
    matrix = np.asarray(embed(texts), dtype=np.float32)
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".npy")
        with os.fdopen(fd, "wb") as f:
            np.save(f, matrix)
        os.replace(tmp, cached)
    return matrix
