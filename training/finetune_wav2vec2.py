"""Fine-tune wav2vec2 with CTC for Korean, from a local pretrained folder (nothing is downloaded).

``--pretrained`` is a Hugging Face-format folder: a self-supervised checkpoint such as
wav2vec2-base / XLS-R (``Wav2Vec2Model`` weights, no output layer) or an already fine-tuned
``Wav2Vec2ForCTC``. The output vocabulary is built from the training texts (Hangul syllables, or
jamo with ``--unit jamo``; ``--unit pretrained`` keeps the folder's own tokenizer), a new CTC
layer is put on top, the convolutional feature encoder stays frozen, and training uses AdamW
with the tri-stage schedule. Validation CER after every epoch; the best model is written to
``--out`` with ``save_pretrained`` together with its tokenizer and feature extractor, which is
what the ``wav2vec2`` backend loads::

    .venv/bin/python -m training.finetune_wav2vec2 --pretrained /models/wav2vec2-xls-r-300m \\
        --train data/kspon/train.tsv --valid data/kspon/dev.tsv --out runs/w2v2-ko
    MAUM_TRANSCRIBER=wav2vec2 MAUM_WAV2VEC2_MODEL=runs/w2v2-ko .venv/bin/python -m pipeline transcribe a.wav

``--train``/``--valid`` take a manifest TSV (``training/prepare_kspon.py``) or a folder with
``transcripts.tsv``. Options can also come from ``--config run.yaml``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import random
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.metrics import cer, wer
from pipeline.settings import resolve_device
from pipeline.speech.asr_vocab import normalize_transcript
from training.asr_data import LengthBatchSampler, Utterance, audio_duration_s, load_audio, read_manifest
from training.asr_schedule import TriStageSchedule, tri_stage_scheduler
from training.cli import add_config_options, build_config, config_overrides, load_config_file
from training.loop import apply_gradients

log = logging.getLogger("finetune_wav2vec2")

PAD, UNK, WORD_DELIMITER = "<pad>", "<unk>", "|"
UNITS = ("syllable", "jamo", "pretrained")


@dataclass(frozen=True)
class FinetuneConfig:
    pretrained: str = ""  # local Hugging Face-format folder
    train: str = ""  # manifest TSV or transcripts.tsv folder
    valid: str = ""  # same; empty: the model after the last epoch is saved
    out: str = "runs/wav2vec2"
    unit: str = "syllable"  # syllable | jamo | pretrained (keep the folder's tokenizer)
    min_unit_count: int = 1
    epochs: int = 20
    max_steps: int = 0  # stop after this many optimizer steps (0: run every epoch)
    batch_size: int = 8
    grad_accum: int = 1  # batches per optimizer step
    lr: float = 1e-4  # peak learning rate
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1
    hold_ratio: float = 0.4
    init_lr_scale: float = 0.01
    final_lr_scale: float = 0.05
    grad_clip: float = 1.0
    freeze_feature_encoder: bool = True
    mask_time_prob: float = 0.05  # wav2vec2's own SpecAugment on the latent frames
    layerdrop: float = 0.05
    max_duration_s: float = 20.0
    num_workers: int = 2
    device: str = "auto"
    amp: bool = False  # bfloat16 autocast on CUDA
    seed: int = 1
    threads: int = 0
    progress: bool = True


def target_text(text: str, unit: str) -> str:
    """What the tokenizer spells: normalised text, decomposed into jamo for ``jamo``."""
    text = normalize_transcript(text)
    return unicodedata.normalize("NFD", text) if unit == "jamo" else text


def build_vocab(texts: list[str], unit: str, min_count: int = 1) -> dict[str, int]:
    """Tokenizer vocabulary: pad (the CTC blank) 0, unk 1, word delimiter 2, then units by frequency."""
    counts: dict[str, int] = {}
    for text in texts:
        for ch in target_text(text, unit).replace(" ", ""):
            counts[ch] = counts.get(ch, 0) + 1
    units = sorted((u for u, n in counts.items() if n >= min_count), key=lambda u: (-counts[u], u))
    return {token: i for i, token in enumerate([PAD, UNK, WORD_DELIMITER, *units])}


def make_processor(cfg: FinetuneConfig, utterances: list[Utterance], out: Path) -> Any:
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2Processor

    pretrained = Path(cfg.pretrained)
    if cfg.unit == "pretrained":
        return Wav2Vec2Processor.from_pretrained(str(pretrained), local_files_only=True)
    vocab = build_vocab([u.text for u in utterances], cfg.unit, cfg.min_unit_count)
    out.mkdir(parents=True, exist_ok=True)
    vocab_file = out / "vocab.json"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False, indent=1), encoding="utf-8")
    # No <s> </s>: CTC never writes them, so the output layer is exactly vocab.json.
    tokenizer = Wav2Vec2CTCTokenizer(
        str(vocab_file), unk_token=UNK, pad_token=PAD, word_delimiter_token=WORD_DELIMITER,
        bos_token=None, eos_token=None, do_lower_case=False,
    )  # fmt: skip
    if (pretrained / "preprocessor_config.json").is_file():
        extractor = Wav2Vec2FeatureExtractor.from_pretrained(str(pretrained), local_files_only=True)
    else:
        extractor = Wav2Vec2FeatureExtractor(
            feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=True
        )
    return Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer)


class AudioDataset(torch.utils.data.Dataset):
    def __init__(self, utterances: list[Utterance], processor: Any, unit: str) -> None:
        self.utterances = utterances
        tokenizer = processor.tokenizer
        self.labels = [tokenizer(target_text(u.text, unit)).input_ids for u in utterances]

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> tuple[np.ndarray, list[int], int]:
        return load_audio(self.utterances[index].path), self.labels[index], index


class Collator:
    def __init__(self, processor: Any, attention_mask: bool) -> None:
        self.processor = processor
        self.attention_mask = attention_mask

    def __call__(self, batch: list[tuple[np.ndarray, list[int], int]]) -> dict[str, torch.Tensor]:
        extractor = self.processor.feature_extractor
        inputs = extractor(
            [b[0] for b in batch],
            sampling_rate=extractor.sampling_rate,
            padding=True,
            return_attention_mask=self.attention_mask,
            return_tensors="pt",
        )
        longest = max(1, max(len(b[1]) for b in batch))
        labels = torch.full((len(batch), longest), -100, dtype=torch.long)
        for i, b in enumerate(batch):
            labels[i, : len(b[1])] = torch.tensor(b[1], dtype=torch.long)
        out = {"input_values": inputs.input_values, "labels": labels, "indices": torch.tensor([b[2] for b in batch])}
        if self.attention_mask:
            out["attention_mask"] = inputs.attention_mask
        return out


def evaluate(model: Any, processor: Any, loader: Any, utterances: list[Utterance], device: torch.device) -> dict:
    """Greedy CTC decoding: CER and WER on ``utterances``."""
    model.eval()
    hyps: dict[int, str] = {}
    with torch.inference_mode():
        for batch in loader:
            kwargs = {"attention_mask": batch["attention_mask"].to(device)} if "attention_mask" in batch else {}
            logits = model(batch["input_values"].to(device), **kwargs).logits
            texts = processor.tokenizer.batch_decode(logits.argmax(dim=-1).cpu().tolist(), skip_special_tokens=True)
            for i, text in zip(batch["indices"].tolist(), texts, strict=True):
                hyps[i] = unicodedata.normalize("NFC", text)
    refs = [normalize_transcript(u.text) for u in utterances]
    ordered = [hyps[i] for i in range(len(utterances))]
    return {"cer": round(cer(refs, ordered), 4), "wer": round(wer(refs, ordered), 4)}


def finetune(cfg: FinetuneConfig) -> dict[str, Any]:
    """Fine-tune and save the best model under ``cfg.out``; returns a summary."""
    from tqdm import tqdm
    from transformers import Wav2Vec2ForCTC

    if not (Path(cfg.pretrained) / "config.json").is_file():
        raise FileNotFoundError(f"--pretrained {cfg.pretrained!r} is not a Hugging Face model folder (no config.json)")
    if cfg.unit not in UNITS:
        raise ValueError(f"--unit must be one of {', '.join(UNITS)}")
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(resolve_device(cfg.device))
    out = Path(cfg.out)

    train_utts = [
        u if u.duration_s is not None else dataclasses.replace(u, duration_s=audio_duration_s(u.path))
        for u in read_manifest(cfg.train)
    ]
    train_utts = [u for u in train_utts if (u.duration_s or 0.0) <= cfg.max_duration_s]
    valid_utts = read_manifest(cfg.valid) if cfg.valid else []
    if not train_utts:
        raise ValueError(f"{cfg.train}: no training utterance of at most {cfg.max_duration_s} s")
    processor = make_processor(cfg, train_utts, out)
    tokenizer = processor.tokenizer
    model = Wav2Vec2ForCTC.from_pretrained(
        cfg.pretrained,
        local_files_only=True,
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        ctc_loss_reduction="mean",
        ctc_zero_infinity=True,
        mask_time_prob=cfg.mask_time_prob,
        layerdrop=cfg.layerdrop,
        ignore_mismatched_sizes=True,
    )
    if cfg.freeze_feature_encoder:
        model.freeze_feature_encoder()
    model.to(device)
    attention_mask = getattr(model.config, "feat_extract_norm", "group") == "layer"
    collate = Collator(processor, attention_mask)
    sampler = LengthBatchSampler([u.duration_s or 0.0 for u in train_utts], cfg.batch_size, seed=cfg.seed)
    loader = torch.utils.data.DataLoader(
        AudioDataset(train_utts, processor, cfg.unit if cfg.unit != "pretrained" else "syllable"),
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=cfg.num_workers,
        persistent_workers=cfg.num_workers > 0,
    )
    valid_loader = None
    if valid_utts:
        valid_loader = torch.utils.data.DataLoader(
            AudioDataset(valid_utts, processor, cfg.unit if cfg.unit != "pretrained" else "syllable"),
            batch_size=cfg.batch_size,
            collate_fn=collate,
        )
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, len(sampler) // cfg.grad_accum)
    total_steps = cfg.max_steps or cfg.epochs * steps_per_epoch
    scheduler = tri_stage_scheduler(
        optimizer,
        TriStageSchedule.from_ratios(
            total_steps, cfg.warmup_ratio, cfg.hold_ratio, cfg.init_lr_scale, cfg.final_lr_scale
        ),
    )
    use_amp = cfg.amp and device.type == "cuda"
    step, best, history = 0, float("inf"), []
    started = time.perf_counter()

    def save(record: dict[str, Any]) -> None:
        model.save_pretrained(str(out))
        processor.save_pretrained(str(out))
        (out / "maum_finetune.json").write_text(
            json.dumps({"config": dataclasses.asdict(cfg), "metrics": record}, ensure_ascii=False, indent=1),
            encoding="utf-8",
        )

    for epoch in range(cfg.epochs):
        if cfg.max_steps and step >= cfg.max_steps:
            break
        model.train()
        sampler.set_epoch(epoch)
        losses: list[float] = []
        bar = tqdm(
            loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", file=sys.stderr, disable=not cfg.progress, leave=False
        )
        optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(bar):
            kwargs = {"attention_mask": batch["attention_mask"].to(device)} if "attention_mask" in batch else {}
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = model(batch["input_values"].to(device), labels=batch["labels"].to(device), **kwargs).loss
            (loss / cfg.grad_accum).backward()
            losses.append(float(loss.detach()))
            if (i + 1) % cfg.grad_accum:
                continue
            apply_gradients(optimizer, scheduler, params, cfg.grad_clip)
            optimizer.zero_grad(set_to_none=True)
            step += 1
            bar.set_postfix(loss=f"{losses[-1]:.3f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
            if cfg.max_steps and step >= cfg.max_steps:
                break
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "step": step,
            "train_loss": round(float(np.mean(losses)), 4) if losses else None,
            "seconds": round(time.perf_counter() - started, 1),
        }
        if valid_loader is not None:
            record["valid"] = evaluate(model, processor, valid_loader, valid_utts, device)
            if record["valid"]["cer"] < best:
                best = record["valid"]["cer"]
                save(record)
        else:
            save(record)
        history.append(record)
        log.info("%s", json.dumps(record, ensure_ascii=False))
    return {
        "out": str(out),
        "vocab_size": len(tokenizer),
        "train_utterances": len(train_utts),
        "steps": step,
        "best_cer": best if valid_utts else None,
        "last": history[-1] if history else None,
        "seconds": round(time.perf_counter() - started, 1),
    }


def parse_args(argv: list[str] | None = None) -> FinetuneConfig:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="YAML or JSON file with options (the command line wins)")
    add_config_options(parser, FinetuneConfig, title="fine-tuning")
    args = parser.parse_args(argv)
    file = load_config_file(args.config) if args.config else {}
    cfg = build_config(FinetuneConfig, file, config_overrides(args, FinetuneConfig))
    if not cfg.pretrained or not cfg.train:
        parser.error("--pretrained and --train are required")
    return cfg


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    print(json.dumps(finetune(parse_args(argv)), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
