"""Train DeepSpeech2 (``models/deepspeech2.py``) with CTC: Hangul syllables, jamo or IPA phonemes.

Defaults reproduce the reference KsponSpeech setup: 80 log-mel bins every 10 ms, 3 masked
convolution layers, 5 bidirectional GRU layers of 512 units, BatchNorm momentum 0.99 (Keras
convention), SpecAugment, AdamP with the tri-stage learning-rate schedule, gradient clipping at
400, SortaGrad. Validation CER (phoneme error rate for IPA) after every epoch.

Prepare KsponSpeech, then train (a GPU is picked with ``--device auto``)::

    .venv/bin/python -m training.prepare_kspon /data/KsponSpeech --out data/kspon --ipa
    .venv/bin/python -m training.train_deepspeech2 --train data/kspon/train.tsv \\
        --valid data/kspon/dev.tsv --out runs/ds2-syllable --vocab syllable
    .venv/bin/python -m training.train_deepspeech2 --train data/kspon/train.tsv \\
        --valid data/kspon/dev.tsv --out runs/ds2-ipa --vocab ipa          # 36 IPA outputs

Several GPUs: one process each with ``.venv/bin/torchrun --nproc_per_node=4 -m
training.train_deepspeech2 ...`` (DistributedDataParallel); a single process with several
visible GPUs uses DataParallel. Resume with ``--resume runs/ds2-syllable/last.pt``. Any option
can also come from ``--config run.yaml`` (sections ``model:``, ``features:``, ``augment:``).

Writes to ``--out``: ``best.pt`` (lowest validation error; what the app loads with
``MAUM_TRANSCRIBER=deepspeech2 MAUM_DEEPSPEECH2_CHECKPOINT=runs/ds2-syllable/best.pt``),
``last.pt`` (with optimizer and schedule, for ``--resume``), ``vocab.json``, ``config.json``
and ``log.jsonl`` (one line per epoch).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.deepspeech2 import (
    DeepSpeech2,
    DeepSpeech2Config,
    count_parameters,
    ctc_greedy_decode,
    load_checkpoint,
    save_checkpoint,
)
from pipeline.metrics import cer, wer
from pipeline.settings import resolve_device
from pipeline.speech.asr_features import FeatureConfig
from pipeline.speech.asr_vocab import KINDS, Vocabulary, normalize_transcript, unit_error_rate
from training.asr_data import (
    AsrDataset,
    AugmentConfig,
    LengthBatchSampler,
    Utterance,
    audio_duration_s,
    collate,
    read_manifest,
    reference_units,
)
from training.asr_schedule import TriStageSchedule, tri_stage_scheduler
from training.cli import add_config_options, build_config, config_overrides, load_config_file
from training.loop import train_step

log = logging.getLogger("train_deepspeech2")

# Set by the command line and the model: never overridden by hand.
_DERIVED_MODEL_FIELDS = ("vocab_size", "blank_id", "n_features")


@dataclass(frozen=True)
class TrainConfig:
    train: str = ""  # manifest TSV or transcripts.tsv folder
    valid: str = ""  # same; empty: no validation (best.pt follows the training loss)
    out: str = "runs/deepspeech2"
    vocab: str = "syllable"  # syllable | jamo | ipa | path to a vocab.json
    min_unit_count: int = 1  # units seen fewer times in the training texts are left out
    conv_layers: int = 0  # 2 or 3 keeps that many of the reference conv layers; 0: as configured
    epochs: int = 30
    max_steps: int = 0  # stop after this many optimizer steps (0: run every epoch)
    batch_size: int = 32
    optimizer: str = "adamp"  # adamp | adamw
    lr: float = 3e-4  # peak learning rate
    weight_decay: float = 1e-5
    warmup_ratio: float = 0.1  # tri-stage phases as shares of all steps; decay gets the rest
    hold_ratio: float = 0.4
    init_lr_scale: float = 0.01
    final_lr_scale: float = 0.05
    grad_clip: float = 400.0  # max gradient norm (0: off)
    max_duration_s: float = 20.0  # longer training utterances are skipped
    sortagrad: bool = True  # first epoch from short to long
    cache_features: bool = False  # keep features in memory (only without augmentation)
    num_workers: int = 4
    device: str = "auto"  # auto | cpu | cuda:N
    data_parallel: bool = True  # several visible GPUs in one process: DataParallel
    amp: bool = False  # bfloat16 autocast on CUDA
    seed: int = 1
    resume: str = ""  # last.pt to continue from
    valid_every: int = 1  # epochs between validations
    valid_batch_size: int = 16
    threads: int = 0  # torch CPU threads (0: torch's default)
    progress: bool = True  # tqdm progress bar on stderr


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str) -> tuple[Distributed, torch.device]:
    """Join the process group when started by torchrun; pick this process's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1:
        import torch.distributed as dist

        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = torch.cuda.is_available() and not device.startswith("cpu")
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        info = Distributed(dist.get_rank(), world_size, local_rank)
        if use_cuda:
            torch.cuda.set_device(local_rank)
            return info, torch.device("cuda", local_rank)
        return info, torch.device("cpu")
    return Distributed(), torch.device(resolve_device(device))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_vocab(cfg: TrainConfig, utterances: list[Utterance]) -> Vocabulary:
    if cfg.vocab in KINDS:
        return Vocabulary.build(cfg.vocab, (u.text for u in utterances), cfg.min_unit_count)
    path = Path(cfg.vocab)
    if not path.is_file():
        raise ValueError(f"--vocab must be one of {', '.join(KINDS)} or a vocab.json file, not {cfg.vocab!r}")
    return Vocabulary.from_dict(json.loads(path.read_text(encoding="utf-8")))


def make_model_config(cfg: TrainConfig, model_overrides: dict[str, Any], vocab: Vocabulary, features: FeatureConfig):
    base = DeepSpeech2Config()
    layers = dict(model_overrides)
    if cfg.conv_layers:
        if not 1 <= cfg.conv_layers <= len(base.conv_channels):
            raise ValueError(f"--conv-layers must be 1..{len(base.conv_channels)}")
        for name in ("conv_channels", "conv_kernel_sizes", "conv_strides"):
            layers.setdefault(name, getattr(base, name)[: cfg.conv_layers])
    return build_config(
        DeepSpeech2Config,
        layers,
        {"vocab_size": len(vocab), "blank_id": vocab.blank_id, "n_features": features.n_features},
    )


def make_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    if cfg.optimizer == "adamp":
        from adamp import AdamP

        return AdamP(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"--optimizer must be adamp or adamw, not {cfg.optimizer!r}")


def with_durations(utterances: list[Utterance]) -> list[Utterance]:
    return [
        u if u.duration_s is not None else dataclasses.replace(u, duration_s=audio_duration_s(u.path))
        for u in utterances
    ]


def ctc_fits(utterance: Utterance, n_targets: int, features: FeatureConfig, model_config: DeepSpeech2Config) -> bool:
    """Whether CTC can align the targets: enough output frames (repeats need a blank between)."""
    frames = features.frames(int(round((utterance.duration_s or 0.0) * features.sample_rate)))
    return n_targets > 0 and -(-frames // model_config.time_reduction) >= n_targets


def evaluate(
    model: nn.Module,
    utterances: list[Utterance],
    vocab: Vocabulary,
    features: FeatureConfig,
    device: torch.device,
    batch_size: int = 16,
    num_workers: int = 0,
) -> dict[str, float]:
    """Greedy decoding of ``utterances``: CER and WER (phoneme error rate ``per`` for IPA)."""
    inner = getattr(model, "module", model)
    inner.eval()
    dataset = AsrDataset(utterances, vocab, features)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, collate_fn=collate, num_workers=num_workers)
    hyps: dict[int, list[int]] = {}
    with torch.inference_mode():
        for batch in loader:
            log_probs, lengths = inner(batch["features"].to(device), batch["feature_lengths"].to(device))
            for i, ids in zip(
                batch["indices"].tolist(), ctc_greedy_decode(log_probs, lengths, vocab.blank_id), strict=True
            ):
                hyps[i] = ids
    ordered = [hyps[i] for i in range(len(utterances))]
    if vocab.kind == "ipa":
        refs = [reference_units(u, vocab) for u in utterances]
        return {"per": round(unit_error_rate(refs, [vocab.decode_units(h) for h in ordered]), 4)}
    refs_text = [normalize_transcript(u.text) for u in utterances]
    hyps_text = [vocab.decode(h) for h in ordered]
    return {"cer": round(cer(refs_text, hyps_text), 4), "wer": round(wer(refs_text, hyps_text), 4)}


def train(
    cfg: TrainConfig,
    model_overrides: dict[str, Any] | None = None,
    features: FeatureConfig | None = None,
    augment: AugmentConfig | None = None,
) -> dict[str, Any]:
    """Train and write checkpoints under ``cfg.out``; returns a summary (also printed by ``main``)."""
    dist_info, device = setup_distributed(cfg.device)
    seed_everything(cfg.seed + dist_info.rank)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    features = features or FeatureConfig()
    augment = augment if augment is not None else AugmentConfig()

    train_utts = with_durations(read_manifest(cfg.train))
    valid_utts = read_manifest(cfg.valid) if cfg.valid else []
    resumed: dict[str, Any] | None = None
    if cfg.resume:
        loaded = load_checkpoint(cfg.resume)
        resumed = loaded.extra
        vocab = Vocabulary.from_dict(resumed["vocab"])
        features = FeatureConfig.from_dict(resumed["features"])
        model_config = loaded.config
        model = loaded.model
    else:
        vocab = make_vocab(cfg, train_utts)
        model_config = make_model_config(cfg, model_overrides or {}, vocab, features)
        model = DeepSpeech2(model_config)

    dataset = AsrDataset(train_utts, vocab, features, augment, seed=cfg.seed, cache=cfg.cache_features)
    keep = [
        i
        for i, u in enumerate(train_utts)
        if (u.duration_s or 0) <= cfg.max_duration_s and ctc_fits(u, len(dataset.targets[i]), features, model_config)
    ]
    skipped = len(train_utts) - len(keep)
    if not keep:
        raise ValueError(f"{cfg.train}: no usable training utterance (all too long, empty or too short for CTC)")
    if skipped:
        train_utts = [train_utts[i] for i in keep]
        dataset = dataset.subset(keep)
    sampler = LengthBatchSampler(
        [u.duration_s or 0.0 for u in train_utts],
        cfg.batch_size,
        sorted_first_epoch=cfg.sortagrad,
        seed=cfg.seed,
        rank=dist_info.rank,
        world_size=dist_info.world_size,
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=cfg.num_workers,
        persistent_workers=cfg.num_workers > 0,
        pin_memory=device.type == "cuda",
    )

    model.to(device)
    net: nn.Module = model
    if dist_info.world_size > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    elif device.type == "cuda" and cfg.data_parallel and torch.cuda.device_count() > 1:
        net = nn.DataParallel(model)
    optimizer = make_optimizer(cfg, model)
    total_steps = cfg.max_steps or cfg.epochs * len(sampler)
    schedule = TriStageSchedule.from_ratios(
        total_steps, cfg.warmup_ratio, cfg.hold_ratio, cfg.init_lr_scale, cfg.final_lr_scale
    )
    scheduler = tri_stage_scheduler(optimizer, schedule)
    start_epoch, step, best, history = 0, 0, float("inf"), []
    if resumed is not None:
        optimizer.load_state_dict(resumed["optimizer"])
        scheduler.load_state_dict(resumed["scheduler"])
        scheduler.lr_lambdas[0] = schedule  # more --epochs than before stretch the schedule to the new end
        start_epoch, step = int(resumed["epoch"]) + 1, int(resumed["step"])
        best, history = float(resumed["best"]), list(resumed["history"])

    plain = {
        "features": features.to_dict(),
        "vocab": vocab.to_dict(),
        "train": dataclasses.asdict(cfg),
        "augment": dataclasses.asdict(augment),
    }
    if dist_info.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "vocab.json").write_text(json.dumps(vocab.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        (out / "config.json").write_text(
            json.dumps({"model": model_config.to_dict(), **plain}, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        log.info(
            "%d training utterances (%d skipped), vocabulary %s of %d, %d parameters, device %s",
            len(train_utts), skipped, vocab.kind, len(vocab), count_parameters(model), device,
        )  # fmt: skip

    from tqdm import tqdm

    use_amp = cfg.amp and device.type == "cuda"
    metric = "per" if vocab.kind == "ipa" else "cer"
    started = time.perf_counter()
    epoch = start_epoch
    for epoch in range(start_epoch, cfg.epochs):
        if cfg.max_steps and step >= cfg.max_steps:
            break
        net.train()
        sampler.set_epoch(epoch)
        dataset.set_epoch(epoch)
        losses = []
        bar = tqdm(
            loader,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            file=sys.stderr,
            disable=not (cfg.progress and dist_info.main),
            leave=False,
        )
        for batch in bar:
            feats = batch["features"].to(device, non_blocking=True)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                log_probs, out_lengths = net(feats, batch["feature_lengths"].to(device))
            loss = F.ctc_loss(
                log_probs.float().transpose(0, 1),
                batch["targets"].to(device),
                out_lengths,
                batch["target_lengths"].to(device),
                blank=vocab.blank_id,
                reduction="mean",
                zero_infinity=True,
            )
            train_step(loss, optimizer, scheduler, model.parameters(), cfg.grad_clip)
            step += 1
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{losses[-1]:.3f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
            if cfg.max_steps and step >= cfg.max_steps:
                break
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "step": step,
            "train_loss": round(float(np.mean(losses)) if losses else float("nan"), 4),
            "lr": scheduler.get_last_lr()[0],
        }
        if dist_info.main:
            last_epoch = epoch + 1 == cfg.epochs or (cfg.max_steps and step >= cfg.max_steps)
            if valid_utts and ((epoch + 1) % cfg.valid_every == 0 or last_epoch):
                record["valid"] = evaluate(
                    model, valid_utts, vocab, features, device, cfg.valid_batch_size, cfg.num_workers
                )
                score = record["valid"][metric]
            else:
                score = record["train_loss"] if not valid_utts else None
            record["seconds"] = round(time.perf_counter() - started, 1)
            history.append(record)
            if score is not None and score < best:
                best = score
                save_checkpoint(out / "best.pt", model, **plain, metrics=record)
            save_checkpoint(
                out / "last.pt", model, **plain, metrics=record,
                optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                epoch=epoch, step=step, best=best, history=history,
            )  # fmt: skip
            with open(out / "log.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
            log.info("%s", json.dumps(record, ensure_ascii=False))
        if dist_info.world_size > 1:
            torch.distributed.barrier()
    summary = {
        "out": str(out),
        "best_checkpoint": str(out / "best.pt"),
        "vocab": vocab.kind,
        "vocab_size": len(vocab),
        "parameters": count_parameters(model),
        "train_utterances": len(train_utts),
        "skipped_utterances": skipped,
        "epochs": epoch + 1,
        "steps": step,
        f"best_{metric if valid_utts else 'train_loss'}": best,
        "last": history[-1] if history else None,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if dist_info.world_size > 1:
        torch.distributed.destroy_process_group()
    return summary


def parse_args(argv: list[str] | None = None) -> tuple[TrainConfig, dict[str, Any], FeatureConfig, AugmentConfig]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="YAML or JSON file with options (the command line wins)")
    add_config_options(parser, TrainConfig, title="training")
    add_config_options(parser, DeepSpeech2Config, skip=_DERIVED_MODEL_FIELDS, title="model")
    add_config_options(parser, FeatureConfig, prefix="feature_", title="features")
    add_config_options(parser, AugmentConfig, title="augmentation (SpecAugment and noise)")
    args = parser.parse_args(argv)
    file: dict[str, Any] = load_config_file(args.config) if args.config else {}
    sections = {name: dict(file.pop(name, None) or {}) for name in ("model", "features", "augment")}
    cfg = build_config(TrainConfig, file, config_overrides(args, TrainConfig))
    if not cfg.train:
        parser.error("--train is required (a manifest TSV or a folder with transcripts.tsv)")
    model_overrides = {**sections["model"], **config_overrides(args, DeepSpeech2Config)}
    for name in _DERIVED_MODEL_FIELDS:
        model_overrides.pop(name, None)
    features = build_config(FeatureConfig, sections["features"], config_overrides(args, FeatureConfig, "feature_"))
    augment = build_config(AugmentConfig, sections["augment"], config_overrides(args, AugmentConfig))
    return cfg, model_overrides, features, augment


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    cfg, model_overrides, features, augment = parse_args(argv)
    summary = train(cfg, model_overrides, features, augment)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
