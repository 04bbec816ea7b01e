"""DeepSpeech2: a masked 2-D convolutional front end, a (bi)directional RNN stack and a CTC head.

The defaults reproduce the reference Korean setup (KsponSpeech): 3 convolution layers, 5
bidirectional GRU layers of 512 units per direction, BatchNorm with momentum 0.99 (Keras
convention, see ``DeepSpeech2Config.batch_norm_momentum``) and a CTC output over a vocabulary
whose index ``blank_id`` is the CTC blank. The model knows nothing about what the output units
mean: vocabularies (syllables, jamo, IPA) are built in ``pipeline.speech.asr_vocab``.

Shapes, everywhere below: ``B`` batch, ``F`` feature bins, ``T`` frames, ``V`` vocabulary size.

Checkpoints hold ``state_dict`` + the config as a plain dict + whatever extra plain data the
caller passes (feature settings, vocabulary, training state); ``load_checkpoint`` rebuilds the
model from them and loads with ``torch.load(weights_only=True)``: no module is ever unpickled.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from models.checkpoint import read_checkpoint

CHECKPOINT_FORMAT = "maum-deepspeech2/1"


@dataclass
class DeepSpeech2Config:
    """Architecture of one DeepSpeech2 model.

    Attributes:
        vocab_size: output units including the CTC blank.
        blank_id: index of the CTC blank among the outputs.
        n_features: feature bins per frame of the input (80 log-mel bins by default).
        conv_channels: output channels of each convolution layer; its length is the number of
            layers (the reference used 2 or 3).
        conv_kernel_sizes: (frequency, time) kernel of each convolution layer.
        conv_strides: (frequency, time) stride of each layer; the product of the time strides is
            the frame-rate reduction (2 by default: 10 ms frames in, 20 ms out).
        rnn_type: ``gru`` or ``lstm``.
        rnn_layers: number of recurrent layers (the reference used 3 to 7).
        rnn_hidden_size: units per direction.
        bidirectional: read the utterance both ways (outputs of the two directions are concatenated).
        batch_norm_momentum: in the Keras/TensorFlow convention, where the running statistic is
            updated as ``running = momentum * running + (1 - momentum) * batch``; 0.99 as in the
            reference. PyTorch's ``BatchNorm`` uses the opposite convention
            (``running = (1 - m) * running + m * batch``), so the layers are built with
            ``m = 1 - batch_norm_momentum`` (0.01 for the default).
        batch_norm_eps: added to the variance in every BatchNorm.
        activation: ``hardtanh`` (ReLU clipped at 20, as in the DeepSpeech2 paper) or ``relu``.
        dropout: dropout between recurrent layers and before the output layer.
    """

    vocab_size: int = 2001
    blank_id: int = 0
    n_features: int = 80
    conv_channels: tuple[int, ...] = (32, 32, 96)
    conv_kernel_sizes: tuple[tuple[int, int], ...] = ((41, 11), (21, 11), (21, 11))
    conv_strides: tuple[tuple[int, int], ...] = ((2, 2), (2, 1), (2, 1))
    rnn_type: str = "gru"
    rnn_layers: int = 5
    rnn_hidden_size: int = 512
    bidirectional: bool = True
    batch_norm_momentum: float = 0.99
    batch_norm_eps: float = 1e-5
    activation: str = "hardtanh"
    dropout: float = 0.1

    def __post_init__(self) -> None:
        # Lists arrive from JSON/YAML overrides; tuples keep the config hashable and comparable.
        self.conv_channels = tuple(int(c) for c in self.conv_channels)
        self.conv_kernel_sizes = tuple((int(k[0]), int(k[1])) for k in self.conv_kernel_sizes)
        self.conv_strides = tuple((int(s[0]), int(s[1])) for s in self.conv_strides)
        if not (len(self.conv_channels) == len(self.conv_kernel_sizes) == len(self.conv_strides)):
            raise ValueError("conv_channels, conv_kernel_sizes and conv_strides need one entry per layer")
        if not self.conv_channels:
            raise ValueError("DeepSpeech2 needs at least one convolution layer")
        if self.rnn_type not in ("gru", "lstm"):
            raise ValueError(f"rnn_type must be gru or lstm, not {self.rnn_type!r}")
        if self.activation not in ("hardtanh", "relu"):
            raise ValueError(f"activation must be hardtanh or relu, not {self.activation!r}")
        if not 0.0 <= self.batch_norm_momentum < 1.0:
            raise ValueError("batch_norm_momentum (Keras convention) must be in [0, 1)")
        if not 0 <= self.blank_id < self.vocab_size:
            raise ValueError(f"blank_id {self.blank_id} is outside the vocabulary of {self.vocab_size}")
        if self.rnn_layers < 1:
            raise ValueError("rnn_layers must be at least 1")

    @property
    def torch_batch_norm_momentum(self) -> float:
        """``batch_norm_momentum`` in PyTorch's convention: ``1 - momentum``."""
        return 1.0 - self.batch_norm_momentum

    @property
    def time_reduction(self) -> int:
        """How many input frames make one output frame."""
        return math.prod(s[1] for s in self.conv_strides)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, numbers, strings) for checkpoints and JSON."""
        return json_ready(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeepSpeech2Config:
        """Rebuild from ``to_dict`` output; unknown keys are an error (a checkpoint from elsewhere)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown DeepSpeech2Config fields {sorted(unknown)}")
        return cls(**dict(data))


def json_ready(value: Any) -> Any:
    """Tuples become lists, recursively, so that configs survive JSON and ``weights_only`` loading alike."""
    if isinstance(value, Mapping):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


def conv_output_length(lengths: torch.Tensor, kernel: int, stride: int, padding: int) -> torch.Tensor:
    """Frames out of one convolution for ``lengths`` frames in (floor division, as ``nn.Conv2d``)."""
    return torch.div(lengths + 2 * padding - kernel, stride, rounding_mode="floor") + 1


def time_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, T) bool, True on the frames each sequence really has."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class DeepSpeech2Conv(nn.Module):
    """Masked 2-D convolutions over (frequency, time) that keep track of sequence lengths.

    After every convolution and activation the frames beyond each sequence's length are set to
    zero, so padding in a batch never leaks into real frames: in ``eval()`` a padded batch gives
    the same outputs as each utterance alone.
    """

    def __init__(self, config: DeepSpeech2Config) -> None:
        super().__init__()
        self.config = config
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        in_channels, freq = 1, config.n_features
        for channels, (kf, kt), (sf, st) in zip(
            config.conv_channels, config.conv_kernel_sizes, config.conv_strides, strict=True
        ):
            if kf > freq + 1:
                # Taps that only ever see padding; PyTorch 2.13's oneDNN CPU backward also crashes
                # (SIGSEGV) on some such shapes, e.g. a 41-bin kernel over 19-22 bins.
                raise ValueError(
                    f"convolution {len(self.convs) + 1} has a frequency kernel of {kf} over only {freq} bins; "
                    "use more feature bins or smaller kernels"
                )
            self.convs.append(
                nn.Conv2d(in_channels, channels, (kf, kt), stride=(sf, st), padding=(kf // 2, kt // 2), bias=False)
            )
            self.norms.append(
                nn.BatchNorm2d(channels, momentum=config.torch_batch_norm_momentum, eps=config.batch_norm_eps)
            )
            freq = (freq + 2 * (kf // 2) - kf) // sf + 1
            if freq < 1:
                raise ValueError(f"{config.n_features} feature bins are too few for these convolution strides")
            in_channels = channels
        self.output_size = in_channels * freq

    def _activate(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.activation == "hardtanh":
            return torch.clamp(x, 0.0, 20.0)
        return torch.relu(x)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Output frames for ``lengths`` input frames."""
        for conv in self.convs:
            lengths = conv_output_length(lengths, conv.kernel_size[1], conv.stride[1], conv.padding[1])
        return lengths

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, F, T) features, (B,) lengths → (B, T', C·F') frames and (B,) output lengths."""
        x = features.unsqueeze(1)
        x = x * time_mask(lengths, x.shape[-1])[:, None, None, :].to(x.dtype)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = conv(x)
            lengths = conv_output_length(lengths, conv.kernel_size[1], conv.stride[1], conv.padding[1])
            mask = time_mask(lengths, x.shape[-1])[:, None, None, :].to(x.dtype)
            x = self._activate(norm(x * mask)) * mask
        b, c, f, t = x.shape
        return x.permute(0, 3, 1, 2).reshape(b, t, c * f), lengths


class DeepSpeech2MaskedBatchNorm(nn.Module):
    """BatchNorm over the real frames of a padded (B, T, C) batch; padded frames stay zero."""

    def __init__(self, size: int, config: DeepSpeech2Config) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(size, momentum=config.torch_batch_norm_momentum, eps=config.batch_norm_eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, C) frames and (B, T) mask → normalised (B, T, C)."""
        out = torch.zeros_like(x)
        out[mask] = self.norm(x[mask])
        return out


class DeepSpeech2RNN(nn.Module):
    """One recurrent layer over packed sequences, with BatchNorm on its input (except the first layer)."""

    def __init__(self, input_size: int, config: DeepSpeech2Config, *, batch_norm: bool) -> None:
        super().__init__()
        self.norm = DeepSpeech2MaskedBatchNorm(input_size, config) if batch_norm else None
        rnn_class = nn.GRU if config.rnn_type == "gru" else nn.LSTM
        self.rnn = rnn_class(input_size, config.rnn_hidden_size, batch_first=True, bidirectional=config.bidirectional)
        self.output_size = config.rnn_hidden_size * (2 if config.bidirectional else 1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, C) frames, (B,) lengths, (B, T) mask → (B, T, H·directions)."""
        if self.norm is not None:
            x = self.norm(x, mask)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out


class DeepSpeech2Head(nn.Module):
    """BatchNorm + linear projection to the vocabulary, then log-softmax."""

    def __init__(self, input_size: int, config: DeepSpeech2Config) -> None:
        super().__init__()
        self.norm = DeepSpeech2MaskedBatchNorm(input_size, config)
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(input_size, config.vocab_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, C) frames, (B, T) mask → (B, T, V) log-probabilities."""
        return torch.log_softmax(self.fc(self.dropout(self.norm(x, mask))), dim=-1)


class DeepSpeech2(nn.Module):
    """The whole network: features in, CTC log-probabilities out."""

    def __init__(self, config: DeepSpeech2Config) -> None:
        super().__init__()
        self.config = config
        self.conv = DeepSpeech2Conv(config)
        size = self.conv.output_size
        self.rnns = nn.ModuleList()
        for i in range(config.rnn_layers):
            layer = DeepSpeech2RNN(size, config, batch_norm=i > 0)
            self.rnns.append(layer)
            size = layer.output_size
        self.dropout = nn.Dropout(config.dropout)
        self.head = DeepSpeech2Head(size, config)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Output frames for ``lengths`` input frames."""
        return self.conv.output_lengths(lengths)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the network.

        Args:
            features: (B, F, T) float32, e.g. log-mel frames every 10 ms; frames past each
                sequence's length are ignored.
            lengths: (B,) int64, real frames per sequence.

        Returns:
            (B, T', V) log-probabilities over the vocabulary and (B,) int64 output lengths,
            ``T' = ceil(T / time_reduction)`` with the default paddings.
        """
        if features.dim() != 3 or features.shape[1] != self.config.n_features:
            raise ValueError(f"expected (batch, {self.config.n_features}, time) features, got {tuple(features.shape)}")
        lengths = lengths.to(features.device, torch.long).clamp(max=features.shape[-1])
        x, lengths = self.conv(features, lengths)
        mask = time_mask(lengths, x.shape[1])
        for i, rnn in enumerate(self.rnns):
            x = rnn(self.dropout(x) if i > 0 else x, lengths, mask)
        return self.head(x, mask), lengths


# --------------------------------------------------------------------------------------------
# CTC decoding. pyctcdecode (the maintained decoder) requires numpy < 2, which the TensorFlow
# extra of this project rules out, so the prefix beam search below is our own (no language model).


def ctc_greedy_decode(
    log_probs: torch.Tensor, lengths: torch.Tensor | None = None, blank_id: int = 0
) -> list[list[int]]:
    """Best path: the most likely unit per frame, repeats merged, blanks dropped.

    Args:
        log_probs: (B, T, V) (log-)probabilities.
        lengths: (B,) real frames per sequence; all ``T`` when None.
        blank_id: index of the CTC blank.

    Returns:
        One list of unit indices per sequence.
    """
    best = log_probs.argmax(dim=-1).cpu().numpy()
    lens = [best.shape[1]] * best.shape[0] if lengths is None else lengths.cpu().tolist()
    out = []
    for row, n in zip(best, lens, strict=True):
        row = row[: int(n)]
        keep = np.ones(len(row), dtype=bool)
        keep[1:] = row[1:] != row[:-1]
        out.append([int(u) for u in row[keep] if u != blank_id])
    return out


def ctc_prefix_beam_search(
    log_probs: np.ndarray | torch.Tensor,
    beam_width: int = 8,
    blank_id: int = 0,
    top_k: int = 16,
    min_log_prob: float = -12.0,
) -> list[tuple[list[int], float]]:
    """CTC prefix beam search over one utterance, without a language model.

    Each prefix carries two scores, the log-probability of all alignments ending in a blank and
    of those ending in its last unit, so repeats separated by a blank are kept apart from
    repeats that merge. Per frame only the ``top_k`` most likely units above ``min_log_prob``
    (plus each prefix's last unit) are tried.

    Args:
        log_probs: (T, V) log-probabilities of one utterance (only its real frames).
        beam_width: prefixes kept after each frame.
        blank_id: index of the CTC blank.
        top_k: units tried per frame.
        min_log_prob: units less likely than this in a frame are not tried in it.

    Returns:
        Up to ``beam_width`` (unit indices, log-probability) pairs, most likely first.
    """
    lp = log_probs.detach().float().cpu().numpy() if isinstance(log_probs, torch.Tensor) else np.asarray(log_probs)
    if lp.ndim != 2:
        raise ValueError(f"expected (time, vocab) log-probabilities, got shape {lp.shape}")
    lp = lp.astype(np.float64)
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, _NEG_INF)}  # prefix → (blank, non-blank)
    k = min(top_k, lp.shape[1])
    for frame in lp:
        candidates = set(np.argpartition(-frame, k - 1)[:k].tolist()) if k < len(frame) else set(range(len(frame)))
        candidates = {c for c in candidates if frame[c] >= min_log_prob}
        candidates.update(prefix[-1] for prefix in beams if prefix)
        candidates.discard(blank_id)
        nxt: dict[tuple[int, ...], list[float]] = {}
        for prefix, (p_b, p_nb) in beams.items():
            total = _logaddexp(p_b, p_nb)
            _extend(nxt, prefix, total + frame[blank_id], _NEG_INF)
            last = prefix[-1] if prefix else None
            for c in candidates:
                p = float(frame[c])
                if c == last:
                    _extend(nxt, prefix, _NEG_INF, p_nb + p)  # the same unit continues: merged
                    _extend(nxt, prefix + (c,), _NEG_INF, p_b + p)  # a blank came between: a new unit
                else:
                    _extend(nxt, prefix + (c,), _NEG_INF, total + p)
        scored = sorted(((_logaddexp(b, nb), prefix) for prefix, (b, nb) in nxt.items()), reverse=True)
        beams = {prefix: (nxt[prefix][0], nxt[prefix][1]) for _, prefix in scored[:beam_width]}
    ranked = sorted(((_logaddexp(b, nb), prefix) for prefix, (b, nb) in beams.items()), reverse=True)
    return [(list(prefix), score) for score, prefix in ranked]


_NEG_INF = float("-inf")


def _logaddexp(a: float, b: float) -> float:
    if a == _NEG_INF:
        return b
    if b == _NEG_INF:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def _extend(table: dict[tuple[int, ...], list[float]], prefix: tuple[int, ...], blank: float, non_blank: float) -> None:
    """Add alignment mass to ``prefix`` in the next frame's table."""
    if blank == _NEG_INF and non_blank == _NEG_INF:
        return  # an impossible extension (a repeat with no blank before it)
    entry = table.setdefault(prefix, [_NEG_INF, _NEG_INF])
    entry[0] = _logaddexp(entry[0], blank)
    entry[1] = _logaddexp(entry[1], non_blank)


def ctc_confidence(log_probs: torch.Tensor, length: int, blank_id: int = 0) -> float:
    """0..1: mean probability of the best unit over the frames where it is not the blank (1.0 if none)."""
    probs = log_probs[:length].exp()
    best, idx = probs.max(dim=-1)
    spoken = best[idx != blank_id]
    return float(spoken.mean()) if len(spoken) else 1.0


# --------------------------------------------------------------------------------------------
# Checkpoints: weights + plain data, never pickled modules.


@dataclass
class LoadedCheckpoint:
    """A rebuilt model and the plain data saved beside its weights."""

    model: DeepSpeech2
    config: DeepSpeech2Config
    extra: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(path: str | Path, model: nn.Module, **extra: Any) -> None:
    """Write ``model``'s weights, its config and ``extra`` plain data (dicts, lists, numbers, tensors).

    ``model`` may be wrapped in ``DataParallel``/``DistributedDataParallel``. The file is written
    to a temporary name first and then moved into place, so a crash never leaves half a checkpoint.
    """
    inner = getattr(model, "module", model)
    if not isinstance(inner, DeepSpeech2):
        raise TypeError(f"expected a DeepSpeech2 model, got {type(inner).__name__}")
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": inner.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in inner.state_dict().items()},
        **extra,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Rebuild a DeepSpeech2 from ``save_checkpoint`` output (``weights_only`` loading).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a DeepSpeech2 checkpoint of this format.
    """
    payload = read_checkpoint(path, CHECKPOINT_FORMAT, map_location)
    config = DeepSpeech2Config.from_dict(payload["config"])
    model = DeepSpeech2(config)
    model.load_state_dict(payload["state_dict"])
    extra = {k: v for k, v in payload.items() if k not in ("format", "config", "state_dict")}
    return LoadedCheckpoint(model=model, config=config, extra=extra)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def collate_features(items: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(F, T_i) feature tensors → zero-padded (B, F, max T) and (B,) lengths."""
    lengths = torch.tensor([x.shape[-1] for x in items], dtype=torch.long)
    batch = torch.zeros(len(items), items[0].shape[0], int(lengths.max()), dtype=items[0].dtype)
    for i, x in enumerate(items):
        batch[i, :, : x.shape[-1]] = x
    return batch, lengths
