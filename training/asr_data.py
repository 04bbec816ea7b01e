"""Data for training the speech recognisers: manifests, audio, batches, SpecAugment, noise.

A *manifest* is a UTF-8 TSV with a header and the columns ``path`` (audio file; relative paths
are relative to the manifest's folder), ``text`` and optionally ``ipa`` (space-separated IPA
symbols) and ``duration_s``. ``training/prepare_kspon.py`` writes them. A folder with a
``transcripts.tsv`` (``file``/``transcript`` columns, audio under ``audio/``: the layout of
``../shared/eval/korean-speech``) works wherever a manifest does.

Audio may be any format libsndfile reads, or KsponSpeech's headerless ``.pcm`` (16 kHz, 16-bit
signed little-endian, mono).
"""

from __future__ import annotations

import copy
import csv
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from pipeline.audio import SAMPLE_RATE, to_mono_16k
from pipeline.metrics import read_transcripts
from pipeline.speech.asr_features import FeatureConfig, extract_features
from pipeline.speech.asr_noise import NOISE_KINDS, make_noise, mix_at_snr
from pipeline.speech.asr_vocab import Vocabulary

MANIFEST_COLUMNS = ("path", "text", "ipa", "duration_s")


@dataclass(frozen=True)
class Utterance:
    path: str
    text: str
    ipa: tuple[str, ...] | None = None
    duration_s: float | None = None


def read_pcm(path: str | Path) -> np.ndarray:
    """A KsponSpeech ``.pcm`` file (16 kHz, signed 16-bit little-endian, mono) → float32 in [-1, 1]."""
    data = Path(path).read_bytes()
    if len(data) % 2:
        data = data[:-1]  # a few corpus files end in half a sample
    return (np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0).copy()


def load_audio(path: str | Path) -> np.ndarray:
    """(time,) float32 mono at 16 kHz from ``.pcm`` or anything libsndfile reads."""
    if str(path).lower().endswith(".pcm"):
        return read_pcm(path)
    samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return to_mono_16k(samples, rate)


def audio_duration_s(path: str | Path) -> float:
    """Length in seconds, read from the header (or the size of a ``.pcm``)."""
    if str(path).lower().endswith(".pcm"):
        return Path(path).stat().st_size / 2 / SAMPLE_RATE
    info = sf.info(str(path))
    return info.frames / info.samplerate


def read_manifest(source: str | Path) -> list[Utterance]:
    """Utterances from a manifest TSV or a folder with ``transcripts.tsv``.

    Raises:
        FileNotFoundError: nothing at ``source``.
        ValueError: the TSV lacks the ``path`` and ``text`` columns.
    """
    source = Path(source)
    if source.is_dir():
        return [Utterance(str(path), text) for path, text in read_transcripts(source)]
    if not source.is_file():
        raise FileNotFoundError(f"no manifest or transcripts folder at {source}")
    out = []
    with open(source, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        if not {"path", "text"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{source}: a manifest needs path and text columns, has {reader.fieldnames}")
        for row in reader:
            path = Path(row["path"])
            if not path.is_absolute():
                path = source.parent / path
            ipa = tuple(row["ipa"].split()) if row.get("ipa") else None
            duration = float(row["duration_s"]) if row.get("duration_s") else None
            out.append(Utterance(str(path), row["text"], ipa, duration))
    return out


def write_manifest(path: str | Path, utterances: Sequence[Utterance]) -> None:
    """Write a manifest TSV (``ipa`` and ``duration_s`` columns when any utterance has them)."""
    columns = ["path", "text"]
    if any(u.ipa is not None for u in utterances):
        columns.append("ipa")
    if any(u.duration_s is not None for u in utterances):
        columns.append("duration_s")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
        writer.writerow(columns)
        for u in utterances:
            row = {"path": u.path, "text": u.text, "ipa": " ".join(u.ipa or ()), "duration_s": u.duration_s}
            writer.writerow(
                ["" if row[c] is None else (f"{row[c]:.3f}" if c == "duration_s" else row[c]) for c in columns]
            )


def targets_for(utterance: Utterance, vocab: Vocabulary) -> list[int]:
    """Unit indices of an utterance: its prepared IPA symbols for an IPA vocabulary, else its text."""
    if vocab.kind == "ipa" and utterance.ipa is not None:
        return vocab.encode_units(utterance.ipa)
    return vocab.encode(utterance.text)


def reference_units(utterance: Utterance, vocab: Vocabulary) -> list[str]:
    """What a perfect recogniser writes for this utterance, as units (for error rates)."""
    return vocab.decode_units(targets_for(utterance, vocab))


# --------------------------------------------------------------------------------------------
# Augmentation


@dataclass(frozen=True)
class AugmentConfig:
    """SpecAugment (Park et al., 2019) masks and additive noise, applied to training batches only.

    Time masks are at most ``time_mask_ratio`` of the utterance wide each, so short utterances
    keep most of their frames.
    """

    freq_masks: int = 2
    freq_mask_width: int = 27
    time_masks: int = 2
    time_mask_ratio: float = 0.05
    noise_prob: float = 0.0
    noise_snr_min_db: float = 5.0
    noise_snr_max_db: float = 25.0
    noise_kinds: str = "white,pink,babble"

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(NOISE_KINDS)
        if unknown:
            raise ValueError(f"unknown noise kinds {sorted(unknown)}; valid: {', '.join(NOISE_KINDS)}")

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.noise_kinds.split(",") if k.strip())

    @property
    def enabled(self) -> bool:
        return bool(self.freq_masks or self.time_masks or self.noise_prob > 0)


def spec_augment(feats: torch.Tensor, config: AugmentConfig, rng: random.Random) -> torch.Tensor:
    """(F, T) features with ``freq_masks`` bands and ``time_masks`` stretches set to zero (the mean
    of normalised features). Returns a new tensor."""
    out = feats.clone()
    n_freq, n_time = out.shape
    for _ in range(config.freq_masks):
        width = rng.randint(0, min(config.freq_mask_width, n_freq))
        start = rng.randint(0, n_freq - width)
        out[start : start + width, :] = 0.0
    max_width = int(config.time_mask_ratio * n_time)
    for _ in range(config.time_masks):
        width = rng.randint(0, max_width)
        start = rng.randint(0, n_time - width)
        out[:, start : start + width] = 0.0
    return out


class AsrDataset(torch.utils.data.Dataset):
    """Utterances → (features (F, T) float32, targets (S,) int64, index).

    With ``augment`` set, noise is mixed into the waveform and SpecAugment masks the features;
    babble comes from other utterances of the same set. Without augmentation the features can be
    kept in memory after the first epoch (``cache``), which makes small runs fast.
    """

    def __init__(
        self,
        utterances: Sequence[Utterance],
        vocab: Vocabulary,
        features: FeatureConfig,
        augment: AugmentConfig | None = None,
        *,
        seed: int = 0,
        cache: bool = False,
    ) -> None:
        self.utterances = list(utterances)
        self.vocab = vocab
        self.features = features
        self.augment = augment if augment is not None and augment.enabled else None
        self.targets = [torch.tensor(targets_for(u, vocab), dtype=torch.long) for u in self.utterances]
        self.seed = seed
        self.epoch = 0
        self._cache: dict[int, torch.Tensor] | None = {} if cache and self.augment is None else None
        self._babble_pool: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.utterances)

    def subset(self, indices: Sequence[int]) -> AsrDataset:
        """The same dataset over ``indices`` only (targets are not computed again)."""
        out = copy.copy(self)
        out.utterances = [self.utterances[i] for i in indices]
        out.targets = [self.targets[i] for i in indices]
        out._cache = {} if self._cache is not None else None
        out._babble_pool = []
        return out

    def set_epoch(self, epoch: int) -> None:
        """Vary the augmentation from epoch to epoch (call before each epoch)."""
        self.epoch = epoch

    def _noisy(self, samples: np.ndarray, rng: random.Random) -> np.ndarray:
        cfg = self.augment
        assert cfg is not None
        if cfg.noise_prob <= 0 or rng.random() >= cfg.noise_prob or not cfg.kinds:
            return samples
        kind = rng.choice(cfg.kinds)
        nrng = np.random.default_rng(rng.getrandbits(32))
        talkers: list[np.ndarray] = []
        if kind == "babble":
            if not self._babble_pool:
                picks = random.Random(self.seed).sample(range(len(self)), min(16, len(self)))
                self._babble_pool = [load_audio(self.utterances[i].path) for i in picks]
            talkers = self._babble_pool
        noise = make_noise(kind, len(samples), nrng, talkers)
        return mix_at_snr(samples, noise, rng.uniform(cfg.noise_snr_min_db, cfg.noise_snr_max_db))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        if self._cache is not None and index in self._cache:
            return self._cache[index], self.targets[index], index
        samples = load_audio(self.utterances[index].path)
        rng = random.Random((self.seed * 1_000_003 + self.epoch) * 1_000_003 + index)
        if self.augment is not None:
            samples = self._noisy(samples, rng)
        feats = torch.from_numpy(extract_features(samples, self.features))
        if self.augment is not None:
            feats = spec_augment(feats, self.augment, rng)
        elif self._cache is not None:
            self._cache[index] = feats
        return feats, self.targets[index], index


def collate(batch: Sequence[tuple[torch.Tensor, torch.Tensor, int]]) -> dict[str, torch.Tensor]:
    """Pad a list of dataset items into one batch.

    Returns:
        ``features`` (B, F, T), ``feature_lengths`` (B,), ``targets`` (B, S) padded with 0,
        ``target_lengths`` (B,), ``indices`` (B,).
    """
    feats = [b[0] for b in batch]
    targets = [b[1] for b in batch]
    feature_lengths = torch.tensor([f.shape[1] for f in feats], dtype=torch.long)
    padded = torch.zeros(len(batch), feats[0].shape[0], int(feature_lengths.max()), dtype=torch.float32)
    for i, f in enumerate(feats):
        padded[i, :, : f.shape[1]] = f
    target_lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
    padded_targets = torch.zeros(len(batch), max(1, int(target_lengths.max())), dtype=torch.long)
    for i, t in enumerate(targets):
        padded_targets[i, : len(t)] = t
    return {
        "features": padded,
        "feature_lengths": feature_lengths,
        "targets": padded_targets,
        "target_lengths": target_lengths,
        "indices": torch.tensor([b[2] for b in batch], dtype=torch.long),
    }


class LengthBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of utterances of similar length, in a new random order every epoch.

    SortaGrad (DeepSpeech2): with ``sorted_first_epoch`` the first epoch goes from the shortest
    batch to the longest, which steadies early CTC training. Under distributed training each
    rank takes every ``world_size``-th batch; all ranks get the same number of batches.
    """

    def __init__(
        self,
        durations: Sequence[float],
        batch_size: int,
        *,
        shuffle: bool = True,
        sorted_first_epoch: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        order = sorted(range(len(durations)), key=lambda i: durations[i])
        self.batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        self.shuffle = shuffle
        self.sorted_first_epoch = sorted_first_epoch
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.batches) / self.world_size)

    def __iter__(self) -> Iterator[list[int]]:
        batches = list(self.batches)
        if self.shuffle and not (self.sorted_first_epoch and self.epoch == 0):
            random.Random(self.seed + self.epoch).shuffle(batches)
        total = len(self) * self.world_size
        batches += batches[: total - len(batches)]  # equal share for every rank
        yield from batches[self.rank :: self.world_size]
