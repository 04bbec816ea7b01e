"""Tacotron: text symbols → mel spectrogram frames, with location-sensitive attention.

One configurable model covers both classic set-ups:

* Tacotron 1 (Wang et al., 2017): embedding → prenet → CBHG encoder; CBHG post-net that maps the
  mel frames to a *linear* spectrogram for Griffin-Lim.
* Tacotron 2 (Shen et al., 2018): embedding → 3 convolutions → BiLSTM encoder; convolutional
  post-net that refines the *mel* frames (residual).

The decoder is Tacotron 2's: a prenet on the previous frame, an attention LSTM, location-sensitive
attention (Chorowski et al., 2015), a decoder LSTM, and a projection to ``reduction_factor`` mel
frames plus one stop-token logit per step.

Shapes use ``B`` batch, ``N`` input symbols, ``T`` mel frames (a multiple of ``r``), ``S = T / r``
decoder steps. Spectrogram values are whatever the feature code produced (normalised to about
0..1 by ``pipeline.speech.vocoder``); this file knows nothing of audio or text processing.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from models.checkpoint import read_checkpoint


@dataclass(frozen=True)
class TacotronConfig:
    """Architecture and decoding settings. Defaults follow the Tacotron 2 paper at 22.05 kHz with r=2."""

    vocab_size: int = 74  # symbols incl. pad (id ``pad_id``) and end; pipeline.speech.tts_text.SYMBOLS has 74
    pad_id: int = 0
    embedding_dim: int = 512
    encoder_type: str = "conv"  # "conv" (Tacotron 2: convolutions + BiLSTM) or "cbhg" (Tacotron 1)
    encoder_dim: int = 512  # encoder output size, both directions together (even)
    encoder_conv_layers: int = 3  # conv encoder only
    encoder_kernel_size: int = 5  # conv encoder only (odd)
    encoder_prenet_dims: tuple[int, ...] = (256, 128)  # cbhg encoder only
    cbhg_bank_size: int = 16  # K: the CBHG convolution bank has kernels 1..K
    cbhg_channels: int = 128
    cbhg_highway_layers: int = 4
    dropout: float = 0.5  # encoder convolutions / prenets
    prenet_dims: tuple[int, ...] = (256, 256)  # decoder prenet on the previous frame
    attention_rnn_dim: int = 1024
    attention_dim: int = 128
    location_filters: int = 32
    location_kernel_size: int = 31  # odd
    decoder_rnn_dim: int = 1024
    rnn_dropout: float = 0.1  # on the attention and decoder LSTM outputs
    n_mels: int = 80
    reduction_factor: int = 2  # r: mel frames per decoder step
    postnet_type: str = "conv"  # "conv" (refined mel, Tacotron 2) or "cbhg" (linear spectrogram, Tacotron 1)
    postnet_dim: int = 512
    postnet_layers: int = 5  # conv post-net only
    postnet_kernel_size: int = 5  # conv post-net only (odd)
    postnet_bank_size: int = 8  # cbhg post-net only
    n_linear: int = 513  # cbhg post-net output bins (n_fft // 2 + 1)
    max_decoder_steps: int = 1000  # inference stops here if the stop token never fires
    stop_threshold: float = 0.5  # stop probability that ends inference
    stop_window: int = 3  # inference stops only once attention peaks on one of the last N symbols (0: any time)

    def __post_init__(self) -> None:
        if self.encoder_type not in {"conv", "cbhg"}:
            raise ValueError(f"encoder_type must be 'conv' or 'cbhg', not {self.encoder_type!r}")
        if self.postnet_type not in {"conv", "cbhg"}:
            raise ValueError(f"postnet_type must be 'conv' or 'cbhg', not {self.postnet_type!r}")
        if self.encoder_dim % 2:
            raise ValueError("encoder_dim must be even (two directions)")
        for name in ("encoder_kernel_size", "location_kernel_size", "postnet_kernel_size"):
            if getattr(self, name) % 2 == 0:
                raise ValueError(f"{name} must be odd")
        if self.reduction_factor < 1 or self.vocab_size < 2:
            raise ValueError("reduction_factor must be ≥ 1 and vocab_size ≥ 2")

    @classmethod
    def from_dict(cls, values: dict) -> TacotronConfig:
        """Rebuild from ``dataclasses.asdict`` output (lists back to tuples); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown TacotronConfig fields {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@dataclass
class TacotronOutput:
    """What the model returns.

    Attributes:
        mel: (B, T, n_mels) decoder frames.
        mel_postnet: (B, T, n_mels) refined frames (conv post-net), or None.
        linear: (B, T, n_linear) linear spectrogram (cbhg post-net), or None.
        stop_logits: (B, S) one stop-token logit per decoder step.
        alignments: (B, S, N) attention weights per decoder step.
        lengths: (B,) valid frames per item (inference: up to the first stop; training: the input lengths).
    """

    mel: torch.Tensor
    mel_postnet: torch.Tensor | None
    linear: torch.Tensor | None
    stop_logits: torch.Tensor
    alignments: torch.Tensor
    lengths: torch.Tensor

    @property
    def spectrogram(self) -> torch.Tensor:
        """The best output for a vocoder: linear if present, else the refined mel, else the mel."""
        if self.linear is not None:
            return self.linear
        return self.mel_postnet if self.mel_postnet is not None else self.mel


def sequence_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """(B,) lengths → (B, max_len) bool, True on valid positions."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class TacotronPrenet(nn.Module):
    """Linear + ReLU + dropout layers. ``always_dropout`` keeps dropout on at inference (Tacotron 2 decoder)."""

    def __init__(self, in_dim: int, dims: tuple[int, ...], dropout: float, always_dropout: bool) -> None:
        super().__init__()
        sizes = (in_dim, *dims)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.dropout = dropout
        self.always_dropout = always_dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(…, in_dim) → (…, dims[-1])."""
        for layer in self.layers:
            x = F.dropout(F.relu(layer(x)), self.dropout, training=self.training or self.always_dropout)
        return x


class TacotronBatchNormConv(nn.Module):
    """Conv1d ('same' padding) + BatchNorm + optional activation, on (B, C, T)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, activation: nn.Module | None) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_ch, out_ch, kernel, padding=kernel // 2, bias=False)
        self.norm = nn.BatchNorm1d(out_ch)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, T) → (B, C_out, T): convolution, batch norm, then the activation if any."""
        length = x.size(-1)
        x = self.norm(self.conv(x)[..., :length])  # even kernels give one extra frame
        return self.activation(x) if self.activation is not None else x


class TacotronHighway(nn.Module):
    """A highway layer: a gated mix of a ReLU transform and the input (gate biased towards the input)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.transform = nn.Linear(dim, dim)
        self.gate = nn.Linear(dim, dim)
        nn.init.constant_(self.gate.bias, -1.0)  # start close to the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., dim) → (..., dim)."""
        gate = torch.sigmoid(self.gate(x))
        return gate * F.relu(self.transform(x)) + (1.0 - gate) * x


class TacotronCBHG(nn.Module):
    """Convolution bank + max-pool + projections + residual + highways + bidirectional GRU.

    (B, T, in_dim) → (B, T, 2 * gru_dim).
    """

    def __init__(self, in_dim: int, channels: int, bank_size: int, highway_layers: int, gru_dim: int) -> None:
        super().__init__()
        self.bank = nn.ModuleList(
            TacotronBatchNormConv(in_dim, channels, k, nn.ReLU()) for k in range(1, bank_size + 1)
        )
        self.pool = nn.MaxPool1d(kernel_size=2, stride=1, padding=1)
        self.projections = nn.Sequential(
            TacotronBatchNormConv(bank_size * channels, channels, 3, nn.ReLU()),
            TacotronBatchNormConv(channels, in_dim, 3, None),
        )
        self.highways = nn.ModuleList(TacotronHighway(in_dim) for _ in range(highway_layers))
        self.gru = nn.GRU(in_dim, gru_dim, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, in_dim), with padding past ``lengths`` zeroed first → (B, T, 2 * gru_dim)."""
        if lengths is not None:
            x = x * sequence_mask(lengths, x.size(1)).unsqueeze(-1)
        residual = x
        y = x.transpose(1, 2)
        length = y.size(-1)
        y = torch.cat([conv(y) for conv in self.bank], dim=1)
        y = self.pool(y)[..., :length]
        y = self.projections(y).transpose(1, 2) + residual
        for highway in self.highways:
            y = highway(y)
        return _run_rnn(self.gru, y, lengths)


def _run_rnn(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """A batch-first bidirectional RNN that ignores padding when lengths are given."""
    if lengths is None:
        return rnn(x)[0]
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    return pad_packed_sequence(rnn(packed)[0], batch_first=True, total_length=x.size(1))[0]


class TacotronEncoder(nn.Module):
    """(B, N) symbol ids → (B, N, encoder_dim)."""

    def __init__(self, config: TacotronConfig) -> None:
        super().__init__()
        c = config
        self.type = c.encoder_type
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim, padding_idx=c.pad_id)
        nn.init.normal_(self.embedding.weight, 0.0, 0.3)
        if c.encoder_type == "cbhg":
            self.prenet = TacotronPrenet(c.embedding_dim, c.encoder_prenet_dims, c.dropout, always_dropout=False)
            self.cbhg = TacotronCBHG(
                c.encoder_prenet_dims[-1], c.cbhg_channels, c.cbhg_bank_size, c.cbhg_highway_layers, c.encoder_dim // 2
            )
        else:
            self.convs = nn.ModuleList(
                TacotronBatchNormConv(c.embedding_dim, c.embedding_dim, c.encoder_kernel_size, nn.ReLU())
                for _ in range(c.encoder_conv_layers)
            )
            self.dropout = nn.Dropout(c.dropout)
            self.lstm = nn.LSTM(c.embedding_dim, c.encoder_dim // 2, batch_first=True, bidirectional=True)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, N) symbol ids and their (B,) lengths → (B, N, encoder_dim)."""
        x = self.embedding(tokens)
        if self.type == "cbhg":
            return self.cbhg(self.prenet(x), lengths)
        mask = sequence_mask(lengths, x.size(1)).unsqueeze(1)
        y = x.transpose(1, 2)
        for conv in self.convs:
            y = self.dropout(conv(y * mask))
        return _run_rnn(self.lstm, y.transpose(1, 2), lengths)


class TacotronAttention(nn.Module):
    """Location-sensitive additive attention.

    The previous and the cumulative attention weights, convolved, join the query and the memory in
    the energy, which pushes the alignment to move forward monotonically.
    """

    def __init__(self, query_dim: int, memory_dim: int, config: TacotronConfig) -> None:
        super().__init__()
        c = config
        self.query = nn.Linear(query_dim, c.attention_dim, bias=False)
        self.memory = nn.Linear(memory_dim, c.attention_dim, bias=False)
        self.location_conv = nn.Conv1d(
            2, c.location_filters, c.location_kernel_size, padding=c.location_kernel_size // 2, bias=False
        )
        self.location = nn.Linear(c.location_filters, c.attention_dim, bias=False)
        self.energy = nn.Linear(c.attention_dim, 1)

    def forward(
        self,
        query: torch.Tensor,
        memory: torch.Tensor,
        processed_memory: torch.Tensor,
        weights_cat: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step.

        Args:
            query: (B, query_dim) attention-RNN output.
            memory: (B, N, memory_dim) encoder outputs.
            processed_memory: (B, N, attention_dim) ``self.memory(memory)``, computed once per utterance.
            weights_cat: (B, 2, N) previous and cumulative attention weights.
            mask: (B, N) True on real symbols.

        Returns:
            context (B, memory_dim) and weights (B, N).
        """
        location = self.location(self.location_conv(weights_cat).transpose(1, 2))
        energies = self.energy(torch.tanh(self.query(query).unsqueeze(1) + processed_memory + location)).squeeze(-1)
        weights = torch.softmax(energies.masked_fill(~mask, float("-inf")), dim=-1)
        context = torch.bmm(weights.unsqueeze(1), memory).squeeze(1)
        return context, weights


class TacotronDecoder(nn.Module):
    """Autoregressive decoder: ``r`` mel frames and one stop logit per step."""

    def __init__(self, config: TacotronConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.prenet = TacotronPrenet(c.n_mels, c.prenet_dims, 0.5, always_dropout=True)
        self.attention_rnn = nn.LSTMCell(c.prenet_dims[-1] + c.encoder_dim, c.attention_rnn_dim)
        self.attention = TacotronAttention(c.attention_rnn_dim, c.encoder_dim, c)
        self.decoder_rnn = nn.LSTMCell(c.attention_rnn_dim + c.encoder_dim, c.decoder_rnn_dim)
        self.frame_projection = nn.Linear(c.decoder_rnn_dim + c.encoder_dim, c.n_mels * c.reduction_factor)
        self.stop_projection = nn.Linear(c.decoder_rnn_dim + c.encoder_dim, 1)

    def _initial_state(self, memory: torch.Tensor) -> dict[str, torch.Tensor]:
        b, n, _ = memory.shape
        c = self.config
        zeros = memory.new_zeros
        return {
            "att_h": zeros(b, c.attention_rnn_dim),
            "att_c": zeros(b, c.attention_rnn_dim),
            "dec_h": zeros(b, c.decoder_rnn_dim),
            "dec_c": zeros(b, c.decoder_rnn_dim),
            "weights": zeros(b, n),
            "cum_weights": zeros(b, n),
            "context": zeros(b, c.encoder_dim),
        }

    def _step(
        self,
        prenet_out: torch.Tensor,
        state: dict[str, torch.Tensor],
        memory: torch.Tensor,
        processed_memory: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c = self.config
        dropout = c.rnn_dropout if self.training else 0.0
        att_in = torch.cat([prenet_out, state["context"]], -1)
        att_h, att_c = self.attention_rnn(att_in, (state["att_h"], state["att_c"]))
        att_h = F.dropout(att_h, dropout, self.training)
        weights_cat = torch.stack([state["weights"], state["cum_weights"]], dim=1)
        context, weights = self.attention(att_h, memory, processed_memory, weights_cat, mask)
        dec_h, dec_c = self.decoder_rnn(torch.cat([att_h, context], -1), (state["dec_h"], state["dec_c"]))
        dec_h = F.dropout(dec_h, dropout, self.training)
        out = torch.cat([dec_h, context], -1)
        state.update(
            att_h=att_h, att_c=att_c, dec_h=dec_h, dec_c=dec_c,
            weights=weights, cum_weights=state["cum_weights"] + weights, context=context,
        )  # fmt: skip
        frames = self.frame_projection(out).view(out.size(0), c.reduction_factor, c.n_mels)
        return frames, self.stop_projection(out).squeeze(-1), weights

    def forward(
        self, memory: torch.Tensor, mask: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Teacher forcing: each step sees the last true frame of the previous step.

        Args:
            memory: (B, N, encoder_dim).
            mask: (B, N) True on real symbols.
            targets: (B, T, n_mels), T a multiple of r.

        Returns:
            mel (B, T, n_mels), stop logits (B, S), alignments (B, S, N).
        """
        r = self.config.reduction_factor
        if targets.size(1) % r:
            raise ValueError(f"target frames ({targets.size(1)}) must be a multiple of reduction_factor {r}")
        previous = targets[:, r - 1 :: r]  # last frame of each step
        go = targets.new_zeros(targets.size(0), 1, targets.size(2))
        inputs = self.prenet(torch.cat([go, previous[:, :-1]], dim=1))
        processed = self.attention.memory(memory)
        state = self._initial_state(memory)
        frames, stops, aligns = [], [], []
        for s in range(inputs.size(1)):
            f, stop, w = self._step(inputs[:, s], state, memory, processed, mask)
            frames.append(f)
            stops.append(stop)
            aligns.append(w)
        return torch.cat(frames, dim=1), torch.stack(stops, dim=1), torch.stack(aligns, dim=1)

    def inference(
        self, memory: torch.Tensor, mask: torch.Tensor, max_steps: int, stop_threshold: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Free running until every item's stop probability passes ``stop_threshold`` or ``max_steps``.

        With ``config.stop_window`` set, a stop counts only once the attention has reached the end
        of the input (its peak on one of the last ``stop_window`` symbols): a half-trained model
        then does not cut a sentence short.

        Returns:
            mel (B, T, n_mels), stop logits (B, S), alignments (B, S, N), frames per item (B,).
        """
        r = self.config.reduction_factor
        b = memory.size(0)
        processed = self.attention.memory(memory)
        state = self._initial_state(memory)
        frame = memory.new_zeros(b, self.config.n_mels)
        steps = torch.full((b,), max_steps, dtype=torch.long, device=memory.device)
        last_symbol = mask.sum(dim=-1) - 1
        done = torch.zeros(b, dtype=torch.bool, device=memory.device)
        frames, stops, aligns = [], [], []
        for s in range(max_steps):
            f, stop, w = self._step(self.prenet(frame), state, memory, processed, mask)
            frames.append(f)
            stops.append(stop)
            aligns.append(w)
            frame = f[:, -1]
            finished = (torch.sigmoid(stop) > stop_threshold) & ~done
            if self.config.stop_window > 0:
                finished &= w.argmax(dim=-1) >= last_symbol - (self.config.stop_window - 1)
            steps[finished] = s + 1
            done |= finished
            if bool(done.all()):
                break
        return torch.cat(frames, dim=1), torch.stack(stops, dim=1), torch.stack(aligns, dim=1), steps * r


class TacotronConvPostnet(nn.Module):
    """Five convolutions (tanh) predicting a residual for the mel frames: (B, T, n_mels) → same."""

    def __init__(self, config: TacotronConfig) -> None:
        super().__init__()
        c = config
        sizes = [c.n_mels] + [c.postnet_dim] * (c.postnet_layers - 1) + [c.n_mels]
        self.layers = nn.ModuleList(
            TacotronBatchNormConv(a, b, c.postnet_kernel_size, nn.Tanh() if i < c.postnet_layers - 1 else None)
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
        )
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, T, n_mels) mel frames → the same frames plus the predicted residual."""
        y = mel.transpose(1, 2)
        for layer in self.layers:
            y = self.dropout(layer(y))
        return mel + y.transpose(1, 2)


class TacotronCBHGPostnet(nn.Module):
    """CBHG over the mel frames, projected to a linear spectrogram: (B, T, n_mels) → (B, T, n_linear)."""

    def __init__(self, config: TacotronConfig) -> None:
        super().__init__()
        c = config
        self.cbhg = TacotronCBHG(c.n_mels, c.postnet_dim, c.postnet_bank_size, c.cbhg_highway_layers, c.n_mels)
        self.projection = nn.Linear(2 * c.n_mels, c.n_linear)

    def forward(self, mel: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, n_mels) mel frames, optional (B,) lengths → (B, T, n_linear) linear spectrogram."""
        return self.projection(self.cbhg(mel, lengths))


class Tacotron(nn.Module):
    """Symbols → spectrogram frames (see the module docstring)."""

    def __init__(self, config: TacotronConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = TacotronEncoder(config)
        self.decoder = TacotronDecoder(config)
        if config.postnet_type == "conv":
            self.postnet: nn.Module = TacotronConvPostnet(config)
        else:
            self.postnet = TacotronCBHGPostnet(config)

    def _encode(self, tokens: torch.Tensor, token_lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (batch, symbols), got shape {tuple(tokens.shape)}")
        if token_lengths is None:
            token_lengths = torch.full((tokens.size(0),), tokens.size(1), dtype=torch.long, device=tokens.device)
        return self.encoder(tokens, token_lengths), sequence_mask(token_lengths, tokens.size(1))

    def _post(self, mel: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if self.config.postnet_type == "conv":
            return self.postnet(mel), None
        return None, self.postnet(mel, lengths)

    def forward(
        self,
        tokens: torch.Tensor,
        token_lengths: torch.Tensor,
        mels: torch.Tensor,
        mel_lengths: torch.Tensor | None = None,
    ) -> TacotronOutput:
        """Teacher-forced pass for training.

        Args:
            tokens: (B, N) long symbol ids, padded with ``pad_id``.
            token_lengths: (B,) real symbols per item.
            mels: (B, T, n_mels) target frames, T a multiple of ``reduction_factor``.
            mel_lengths: (B,) real frames per item (default: all T).
        """
        memory, mask = self._encode(tokens, token_lengths)
        mel, stop_logits, alignments = self.decoder(memory, mask, mels)
        if mel_lengths is None:
            mel_lengths = torch.full((mels.size(0),), mels.size(1), dtype=torch.long, device=mels.device)
        mel_postnet, linear = self._post(mel, mel_lengths)
        return TacotronOutput(mel, mel_postnet, linear, stop_logits, alignments, mel_lengths)

    @torch.inference_mode()
    def inference(
        self,
        tokens: torch.Tensor,
        token_lengths: torch.Tensor | None = None,
        max_steps: int | None = None,
        stop_threshold: float | None = None,
    ) -> TacotronOutput:
        """Free-running synthesis; call ``eval()`` first.

        Args:
            tokens: (B, N) long symbol ids.
            token_lengths: (B,) real symbols per item (default: all N).
            max_steps: decoder steps at most (default ``config.max_decoder_steps``).
            stop_threshold: stop probability that ends an item (default ``config.stop_threshold``).

        Returns:
            ``TacotronOutput``; ``lengths`` gives the frames before each item's stop token.
        """
        c = self.config
        memory, mask = self._encode(tokens, token_lengths)
        steps = max(1, min(max_steps or c.max_decoder_steps, c.max_decoder_steps))
        threshold = c.stop_threshold if stop_threshold is None else stop_threshold
        mel, stop_logits, alignments, lengths = self.decoder.inference(memory, mask, steps, threshold)
        mel_postnet, linear = self._post(mel, lengths)
        return TacotronOutput(mel, mel_postnet, linear, stop_logits, alignments, lengths)


def guided_attention_loss(
    alignments: torch.Tensor, token_lengths: torch.Tensor, step_lengths: torch.Tensor, sigma: float = 0.2
) -> torch.Tensor:
    """Penalty on attention far from the diagonal (Tachibana et al., 2017).

    ``W[s, n] = 1 - exp(-(n / N - s / S)² / (2 σ²))`` per item, with its own N symbols and S steps;
    the loss is the mean of ``A * W`` over the valid (step, symbol) cells.

    Args:
        alignments: (B, S, N) attention weights.
        token_lengths: (B,) real symbols.
        step_lengths: (B,) real decoder steps.
        sigma: width of the allowed band, as a fraction of the utterance.
    """
    b, s_max, n_max = alignments.shape
    device = alignments.device
    s = torch.arange(s_max, device=device, dtype=alignments.dtype)[None, :, None] / step_lengths[:, None, None]
    n = torch.arange(n_max, device=device, dtype=alignments.dtype)[None, None, :] / token_lengths[:, None, None]
    weights = 1.0 - torch.exp(-((n - s) ** 2) / (2.0 * sigma**2))
    mask = sequence_mask(step_lengths, s_max)[:, :, None] & sequence_mask(token_lengths, n_max)[:, None, :]
    return (alignments * weights * mask).sum() / mask.sum().clamp(min=1)


def decoder_steps(frames: torch.Tensor, reduction_factor: int) -> torch.Tensor:
    """Frames → decoder steps that cover them (ceil division)."""
    return torch.div(frames + reduction_factor - 1, reduction_factor, rounding_mode="floor")


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


CHECKPOINT_FORMAT = "maum-tacotron"
CHECKPOINT_VERSION = 1


@dataclass
class LoadedTacotron:
    """A rebuilt model with its config and everything else the checkpoint held (``extra``)."""

    model: Tacotron
    config: TacotronConfig
    extra: dict[str, Any]


def save_checkpoint(path: str | Path, model: Tacotron, **extra: Any) -> None:
    """Write ``state_dict`` + ``asdict(config)`` + ``extra`` (plain data and tensors only), atomically.

    ``extra`` holds what the model alone does not know: the audio settings, the symbol table, and
    for training the optimiser state and step. A temporary file is renamed into place, so a crash
    never leaves half a checkpoint.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": asdict(model.config),
        "state_dict": model.state_dict(),
        **extra,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> LoadedTacotron:
    """Rebuild a Tacotron from ``save_checkpoint`` output, loading with ``weights_only=True``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a readable Tacotron checkpoint of this format, or its weights do
            not fit its config.
    """
    path = Path(path)
    payload = read_checkpoint(path, CHECKPOINT_FORMAT, map_location)
    if payload.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path}: checkpoint version {payload.get('version')} (this code reads {CHECKPOINT_VERSION})")
    try:
        config = TacotronConfig.from_dict(payload["config"])
        model = Tacotron(config)
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise ValueError(f"{path}: weights and config do not fit: {exc}") from exc
    extra = {k: v for k, v in payload.items() if k not in ("format", "version", "config", "state_dict")}
    return LoadedTacotron(model=model, config=config, extra=extra)
