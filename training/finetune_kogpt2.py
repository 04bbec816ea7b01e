"""Fine-tune a pretrained causal LM (e.g. KoGPT2) into the emotion-conditioned replier of the ``kogpt2`` responder.

Input, any mix of:

* ``--qa FILE.csv``: question/answer pairs in the common Korean chatbot-data layout (songys
  ``Chatbot_data``: UTF-8 CSV with columns ``Q``, ``A``, ``label``, where label 0 is everyday
  talk, 1 a negative topic such as a break-up, 2 a positive one such as love). Labels become
  emotion tags with ``--qa-emotions`` (default ``0=neutral,1=sadness,2=happiness``); a label
  that is already one of the seven emotions (English or Korean) is used as it is.
* ``--dialogues FILE.jsonl``: multi-turn dialogues, one JSON object per line::

      {"turns": [{"speaker": "user", "text": "요즘 잠을 못 자요", "emotion": "sadness"},
                 {"speaker": "system", "text": "잠을 못 자면 하루가 길죠. 언제부터 그랬어요?"}, ...]}

  ``speaker`` is ``user`` (also ``client``, ``human``, ``사용자``, ``내담자``) or ``system`` (also
  ``bot``, ``assistant``, ``counsellor``, ``counselor``, ``상담사``, ``maum``); ``emotion`` (optional,
  user turns, default neutral) is one of the seven labels. Every system turn becomes one
  example whose prompt holds up to ``--history-turns`` earlier exchanges.

Each example is written in the responder's prompt format (``pipeline.backends.kogpt2``:
``<usr>`` words ``<emotion>`` ``<sys>`` reply ``</s>``) and the loss covers only the reply
tokens and its end-of-text token. AdamW with linear warm-up/decay; a held-out share of the
examples gives the dev loss (reply tokens) after each epoch or ``--eval-every`` steps; the best
model is kept and training stops after ``--patience`` evaluations without improvement. The output
folder holds the model, the tokenizer (with the format's special tokens), ``maum_prompt.json``
(the format, for the responder) and ``report.json``.

From the public checkpoint, downloaded beforehand (no download happens here)::

    huggingface-cli download skt/kogpt2-base-v2 --local-dir ~/models/kogpt2-base-v2   # on a machine with internet
    .venv/bin/python -m training.finetune_kogpt2 --base ~/models/kogpt2-base-v2 \\
        --qa ChatbotData.csv --out ~/models/maum-kogpt2

then serve it with ``MAUM_RESPONDER=kogpt2 MAUM_KOGPT2_MODEL=~/models/maum-kogpt2``. ``--help`` lists
all options.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.backends.kogpt2 import (
    FORMAT_FILE,
    FORMAT_TOKENS,
    PROMPT_FORMAT,
    Exchange,
    encode_example,
    format_ids,
    prepare_tokenizer,
)
from pipeline.settings import resolve_device
from pipeline.text.emotion_labels import canonical_label
from training.cli import parse_config
from training.finetune_steps import Evaluation, plan_steps, train_until_best

USER_SPEAKERS = frozenset({"user", "client", "human", "usr", "사용자", "내담자"})
SYSTEM_SPEAKERS = frozenset({"system", "sys", "bot", "assistant", "counsellor", "counselor", "상담사", "maum"})


@dataclass(frozen=True)
class KoGPT2FinetuneConfig:
    base: str = ""  # local pretrained folder (e.g. skt/kogpt2-base-v2, downloaded beforehand)
    out: str = ""  # folder to write
    qa: tuple[str, ...] = ()  # Q/A/label CSV files (Chatbot_data layout)
    dialogues: tuple[str, ...] = ()  # multi-turn JSONL files
    qa_emotions: str = "0=neutral,1=sadness,2=happiness"  # Q/A label → emotion tag
    history_turns: int = 2  # earlier exchanges in a dialogue example's prompt (the responder's default)
    max_tokens: int = 128  # longest example (prompt + reply), in tokens
    max_reply_tokens: int = 64  # longer replies are cut
    dev_fraction: float = 0.05  # share of examples held out for the dev loss
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    epochs: int = 3
    batch_size: int = 16
    patience: int = 2  # evaluations without a lower dev loss before stopping
    eval_every: int = 0  # steps between dev evaluations; 0 = once per epoch
    max_steps: int = 0  # stop after this many optimizer steps; 0 = no limit
    seed: int = 13
    device: str = "auto"
    threads: int = 0  # torch CPU threads; 0 = torch's default


@dataclass(frozen=True)
class Example:
    history: tuple[Exchange, ...]
    text: str
    emotion: str
    reply: str


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def parse_emotion_map(spec: str) -> dict[str, str]:
    """``"0=neutral,1=sadness"`` → ``{"0": "neutral", "1": "sadness"}`` (targets checked)."""
    mapping = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, _, value = part.partition("=")
        label = canonical_label(value)
        if not key.strip() or label is None:
            raise ValueError(f"--qa-emotions: {part!r} is not LABEL=EMOTION with one of the seven emotions")
        mapping[key.strip()] = label
    return mapping


def read_qa(path: str | Path, emotions: dict[str, str]) -> list[Example]:
    """Single-turn examples from a ``Q,A,label`` CSV.

    Raises:
        ValueError: missing columns, an empty Q or A, or a label with no emotion (with its line).
    """
    path = Path(path)
    examples = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = csv.DictReader(f)
        columns = {name.strip().lower(): name for name in rows.fieldnames or ()}
        if "q" not in columns or "a" not in columns:
            raise ValueError(f"{path}: needs columns Q and A (and optionally label); has {rows.fieldnames}")
        for row in rows:
            question, answer = (row[columns["q"]] or "").strip(), (row[columns["a"]] or "").strip()
            raw = (row.get(columns.get("label", ""), "") or "").strip() if "label" in columns else ""
            emotion = emotions.get(raw) or canonical_label(raw) or ("neutral" if raw == "" else None)
            if emotion is None:
                raise ValueError(f"{path}:{rows.line_num}: label {raw!r} has no emotion; see --qa-emotions")
            if not question or not answer:
                raise ValueError(f"{path}:{rows.line_num}: empty Q or A")
            examples.append(Example((), question, emotion, answer))
    return examples


def read_dialogues(path: str | Path, history_turns: int) -> list[Example]:
    """One example per system turn of every dialogue in a JSONL file.

    Consecutive turns of the same speaker are joined with a space; system turns before the first
    user turn are skipped.

    Raises:
        ValueError: bad JSON, an unknown speaker or an unknown emotion (with its line).
    """
    path = Path(path)
    examples = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                turns = record["turns"] if isinstance(record, dict) else record
                merged: list[list[str]] = []  # [speaker, text, emotion]
                for turn in turns:
                    speaker = str(turn["speaker"]).strip().lower()
                    text = str(turn["text"]).strip()
                    if speaker in USER_SPEAKERS:
                        role = "user"
                    elif speaker in SYSTEM_SPEAKERS:
                        role = "system"
                    else:
                        raise ValueError(f"unknown speaker {turn['speaker']!r}")
                    emotion = canonical_label(turn.get("emotion") or "neutral")
                    if emotion is None:
                        raise ValueError(f"unknown emotion {turn.get('emotion')!r}")
                    if merged and merged[-1][0] == role:
                        merged[-1][1] += " " + text
                        if turn.get("emotion"):
                            merged[-1][2] = emotion
                    else:
                        merged.append([role, text, emotion])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{line_no}: {exc}") from exc
            done: list[Exchange] = []
            for i, (role, text, _) in enumerate(merged):
                if role != "system" or i == 0 or merged[i - 1][0] != "user":
                    continue
                _, user_text, user_emotion = merged[i - 1]
                history = tuple(done[-history_turns:]) if history_turns else ()
                examples.append(Example(history, user_text, user_emotion, text))
                done.append(Exchange(user_text, user_emotion, text))
    return examples


def split_dev(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(train, dev): a shuffled ``fraction`` of the examples (at least one when there are two or more)."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_dev = min(len(examples) - 1, max(1, round(len(examples) * fraction))) if len(examples) > 1 else 0
    dev = [examples[i] for i in sorted(order[:n_dev])]
    train = [examples[i] for i in sorted(order[n_dev:])]
    return train, dev


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def _collate(batch: list[tuple[list[int], list[int]]], pad_id: int):
    import torch

    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        attention[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def dev_loss(model, encoded: list[tuple[list[int], list[int]]], batch_size: int, pad_id: int, device) -> float:
    """Mean cross-entropy per reply token over ``encoded`` (prompt tokens do not count)."""
    import torch

    model.eval()
    total, tokens = 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(encoded), batch_size):
            batch = {k: v.to(device) for k, v in _collate(encoded[i : i + batch_size], pad_id).items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            shifted = batch["labels"][:, 1:]
            flat = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
            loss = torch.nn.functional.cross_entropy(flat, shifted.reshape(-1), ignore_index=-100, reduction="sum")
            total += loss.item()
            tokens += int((shifted != -100).sum())
    return total / max(1, tokens)


def finetune(config: KoGPT2FinetuneConfig) -> dict:
    """Fine-tune, save the best model to ``config.out`` and return the report (also in ``report.json``)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not config.base or not (Path(config.base) / "config.json").is_file():
        raise ValueError(f"--base {config.base!r} is not a model folder with config.json (download it first)")
    if not config.out:
        raise ValueError("--out is required")
    if not config.qa and not config.dialogues:
        raise ValueError("give at least one --qa or --dialogues file")
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    device = torch.device(resolve_device(config.device))

    emotions = parse_emotion_map(config.qa_emotions)
    examples: list[Example] = []
    for path in config.qa:
        examples += read_qa(path, emotions)
    for path in config.dialogues:
        examples += read_dialogues(path, config.history_turns)
    if len(examples) < 2:
        raise ValueError(f"only {len(examples)} example(s): need at least two (one is held out)")
    train_examples, dev_examples = split_dev(examples, config.dev_fraction, config.seed)

    tokenizer = AutoTokenizer.from_pretrained(config.base, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(config.base, local_files_only=True)
    eos_id = model.config.eos_token_id
    prepare_tokenizer(tokenizer, eos_id[0] if isinstance(eos_id, list) else eos_id)
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))
    ids = format_ids(tokenizer, config.base)
    model.config.pad_token_id = ids.pad
    model.generation_config.pad_token_id = ids.pad
    model.generation_config.eos_token_id = ids.eos
    model.to(device)

    def encode(example: Example) -> tuple[list[int], list[int]]:
        return encode_example(
            tokenizer, ids, example.history, example.text, example.emotion, example.reply,
            config.max_tokens, config.max_reply_tokens,
        )  # fmt: skip

    train_encoded = [encode(e) for e in train_examples]
    dev_encoded = [encode(e) for e in dev_examples]

    decayed = [p for n, p in model.named_parameters() if p.ndim >= 2]
    plain = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decayed, "weight_decay": config.weight_decay}, {"params": plain, "weight_decay": 0.0}], lr=config.lr
    )
    plan = plan_steps(len(train_encoded), config, optimizer)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)

    def batch_loss(rows: list[int]) -> torch.Tensor:
        batch = _collate([train_encoded[r] for r in rows], ids.pad)
        return model(**{k: v.to(device) for k, v in batch.items()}).loss

    def evaluate() -> Evaluation:
        loss_dev = dev_loss(model, dev_encoded, config.batch_size, ids.pad, device)
        fields = {"dev_loss": round(loss_dev, 4), "dev_perplexity": round(math.exp(min(loss_dev, 50.0)), 2)}
        return Evaluation(fields=fields, score=-loss_dev)

    def save() -> None:
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)

    outcome = train_until_best(
        model, plan, optimizer, n_examples=len(train_encoded), batch_size=config.batch_size,
        patience=config.patience, batch_loss=batch_loss, evaluate=evaluate, save=save,
    )  # fmt: skip

    # Only file names go into the artefacts: absolute paths would leak this machine's layout.
    recorded = dataclasses.asdict(config) | {
        "base": Path(config.base).name,
        "out": Path(config.out).name,
        "qa": [Path(p).name for p in config.qa],
        "dialogues": [Path(p).name for p in config.dialogues],
    }
    meta = {
        "format": PROMPT_FORMAT,
        "tokens": list(FORMAT_TOKENS),
        "eos_token": tokenizer.eos_token,
        "max_tokens": config.max_tokens,
        "history_turns": config.history_turns,
        "base": Path(config.base).name,
    }
    (out / FORMAT_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    result = {
        "train_n": len(train_examples),
        "dev_n": len(dev_examples),
        "steps": outcome.steps,
        "best_step": outcome.best_step,
        "best_dev_loss": outcome.best.fields["dev_loss"],
        "stopped_early": outcome.stopped_early,
        "history": outcome.history,
        "config": recorded,
    }
    (out / "report.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return result


def parse_args(argv: list[str] | None = None) -> KoGPT2FinetuneConfig:
    """The fine-tune options from the command line (``--base`` and ``--out`` are required)."""
    return parse_config(KoGPT2FinetuneConfig, argv, description=__doc__.splitlines()[0], required=("base", "out"))


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    result = finetune(config)
    print(json.dumps({"out": config.out, **{k: v for k, v in result.items() if k != "config"}}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
