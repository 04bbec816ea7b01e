"""Train Tacotron (``models/tacotron.py``) on KSS-format data for the ``tacotron`` synthesizer.

KSS (Korean Single Speaker Speech, Park 2018; 12,853 utterances, ~12 h, one voice actress) ships a
folder with ``1/ 2/ 3/ 4/`` of WAV files and ``transcript.v.1.x.txt``, one utterance a line::

    1/1_0000.wav|그는 괜찮은 척하려고 애쓰는 것 같았다.|그는 괜찮은 척하려고 애쓰는 것 같았다.|그는 …|3.5|He seemed …

The columns are: path (relative to the folder), original script, expanded script (numbers and
symbols written out), decomposed script (the expanded one in jamo), duration in seconds, English
translation. ``--text-column`` picks original, expanded (default) or decomposed; a file with only
``path|text`` works too (any speaker, any folder laid out that way).

Text goes through ``pipeline.speech.tts_text`` (normaliser, then jamo); audio is resampled to the
``AudioConfig`` rate, trimmed, and turned into normalised mel (and, for a CBHG post-net, linear)
spectrograms by ``pipeline.speech.vocoder``. Training uses teacher forcing, masked L1 spectrogram losses,
a stop-token BCE, and a guided-attention loss (a diagonal prior, Tachibana et al. 2017) that makes
the attention align early (on 100 espeak-ng utterances, ``training/espeak_kss.py``: within ~200
steps with it, not at all in 465 steps without it). Every
``--plot-every`` steps the attention of a training item (teacher forced) and of free-running
synthesis is saved as a PNG under ``OUT/attention/``; the checkpoint ``OUT/tacotron.pt`` holds the
weights, model and audio configs, the symbol table, and the optimiser state for ``--resume``.

Train on KSS (download it yourself; nothing here fetches data)::

    .venv/bin/python -m training.train_tacotron --data /data/kss --out runs/kss --device auto
    .venv/bin/python -m training.train_tacotron --data /data/kss --out runs/kss --resume runs/kss/tacotron.pt

Then ``MAUM_SYNTHESIZER=tacotron MAUM_TACOTRON_CHECKPOINT=runs/kss/tacotron.pt`` makes the app speak
with it. ``--preset`` picks a model size (``paper``, ``tacotron1``, ``small``, ``tiny``), and
``--set FIELD=VALUE`` / ``--audio FIELD=VALUE`` override single ``TacotronConfig`` / ``AudioConfig``
fields, e.g. ``--set reduction_factor=3 --audio sample_rate=16000 --audio fmax=7600``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from models.tacotron import (
    Tacotron,
    TacotronConfig,
    TacotronOutput,
    count_parameters,
    decoder_steps,
    guided_attention_loss,
    load_checkpoint,
    save_checkpoint,
    sequence_mask,
)
from pipeline.settings import resolve_device
from pipeline.speech.tts_text import SYMBOLS, TextEncoder
from pipeline.speech.vocoder import AudioConfig, griffin_lim, load_wav, spectrograms
from training.cli import add_config_options, build_config, config_overrides, parse_assignments
from training.loop import train_step

TEXT_COLUMNS = {"original": 1, "expanded": 2, "decomposed": 3}

#: Model sizes. ``n_mels``, ``n_linear`` and ``vocab_size`` always follow the audio config and symbols.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},  # Tacotron 2 sizes (28 M parameters); wants a GPU
    "tacotron1": {
        "encoder_type": "cbhg", "postnet_type": "cbhg", "embedding_dim": 256, "encoder_dim": 256,
        "attention_rnn_dim": 256, "decoder_rnn_dim": 256,
        "prenet_dims": (256, 128), "postnet_dim": 128, "reduction_factor": 3,
    },
    "small": {  # ~3 M parameters; trains on a CPU for short experiments
        "embedding_dim": 128, "encoder_dim": 128, "prenet_dims": (128, 64), "attention_rnn_dim": 256,
        "attention_dim": 64, "decoder_rnn_dim": 256, "postnet_dim": 128, "reduction_factor": 3,
    },
    "tiny": {  # tests and plumbing checks only
        "embedding_dim": 16, "encoder_dim": 16, "encoder_conv_layers": 1, "encoder_prenet_dims": (16, 16),
        "cbhg_bank_size": 2, "cbhg_channels": 8, "cbhg_highway_layers": 1, "prenet_dims": (16, 16),
        "attention_rnn_dim": 32, "attention_dim": 16, "location_filters": 4, "location_kernel_size": 7,
        "decoder_rnn_dim": 32, "postnet_dim": 16, "postnet_layers": 2, "postnet_bank_size": 2,
    },
}  # fmt: skip


@dataclass(frozen=True)
class TrainConfig:
    data: str = ""  # KSS-format folder (transcript + WAV files)
    transcript: str = ""  # transcript file; empty: the newest transcript*.txt in --data
    text_column: str = "expanded"  # original | expanded | decomposed
    out: str = "runs/tacotron"  # checkpoint, attention plots, log
    resume: str = ""  # checkpoint to continue from (model, optimiser, schedule, step)
    preset: str = "small"  # paper | tacotron1 | small | tiny (ignored on --resume)
    device: str = "auto"  # auto, cpu or cuda:N
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    steps: int = 100_000  # train until this global step
    time_limit_min: float = 0.0  # also stop (and save) after this many minutes of this run; 0: no limit
    batch_size: int = 32
    lr: float = 1e-3
    schedule: str = "noam"  # noam (warm-up then 1/sqrt(step)), step (halve every --decay-every), constant
    warmup_steps: int = 4000
    decay_every: int = 50_000
    decay_rate: float = 0.5
    weight_decay: float = 1e-6
    grad_clip: float = 1.0  # max gradient norm
    mel_loss: str = "l1"  # l1 | mse | l1+mse
    stop_weight: float = 1.0
    stop_pos_weight: float = 5.0  # stop frames are rare: weight them up in the BCE
    guided_attention_weight: float = 5.0  # 0 turns the diagonal prior off (5: measured in README, Train)
    guided_attention_sigma: float = 0.2
    guided_attention_until: int = 0  # stop the prior after this step (0: keep it all the way)
    max_duration_s: float = 10.0  # skip longer utterances (memory, and attention learns on short ones first)
    limit: int = 0  # use only the first N utterances (0: all)
    workers: int = 0  # DataLoader worker processes
    feature_cache: int = 2000  # keep features in memory when there are at most this many utterances
    log_every: int = 50
    plot_every: int = 500  # attention PNG (and sample WAV) every N steps; 0: only at the end
    save_every: int = 1000
    samples: bool = False  # also write a Griffin-Lim WAV of the free-running synthesis with each plot
    seed: int = 1234


@dataclass(frozen=True)
class Utterance:
    path: str
    text: str
    duration_s: float


# ---------------------------------------------------------------------------------------------- data


def find_transcript(data_dir: Path) -> Path:
    """The newest ``transcript*.txt`` in ``data_dir`` (KSS ships ``transcript.v.1.x.txt``)."""

    def version(p: Path) -> list[tuple[int, int | str]]:
        return [(0, int(t)) if t.isdigit() else (1, t) for t in p.name.split(".")]

    found = sorted(data_dir.glob("transcript*.txt"), key=version)
    if not found:
        raise FileNotFoundError(f"no transcript*.txt in {data_dir}; pass --transcript")
    return found[-1]


def read_transcript(data_dir: str | Path, transcript: str | Path = "", column: str = "expanded") -> list[Utterance]:
    """Utterances from a KSS-format transcript: ``path|original|expanded|decomposed|duration|english``.

    Lines with only ``path|text`` also work (their one text column is used whatever ``column`` says).
    Missing audio files are an error naming the first few; durations missing from the file are read
    from the audio headers.
    """
    if column not in TEXT_COLUMNS:
        raise ValueError(f"text column must be one of {list(TEXT_COLUMNS)}, not {column!r}")
    data_dir = Path(data_dir)
    path = Path(transcript) if transcript else find_transcript(data_dir)
    items, missing = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        cols = line.split("|")
        if len(cols) < 2:
            raise ValueError(f"{path}:{number}: expected path|text…, got {line[:80]!r}")
        audio = data_dir / cols[0].strip()
        if not audio.is_file():
            missing.append(str(audio))
            continue
        text = cols[TEXT_COLUMNS[column]] if len(cols) > TEXT_COLUMNS[column] else cols[1]
        try:
            duration = float(cols[4])
        except (IndexError, ValueError):
            duration = sf.info(str(audio)).duration
        items.append(Utterance(str(audio), text.strip(), duration))
    if missing:
        raise FileNotFoundError(f"{len(missing)} audio files listed in {path} are missing, e.g. {missing[:3]}")
    return items


class TacotronDataset(Dataset):
    """Utterances → (symbol ids, mel (frames, n_mels), linear (frames, bins) or None)."""

    def __init__(
        self, items: Sequence[Utterance], encoder: TextEncoder, audio: AudioConfig, *,
        normalized_text: bool, with_linear: bool, cache: bool,
    ) -> None:  # fmt: skip
        self.items = list(items)
        self.encoder = encoder
        self.audio = audio
        self.normalized_text = normalized_text
        self.with_linear = with_linear
        self._cache: dict[int, tuple] | None = {} if cache else None
        self.tokens = [encoder.encode(u.text, normalized=normalized_text) for u in self.items]
        empty = [u.text for u, t in zip(self.items, self.tokens, strict=True) if len(t) < 2]
        if empty:
            raise ValueError(f"{len(empty)} transcripts have no readable Korean, e.g. {empty[:3]}")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[list[int], np.ndarray, np.ndarray | None]:
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        mel, linear = spectrograms(load_wav(self.items[index].path, self.audio), self.audio)
        item = (self.tokens[index], mel, linear if self.with_linear else None)
        if self._cache is not None:
            self._cache[index] = item
        return item


def collate(batch: Sequence[tuple], reduction_factor: int, pad_id: int) -> dict[str, torch.Tensor]:
    """Pad symbols with ``pad_id`` and frames with 0 (silence) up to a multiple of ``reduction_factor``."""
    tokens = [torch.tensor(t, dtype=torch.long) for t, _, _ in batch]
    token_lengths = torch.tensor([len(t) for t in tokens])
    mel_lengths = torch.tensor([m.shape[0] for _, m, _ in batch])
    frames = int(math.ceil(int(mel_lengths.max()) / reduction_factor) * reduction_factor)
    out = {
        "tokens": torch.nn.utils.rnn.pad_sequence(tokens, batch_first=True, padding_value=pad_id),
        "token_lengths": token_lengths,
        "mel_lengths": mel_lengths,
        "mels": torch.stack([F.pad(torch.from_numpy(m), (0, 0, 0, frames - m.shape[0])) for _, m, _ in batch]),
    }
    if batch[0][2] is not None:
        out["linears"] = torch.stack([F.pad(torch.from_numpy(x), (0, 0, 0, frames - x.shape[0])) for _, _, x in batch])
    return out


def bucketed_batches(lengths: Sequence[float], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar lengths (less padding): sort within random pools of 20 batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 20
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


# ---------------------------------------------------------------------------------------------- loss


def _masked(loss: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.expand_as(loss)
    return (loss * mask).sum() / mask.sum().clamp(min=1)


def spectrogram_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, kind: str) -> torch.Tensor:
    """Masked L1, MSE or their sum over (B, T, bins); ``mask`` is (B, T, 1)."""
    total = pred.new_zeros(())
    if "l1" in kind:
        total = total + _masked((pred - target).abs(), mask)
    if "mse" in kind:
        total = total + _masked((pred - target) ** 2, mask)
    return total


def tacotron_loss(out: TacotronOutput, batch: dict[str, torch.Tensor], cfg: TrainConfig, step: int, r: int) -> dict:
    """Every loss term (tensors) plus ``total``."""
    mels, mel_lengths = batch["mels"], batch["mel_lengths"]
    mask = sequence_mask(mel_lengths, mels.size(1)).unsqueeze(-1)
    terms = {"mel": spectrogram_loss(out.mel, mels, mask, cfg.mel_loss)}
    if out.mel_postnet is not None:
        terms["postnet"] = spectrogram_loss(out.mel_postnet, mels, mask, cfg.mel_loss)
    if out.linear is not None:
        terms["linear"] = spectrogram_loss(out.linear, batch["linears"], mask, cfg.mel_loss)
    steps = decoder_steps(mel_lengths, r)
    # The step holding an item's last frame, and every padded step after it, should say "stop".
    stop_target = (torch.arange(out.stop_logits.size(1), device=steps.device)[None, :] >= (steps - 1)[:, None]).float()
    pos_weight = torch.tensor(cfg.stop_pos_weight, device=stop_target.device)
    terms["stop"] = cfg.stop_weight * F.binary_cross_entropy_with_logits(
        out.stop_logits, stop_target, pos_weight=pos_weight
    )
    if cfg.guided_attention_weight > 0 and (cfg.guided_attention_until <= 0 or step < cfg.guided_attention_until):
        terms["guided"] = cfg.guided_attention_weight * guided_attention_loss(
            out.alignments, batch["token_lengths"], steps, cfg.guided_attention_sigma
        )
    terms["total"] = sum(terms.values())
    return terms


@torch.no_grad()
def alignment_scores(alignments: torch.Tensor, token_lengths: torch.Tensor, steps: torch.Tensor) -> dict[str, float]:
    """How well attention has aligned, for logs: ``focus`` = mean peak weight per decoder step (1 = sharp),
    ``diagonal`` = guided-attention cost with σ=0.2 (0 = all weight on the diagonal band).
    """
    mask = sequence_mask(steps, alignments.size(1))
    focus = (alignments.max(dim=-1).values * mask).sum() / mask.sum().clamp(min=1)
    diagonal = guided_attention_loss(alignments, token_lengths, steps, 0.2)
    return {"focus": round(float(focus), 4), "diagonal": round(float(diagonal), 4)}


# ---------------------------------------------------------------------------------------------- checkpoints


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Learning-rate multiplier at ``step`` (starting at 1)."""
    step = max(step, 1)
    if cfg.schedule == "noam":
        warmup = max(cfg.warmup_steps, 1)
        return min(step / warmup, math.sqrt(warmup / step))
    if cfg.schedule == "step":
        return cfg.decay_rate ** (step // max(cfg.decay_every, 1))
    if cfg.schedule == "constant":
        return 1.0
    raise ValueError(f"schedule must be noam, step or constant, not {cfg.schedule!r}")


# ---------------------------------------------------------------------------------------------- plots


def plot_attention(path: Path, panels: Sequence[tuple[np.ndarray, str]], title: str) -> None:
    """Save attention maps, one panel each: (decoder steps, symbols) arrays drawn symbols-up."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (align, label) in zip(axes[0], panels, strict=True):
        im = ax.imshow(align.T, aspect="auto", origin="lower", interpolation="none", vmin=0.0, vmax=1.0)
        ax.set_xlabel("decoder step")
        ax.set_ylabel("input symbol")
        ax.set_title(label, fontsize=9)
        fig.colorbar(im, ax=ax)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- training


def build_configs(
    cfg: TrainConfig, model_overrides: dict[str, Any], audio_overrides: dict[str, Any], symbols: Sequence[str]
) -> tuple[TacotronConfig, AudioConfig]:
    """Model config from the preset + overrides, with sizes that must agree taken from audio and symbols."""
    if cfg.preset not in PRESETS:
        raise SystemExit(f"--preset must be one of {list(PRESETS)}")
    audio = AudioConfig(**audio_overrides)
    values = {**PRESETS[cfg.preset], **model_overrides}
    values.update(vocab_size=len(symbols), pad_id=0, n_mels=audio.n_mels, n_linear=audio.n_linear)
    return TacotronConfig(**values), audio


def train(
    cfg: TrainConfig, model_overrides: dict[str, Any] | None = None, audio_overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Train until ``cfg.steps``; returns a summary (paths, last losses, alignment scores, timings)."""
    from tqdm import tqdm

    started = time.perf_counter()
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    device = torch.device(resolve_device(cfg.device))
    out_dir = Path(cfg.out)
    checkpoint_path = out_dir / "tacotron.pt"

    resumed = load_checkpoint(cfg.resume) if cfg.resume else None
    if resumed is not None:
        if model_overrides or audio_overrides:
            print("--resume: the checkpoint's model and audio configs are used; --set/--audio ignored", file=sys.stderr)
        symbols = tuple(resumed.extra["symbols"])
        model_cfg = resumed.config
        audio = AudioConfig.from_dict(resumed.extra["audio"])
        text_column = resumed.extra.get("text_column", cfg.text_column)
    else:
        symbols = SYMBOLS
        model_cfg, audio = build_configs(cfg, model_overrides or {}, audio_overrides or {}, symbols)
        text_column = cfg.text_column
    encoder = TextEncoder(symbols)

    items = read_transcript(cfg.data, cfg.transcript, text_column)
    items = [u for u in items if u.duration_s <= cfg.max_duration_s]
    if cfg.limit:
        items = items[: cfg.limit]
    if not items:
        raise SystemExit("no utterances to train on (check --data, --max-duration-s, --limit)")
    dataset = TacotronDataset(
        items, encoder, audio, normalized_text=text_column == "decomposed",
        with_linear=model_cfg.postnet_type == "cbhg", cache=len(items) <= cfg.feature_cache,
    )  # fmt: skip

    model = (resumed.model if resumed is not None else Tacotron(model_cfg)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s + 1, cfg))
    step, epoch = 0, 0
    if resumed is not None:
        optimizer.load_state_dict(resumed.extra["optimizer"])
        scheduler.load_state_dict(resumed.extra["scheduler"])
        step, epoch = int(resumed.extra["step"]), int(resumed.extra["epoch"])
        del resumed

    r = model_cfg.reduction_factor
    lengths = [u.duration_s for u in items]
    batch_rng = random.Random(cfg.seed)

    def loader(epoch: int) -> DataLoader:
        batch_rng.seed(cfg.seed + epoch)
        return DataLoader(
            dataset,
            batch_sampler=bucketed_batches(lengths, cfg.batch_size, batch_rng),
            collate_fn=partial(collate, reduction_factor=r, pad_id=encoder.pad_id),
            num_workers=cfg.workers,
        )

    def checkpoint_content() -> dict[str, Any]:
        return {
            "audio": dataclasses.asdict(audio),
            "symbols": list(symbols),
            "text_column": text_column,
            "step": step,
            "epoch": epoch,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            # Only folder names: absolute paths would leak this machine's layout into a shared file.
            "train": dataclasses.asdict(cfg) | {k: Path(getattr(cfg, k)).name for k in ("data", "out", "resume")},
        }

    log_path = out_dir / "train_log.jsonl"
    out_dir.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, Any]] = []
    plots: list[str] = []
    last: dict[str, Any] = {}
    start_step = step
    progress = tqdm(total=cfg.steps, initial=step, desc="tacotron", unit="step", file=sys.stderr, dynamic_ncols=True)
    deadline = started + 60.0 * cfg.time_limit_min if cfg.time_limit_min > 0 else math.inf
    final = step >= cfg.steps
    model.train()
    while not final:
        for batch in loader(epoch):
            batch = {k: v.to(device) for k, v in batch.items()}
            out = model(batch["tokens"], batch["token_lengths"], batch["mels"], batch["mel_lengths"])
            terms = tacotron_loss(out, batch, cfg, step, r)
            grad_norm = train_step(
                terms["total"], optimizer, scheduler, model.parameters(), cfg.grad_clip, skip_non_finite=True
            )
            if grad_norm is not None and not torch.isfinite(grad_norm):
                progress.write(f"step {step}: non-finite gradient norm, batch skipped")
                continue
            step += 1
            progress.update(1)
            # The last step (by count or by the time limit) always logs, plots and saves.
            final = step >= cfg.steps or time.perf_counter() >= deadline
            if step % cfg.log_every == 0 or final or step == start_step + 1:
                steps = decoder_steps(batch["mel_lengths"], r)
                last = {
                    "step": step, "epoch": epoch, "lr": round(scheduler.get_last_lr()[0], 8),
                    "grad_norm": round(float(grad_norm), 4) if grad_norm is not None else None,
                    **{k: round(float(v.detach()), 5) for k, v in terms.items()},
                    **alignment_scores(out.alignments.detach(), batch["token_lengths"], steps),
                    "minutes": round((time.perf_counter() - started) / 60.0, 2),
                }  # fmt: skip
                history.append(last)
                with open(log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(last) + "\n")
                progress.set_postfix(loss=last["total"], focus=last["focus"], diag=last["diagonal"])
            if (cfg.plot_every and step % cfg.plot_every == 0) or final:
                plots.append(str(_plot_step(model, batch, out, audio, out_dir, step, cfg.samples)))
            if step % cfg.save_every == 0 or final:
                save_checkpoint(checkpoint_path, model, **checkpoint_content())
            if final:
                break
        epoch += 1
    progress.close()
    if step == start_step:  # nothing to do (resumed at or past --steps): still leave a checkpoint
        save_checkpoint(checkpoint_path, model, **checkpoint_content())
    return {
        "checkpoint": str(checkpoint_path),
        "utterances": len(items),
        "parameters": count_parameters(model),
        "steps": step,
        "trained_steps": step - start_step,
        "epochs": epoch,
        "seconds": round(time.perf_counter() - started, 1),
        "last": last,
        "first": history[0] if history else {},
        "attention_plots": plots[-3:],
        "device": str(device),
    }


def _plot_step(
    model: Tacotron, batch: dict, out: TacotronOutput, audio: AudioConfig,
    out_dir: Path, step: int, write_sample: bool,
) -> Path:  # fmt: skip
    """Attention PNG for the first batch item: teacher forced, and free running on the same text."""
    r = model.config.reduction_factor
    n = int(batch["token_lengths"][0])
    s = int(decoder_steps(batch["mel_lengths"][:1], r)[0])
    forced = out.alignments[0, :s, :n].detach().float().cpu().numpy()
    model.eval()
    free = model.inference(batch["tokens"][:1, :n], max_steps=max(2 * s, 10))
    model.train()
    free_steps = int(decoder_steps(free.lengths[:1], r)[0])
    free_align = free.alignments[0, :free_steps, :n].float().cpu().numpy()
    path = out_dir / "attention" / f"step_{step:07d}.png"
    plot_attention(  # no Korean in the figure: matplotlib's bundled font has no Hangul
        path,
        [(forced, f"teacher forced ({s} steps)"), (free_align, f"free running ({free_steps} steps)")],
        f"step {step}: attention over {n} input symbols",
    )
    if write_sample:
        frames = int(free.lengths[0])
        samples = griffin_lim(free.spectrogram[0, :frames].float().cpu().numpy(), audio, n_iter=32)
        (out_dir / "samples").mkdir(parents=True, exist_ok=True)
        sf.write(out_dir / "samples" / f"step_{step:07d}.wav", samples, audio.sample_rate)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    add_config_options(parser, TrainConfig, title="training")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="TacotronConfig field")
    parser.add_argument("--audio", action="append", default=[], metavar="FIELD=VALUE", help="AudioConfig field")
    args = parser.parse_args(argv)
    model_overrides = parse_assignments(args.set, TacotronConfig, "--set")
    audio_overrides = parse_assignments(args.audio, AudioConfig, "--audio")
    cfg = build_config(TrainConfig, config_overrides(args, TrainConfig))
    if not cfg.data:
        parser.error("--data is required")
    summary = train(cfg, model_overrides, audio_overrides)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
