"""Latency of the klue-bert classifier and the kogpt2 responder at their real sizes, on this machine.

No KLUE-BERT or KoGPT2 weights can be had here, but speed depends on the architecture, not on
the weights. This script builds randomly initialised models with the public checkpoints'
shapes — ``klue/bert-base`` (12 layers, hidden 768, vocabulary 32,000) and
``skt/kogpt2-base-v2`` (12 layers, hidden 768, vocabulary 51,200, 1,024 positions) — with
tokenizers trained on the fly on the project's Korean text and padded to the full vocabulary.
The KoGPT2 folder goes through ``training/finetune_kogpt2.py`` (one step, run as its own process:
nothing imports ``training/``) so that the responder loads it exactly as it would a real
fine-tuned model. It then times, through the app's backends:

- klue-bert: one sentence at a time (as a chat turn does) and batches, p50/p95 per sentence;
- kogpt2: raw generation of the full token budget for all candidates (a random model never says
  it is finished, so this is the worst case a real model can reach), and whole ``respond`` calls
  with the configured time budget: wall time and how often the budget ran out.

Each is measured with 1 torch thread (a gunicorn worker on 2 cores with the default 2 workers)
and with all cores. Prints one JSON object. Run::

    make bench-text    # = HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.text_models_bench

Reference (ARCHITECTURE.md): emotion ≤ 20 ms per sentence; a turn's reply within the 4-s p95 of a
whole voice turn, next to about 1–2 s of speech recognition.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch
from tokenizers import BertWordPieceTokenizer, ByteLevelBPETokenizer
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    GPT2Tokenizer,
)

from benchmarks.pipeline_bench import SENTENCES, percentiles
from pipeline import registry
from pipeline.backends.kogpt2 import encode_prompt
from pipeline.settings import Settings
from pipeline.types import EMOTION_LABELS, Emotion, Risk

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "training" / "data" / "emotion" / "train.tsv"
QA = REPO / "tests" / "data" / "text_models_chatbot.csv"

#: Shapes of the public checkpoints (their config.json files).
KLUE_BERT = dict(vocab_size=32000, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, max_position_embeddings=512)  # fmt: skip
KOGPT2 = dict(vocab_size=51200, n_embd=768, n_layer=12, n_head=12, n_positions=1024)


def korean_texts() -> list[str]:
    """The emotion corpus and the chatbot sample: text to train the tokenizers on.

    Only the sentences matter here (no labels), so this reads the two files itself: the corpus is
    ``text<TAB>label`` with a header, the chatbot sample a ``Q,A,label`` CSV.
    """
    with open(CORPUS, encoding="utf-8", newline="") as f:
        texts = [row["text"].strip() for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    with open(QA, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            texts += [row["Q"].strip(), row["A"].strip()]
    return texts


def padded(vocab: dict[str, int], size: int, filler: str) -> dict[str, int]:
    """``vocab`` with unused tokens added until it has ``size`` entries (every model id decodes)."""
    vocab = dict(vocab)
    i = 0
    while len(vocab) < size:
        vocab.setdefault(filler.format(i), len(vocab))
        i += 1
    return vocab


def build_bert(folder: Path, texts: list[str]) -> Path:
    """A KLUE-BERT-sized random classifier with a tokenizer trained on ``texts``, saved in ``folder``."""
    wordpiece = BertWordPieceTokenizer(lowercase=False, strip_accents=False)
    wordpiece.train_from_iterator(
        texts, vocab_size=KLUE_BERT["vocab_size"], special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    )
    tokenizer = BertTokenizer(
        vocab=padded(wordpiece.get_vocab(), KLUE_BERT["vocab_size"], "[unused{}]"), do_lower_case=False
    )
    config = BertConfig(**KLUE_BERT, num_labels=len(EMOTION_LABELS), id2label=dict(enumerate(EMOTION_LABELS)))
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_kogpt2(base: Path, out: Path, texts: list[str]) -> Path:
    """A KoGPT2-sized random base model, fine-tuned for one step by the project's script into ``out``."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=KOGPT2["vocab_size"], special_tokens=["</s>"], show_progress=False)
    model = json.loads(bpe._tokenizer.to_str())["model"]
    # Leave room for the prompt format's 9 special tokens inside the 51,200 rows, as KoGPT2 does.
    vocab = padded(model["vocab"], KOGPT2["vocab_size"] - 16, "<unused{}>")
    tokenizer = GPT2Tokenizer(vocab=vocab, merges=[tuple(m) for m in model["merges"]], eos_token="</s>")
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(**KOGPT2, bos_token_id=0, eos_token_id=0)).save_pretrained(base)
    tokenizer.save_pretrained(base)
    # Its report goes to stderr: on stdout it would break this script's JSON.
    code = subprocess.run(
        [sys.executable, "-m", "training.finetune_kogpt2", "--base", str(base), "--out", str(out), "--qa", str(QA),
         "--max-steps", "1", "--batch-size", "2", "--device", "cpu"],
        cwd=REPO, stdout=sys.stderr, check=False,
    ).returncode  # fmt: skip
    if code != 0:
        raise SystemExit(f"finetune_kogpt2 failed with exit code {code}")
    return out


def timed(fn, *args) -> float:
    """Milliseconds one call of ``fn(*args)`` takes."""
    start = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - start) * 1000.0


def bench_bert(folder: Path, repeat: int) -> dict:
    """Load time and per-sentence latency (single and batched) of the klue-bert backend."""
    settings = Settings(classifier="klue-bert", klue_bert_model=str(folder), device="cpu")
    start = time.perf_counter()
    classifier = registry.create("classifier", "klue-bert", settings)
    load_s = time.perf_counter() - start
    classifier.classify(SENTENCES[0])  # first call pays torch's start-up costs
    single = [timed(classifier.classify, s) for _ in range(repeat) for s in SENTENCES]
    batch = SENTENCES * 4  # 32 sentences
    per_sentence = [timed(classifier.classify_batch, batch) / len(batch) for _ in range(max(1, repeat // 2))]
    return {
        "load_s": round(load_s, 2),
        "single_sentence_ms": percentiles(single),
        "batch_of_32_ms_per_sentence": percentiles(per_sentence),
    }


def bench_kogpt2(folder: Path, repeat: int) -> dict:
    """Generation time of the kogpt2 backend at its full token budget, and whole ``respond`` calls."""
    settings = Settings(responder="kogpt2", kogpt2_model=str(folder), device="cpu")
    start = time.perf_counter()
    responder = registry.create("responder", "kogpt2", settings)
    load_s = time.perf_counter() - start
    neutral = Emotion(label="neutral", scores={label: 1.0 / len(EMOTION_LABELS) for label in EMOTION_LABELS})

    # The whole budget, no time limit: a random model never emits a stop token.
    # The whole token budget, forced (a random model may stop early by chance), with the
    # responder's own sampling settings and prompt, for one candidate and for the configured number.
    prompt = encode_prompt(responder.tokenizer, responder.ids, [], SENTENCES[0], "neutral", responder.max_prompt_tokens)
    input_ids = torch.tensor([prompt])
    steps = settings.kogpt2_max_new_tokens
    full_budget = {}
    for candidates in sorted({1, settings.kogpt2_candidates}):
        config = copy.deepcopy(responder.generation)
        config.min_new_tokens, config.num_return_sequences = steps, candidates
        generate_ms = []
        for _ in range(max(1, repeat // 2)):
            with torch.inference_mode():
                start = time.perf_counter()
                out = responder.model.generate(
                    input_ids=input_ids, attention_mask=torch.ones_like(input_ids), generation_config=config
                )
                generate_ms.append((time.perf_counter() - start) * 1000.0)
            assert out.shape == (candidates, len(prompt) + steps), out.shape
        full_budget[str(candidates)] = {
            "generation_ms": percentiles(generate_ms),
            "ms_per_step": round(statistics.median(generate_ms) / steps, 1),
        }

    respond_ms, reasons = [], Counter()
    for _ in range(repeat):
        for sentence in SENTENCES:
            reply = responder.respond(sentence, neutral, Risk())
            respond_ms.append(reply.latency_ms)
            reasons[reply.fallback_reason.split(":")[0] or "generated"] += 1
    return {
        "load_s": round(load_s, 2),
        "max_new_tokens": settings.kogpt2_max_new_tokens,
        "candidates": settings.kogpt2_candidates,
        "full_budget_by_candidates": full_budget,
        "respond_ms": percentiles(respond_ms),
        "time_budget_s": settings.kogpt2_max_time_s,
        "outcomes": dict(reasons),
        "note": "random weights: replies fail the rails or the time budget and the curated responder "
        "answers (its time is included in respond_ms)",
    }


def main(argv: list[str] | None = None) -> int:
    """Build both models, time them with each thread count; print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the 8 test sentences")
    parser.add_argument(
        "--threads", default=f"1,{os.cpu_count()}", help="torch thread counts to measure, comma-separated"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    with tempfile.TemporaryDirectory(prefix="maum-text-bench-") as tmp:
        root = Path(tmp)
        texts = korean_texts()
        start = time.perf_counter()
        torch.set_num_threads(os.cpu_count() or 1)
        bert = build_bert(root / "bert", texts)
        kogpt2 = build_kogpt2(root / "gpt2-base", root / "kogpt2", texts)
        build_s = time.perf_counter() - start
        by_threads = {}
        for threads in [int(t) for t in args.threads.split(",") if t.strip()]:
            torch.set_num_threads(threads)
            by_threads[str(threads)] = {
                "klue_bert": bench_bert(bert, args.repeat),
                "kogpt2": bench_kogpt2(kogpt2, args.repeat),
            }
    result = {
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__},
        "models": {"klue_bert": KLUE_BERT, "kogpt2": KOGPT2, "weights": "random (shapes of the public checkpoints)"},
        "build_s": round(build_s, 1),
        "by_torch_threads": by_threads,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
