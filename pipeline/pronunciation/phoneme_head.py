"""A small CTC phoneme head on Whisper's encoder: goodness of pronunciation by listening, not guessing.

Whisper's decoder is a language model: forced to read a target, it "hears" the intended word (a
planted 머커써요 keeps 0.84 for 먹었어요). Its *encoder* output (512-d frames at 50 Hz for
Whisper base) still carries the acoustics. The head here maps each encoder frame to a
distribution over the project's 36 IPA phonemes (``ipa.IPA_SYMBOLS``) plus a CTC blank: one
1-D convolution over five frames (±40 ms), a GELU, and a linear layer; trained with CTC on
synthetic readings of non-practice sentences, half of them with learner-like errors planted at
the phoneme level (``training/train_phoneme_head.py``; datasheet in
``pipeline/pronunciation/data/README.md``).

Scoring (``head_rivals``) is goodness of pronunciation with explicit rivals: the CTC
log-likelihood of the target's phoneme sequence is compared with that of every learner-like
variant that changes one syllable (``variants.competitors`` and ``variants.confusions``); the
margin (variant minus target, in nats) of the strongest rival per syllable says how much better
the audio fits something else there. Unlike Whisper's decoder, the head has no word prior: it
must listen. The verdict thresholds live in ``scoring.py``.

Inference is NumPy only (no torch at run time): the head is a ``.npz`` of float16 weights.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.pronunciation import variants
from pipeline.pronunciation.g2p import Pronunciation
from pipeline.pronunciation.ipa import IPA_SYMBOLS, WORD_BOUNDARY, is_hangul_syllable, split_syllable, syllable_symbols
from pipeline.text.e5_head import log_softmax

#: The head shipped with the app (absent: the scorer falls back to Whisper's evidence alone).
DEFAULT_HEAD = Path(__file__).parent / "data" / "phoneme_head.npz"
#: CTC blank is class 0; the phonemes follow in ``IPA_SYMBOLS`` order.
BLANK = 0
SYMBOL_ID = {s: n + 1 for n, s in enumerate(IPA_SYMBOLS)}
N_CLASSES = len(IPA_SYMBOLS) + 1
#: Kernel width of the head's convolution (frames of 20 ms).
KERNEL = 5


def phoneme_ids(pronounced: str) -> list[int]:
    """Class ids of a pronounced Hangul string's phonemes (word boundaries dropped)."""
    return [SYMBOL_ID[s] for syl in syllable_symbols(pronounced) for s in syl if s != WORD_BOUNDARY]


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))


class PhonemeHead:
    """Frame-level phoneme log-posteriors from Whisper encoder frames (see the module docstring).

    Args:
        conv_w: (hidden, 512, KERNEL) convolution weights; conv_b: (hidden,).
        out_w: (N_CLASSES, hidden); out_b: (N_CLASSES,).
        meta: the training recipe and figures (from the file's ``meta`` entry).
    """

    def __init__(
        self, conv_w: np.ndarray, conv_b: np.ndarray, out_w: np.ndarray, out_b: np.ndarray, meta: dict | None = None
    ) -> None:
        hidden, dim, kernel = conv_w.shape
        if out_w.shape != (N_CLASSES, hidden) or kernel % 2 != 1:
            raise ValueError(f"head shapes do not fit: conv {conv_w.shape}, out {out_w.shape}")
        self.dim = dim
        self.kernel = kernel
        # (kernel·dim, hidden): frame t sees frames t-k//2 … t+k//2, stacked oldest first.
        self.conv = np.ascontiguousarray(conv_w.astype(np.float32).transpose(2, 1, 0).reshape(kernel * dim, hidden))
        self.conv_b = conv_b.astype(np.float32)
        self.out = np.ascontiguousarray(out_w.astype(np.float32).T)
        self.out_b = out_b.astype(np.float32)
        self.meta = meta or {}

    @classmethod
    def load(cls, path: str | Path = DEFAULT_HEAD) -> PhonemeHead:
        """Read a head written by ``training.train_phoneme_head`` (``.npz``)."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"])) if "meta" in data.files else {}
            if list(meta.get("symbols", IPA_SYMBOLS)) != list(IPA_SYMBOLS):
                raise ValueError(f"{path}: trained on another phoneme inventory")
            return cls(data["conv_w"], data["conv_b"], data["out_w"], data["out_b"], meta)

    @classmethod
    def load_default(cls) -> PhonemeHead | None:
        """The shipped head, or None when it is not there (the scorer then works without it)."""
        return cls.load(DEFAULT_HEAD) if DEFAULT_HEAD.exists() else None

    def log_posteriors(self, frames: np.ndarray) -> np.ndarray:
        """(T, dim) encoder frames → (T, N_CLASSES) log-posteriors (class 0: blank)."""
        x = np.asarray(frames, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected (T, {self.dim}) frames, got {x.shape}")
        half = self.kernel // 2
        padded = np.pad(x, ((half, half), (0, 0)))
        stacked = np.concatenate([padded[k : k + len(x)] for k in range(self.kernel)], axis=1)
        hidden = _gelu(stacked @ self.conv + self.conv_b)
        return log_softmax(hidden @ self.out + self.out_b)


def ctc_log_likelihoods(log_probs: np.ndarray, sequences: Sequence[Sequence[int]]) -> np.ndarray:
    """The log-likelihood log P(sequence | audio) under CTC for each label sequence, all in one batched forward pass.

    ``log_probs``: (T, C) frame log-posteriors with the blank at ``BLANK``. A sequence that cannot
    fit in T frames (too many labels, repeats needing blanks) gets -inf.
    """
    t_len = len(log_probs)
    n = len(sequences)
    if n == 0:
        return np.zeros(0)
    s_len = 2 * max((len(s) for s in sequences), default=0) + 1
    ext = np.full((n, s_len), BLANK, dtype=np.int64)
    valid = np.zeros((n, s_len), dtype=bool)
    skip = np.zeros((n, s_len), dtype=bool)  # may come from s-2 (a label differing from the one before)
    ends = np.zeros(n, dtype=np.int64)
    for i, seq in enumerate(sequences):
        length = 2 * len(seq) + 1
        ext[i, 1:length:2] = seq
        valid[i, :length] = True
        for s in range(3, length, 2):
            skip[i, s] = ext[i, s] != ext[i, s - 2]
        ends[i] = length
    neg = -np.inf
    alpha = np.full((n, s_len), neg)
    rows = np.arange(n)[:, None]
    if t_len == 0:
        return np.array([0.0 if len(s) == 0 else neg for s in sequences])
    emit = log_probs[0][ext]
    alpha[:, 0] = emit[:, 0]
    if s_len > 1:
        alpha[:, 1] = np.where(valid[:, 1], emit[:, 1], neg)
    for t in range(1, t_len):
        stay = alpha
        prev1 = np.concatenate([np.full((n, 1), neg), alpha[:, :-1]], axis=1)
        prev2 = np.concatenate([np.full((n, 2), neg), alpha[:, :-2]], axis=1)
        prev2 = np.where(skip, prev2, neg)
        with np.errstate(divide="ignore", invalid="ignore"):
            top = np.maximum(np.maximum(stay, prev1), prev2)
            safe = np.where(np.isfinite(top), top, 0.0)
            total = safe + np.log(np.exp(stay - safe) + np.exp(prev1 - safe) + np.exp(prev2 - safe))
        total = np.where(np.isfinite(top), total, neg)
        alpha = np.where(valid, total + log_probs[t][ext], neg)
    last = alpha[rows[:, 0], ends - 1]
    before = np.where(ends >= 2, alpha[rows[:, 0], np.maximum(ends - 2, 0)], neg)
    top = np.maximum(last, before)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = safe + np.log(np.exp(last - safe) + np.exp(before - safe))
    return np.where(np.isfinite(top), out, neg)


@dataclass(frozen=True)
class HeadRival:
    """The learner-like variant the head found most plausible at one syllable.

    Attributes:
        variant: the variant (``variants.Variant``).
        margin: CTC log-likelihood of the variant minus the target's (nats; > 0: it fits better).
    """

    variant: variants.Variant
    margin: float


@dataclass(frozen=True)
class HeadEvidence:
    """What the head says about one attempt.

    Attributes:
        rivals: per syllable index (into ``Pronunciation.hangul``), its strongest rival.
        by_kind: per syllable index, the strongest rival of each kind (``Variant.kind``): a dropped
            syllable shortens the sequence, so kinds are judged against margins of their own.
        per_frame: the target's CTC log-likelihood per frame (how well the audio fits the target
            at all; very low: the head cannot follow this audio, so it blames nobody).
        best_path: the greedy CTC reading of the audio as phoneme symbols (for display/debug).
    """

    rivals: dict[int, HeadRival]
    per_frame: float
    best_path: tuple[str, ...]
    by_kind: dict[int, dict[str, HeadRival]] = field(default_factory=dict)


#: Place assimilation of a final to the next onset (제21항: 감기 [감기], not [강기]; 신문 [신문], not
#: [심문]). The standard calls it non-standard, but native speakers do it in connected speech, so a
#: final heard assimilated is no learner error and is not weighed as one: final → the final it
#: becomes before an onset of that place.
_VELAR = ("ㄱ", "ㄲ", "ㅋ")
_BILABIAL = ("ㅂ", "ㅃ", "ㅍ", "ㅁ")
PLACE_ASSIMILATION: dict[tuple[str, str], tuple[str, ...]] = {
    ("ㄴ", "ㅇ"): _VELAR,
    ("ㄴ", "ㅁ"): _BILABIAL,
    ("ㅁ", "ㅇ"): _VELAR,
    ("ㄷ", "ㄱ"): _VELAR,
    ("ㄷ", "ㅂ"): _BILABIAL,
    ("ㅂ", "ㄱ"): _VELAR,
}


def assimilated(hangul: str, index: int, new: str) -> bool:
    """Whether ``new`` at ``index`` is only the final assimilated to the next onset (``PLACE_ASSIMILATION``)."""
    coda, new_coda = split_syllable(hangul[index])[2], split_syllable(new)[2]
    following = hangul[index + 1 :].lstrip(" ")
    if not following or not is_hangul_syllable(following[0]):
        return False
    return split_syllable(following[0])[0] in PLACE_ASSIMILATION.get((coda, new_coda), ())


def head_variants(pron: Pronunciation) -> list[variants.Variant]:
    """The learner-like variants weighed by the head: ``competitors`` plus the ㄹ/ㄴ and final confusions.

    A final swapped only by place assimilation (``assimilated``) is left out: native speech does it.
    """
    found = list(variants.competitors(pron))
    seen = {v.said for v in found}
    for k, char in enumerate(pron.hangul):
        if char == " ":
            continue
        for new in variants.confusions(char):
            if assimilated(pron.hangul, k, new):
                continue
            said = pron.hangul[:k] + new + pron.hangul[k + 1 :]
            if said not in seen:
                seen.add(said)
                found.append(variants.Variant(k, "substituted", said, new))
    return found


def greedy_path(log_probs: np.ndarray) -> tuple[str, ...]:
    """Best-path CTC decoding: the most likely class per frame, repeats merged, blanks dropped."""
    best = np.argmax(log_probs, axis=1)
    out: list[str] = []
    previous = BLANK
    for c in best:
        if c != previous and c != BLANK:
            out.append(IPA_SYMBOLS[int(c) - 1])
        previous = int(c)
    return tuple(out)


def head_rivals(log_probs: np.ndarray, pron: Pronunciation) -> HeadEvidence:
    """Weigh the target against every learner-like variant under the head's CTC (see the module docstring)."""
    found = head_variants(pron)
    sequences = [phoneme_ids(pron.hangul)] + [phoneme_ids(v.said) for v in found]
    ll = ctc_log_likelihoods(log_probs, sequences)
    target = float(ll[0])
    best: dict[int, HeadRival] = {}
    by_kind: dict[int, dict[str, HeadRival]] = {}
    for v, value in zip(found, ll[1:], strict=True):
        margin = float(value) - target if np.isfinite(target) else 0.0
        if v.index not in best or margin > best[v.index].margin:
            best[v.index] = HeadRival(v, margin)
        kinds = by_kind.setdefault(v.index, {})
        if v.kind not in kinds or margin > kinds[v.kind].margin:
            kinds[v.kind] = HeadRival(v, margin)
    per_frame = target / max(len(log_probs), 1) if np.isfinite(target) else float("-inf")
    return HeadEvidence(best, per_frame, greedy_path(log_probs), by_kind)
