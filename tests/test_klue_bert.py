"""The klue-bert emotion backend and its fine-tuning script, on a tiny random BERT built here.

The "pretrained" base is a 2-layer BERT with hidden size 16 and a WordPiece vocabulary trained on
the project's emotion corpus with the ``tokenizers`` library, saved like a hub folder.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import BertWordPieceTokenizer
from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizer

from pipeline import registry
from pipeline.backends.klue_bert import KlueBertClassifier
from pipeline.errors import ModelFilesError
from pipeline.settings import Settings
from pipeline.stages import EmotionClassifier
from pipeline.text.emotion_labels import canonical_label, label_order, reorder
from pipeline.turn import Pipeline
from pipeline.types import EMOTION_LABELS, EMOTION_NAMES_KO
from training import finetune_emotion_bert as ft

CORPUS = Path(__file__).resolve().parents[1] / "training" / "data" / "emotion"

torch.set_num_threads(1)


def corpus_rows(name: str) -> list[tuple[str, str]]:
    with open(CORPUS / name, encoding="utf-8", newline="") as f:
        return [(r["text"], r["label"]) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def tiny_tokenizer(texts: list[str]) -> BertTokenizer:
    wordpiece = BertWordPieceTokenizer(lowercase=False, strip_accents=False)
    wordpiece.train_from_iterator(
        texts, vocab_size=600, min_frequency=1, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    )
    return BertTokenizer(vocab=wordpiece.get_vocab(), do_lower_case=False)


def tiny_config(vocab_size: int, **kwargs) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=128, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        initializer_range=0.1, **kwargs,  # wider than 0.02: a hidden-16 model then trains reliably from any seed
    )  # fmt: skip


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory) -> Path:
    """A tiny 'pretrained' BERT folder (encoder only, no classification head), as a hub download looks."""
    texts = [text for text, _ in corpus_rows("train.tsv")]
    tokenizer = tiny_tokenizer(texts)
    folder = tmp_path_factory.mktemp("tiny-bert-base")
    torch.manual_seed(0)
    BertModel(tiny_config(len(tokenizer))).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def classifier_dir(base_dir: Path, folder: Path, names: list[str], favour: int | None = None) -> Path:
    """A sequence-classification folder with ``names`` as id2label; output ``favour`` always wins."""
    tokenizer = BertTokenizer.from_pretrained(base_dir)
    config = tiny_config(len(tokenizer), num_labels=len(names), id2label=dict(enumerate(names)))
    torch.manual_seed(1)
    model = BertForSequenceClassification(config)
    if favour is not None:
        with torch.no_grad():
            model.classifier.bias.zero_()
            model.classifier.bias[favour] = 20.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_tsv(path: Path, rows: list[tuple[str, str]], header=("text", "label")) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\t".join(header) + "\n")
        f.writelines(f"{text}\t{label}\n" for text, label in rows)
    return path


def two_per_label() -> list[tuple[str, str]]:
    rows, seen = [], {}
    for text, label in corpus_rows("train.tsv"):
        if seen.get(label, 0) < 2:
            rows.append((text, label))
            seen[label] = seen.get(label, 0) + 1
    return rows


@pytest.fixture(scope="module")
def overfit_dir(base_dir, tmp_path_factory) -> Path:
    """The fine-tune script run to memorise 14 sentences (2 per label); dev = the same sentences."""
    tmp = tmp_path_factory.mktemp("overfit")
    data = write_tsv(tmp / "few.tsv", two_per_label())
    out = tmp / "model"
    code = ft.main([
        "--base", str(base_dir), "--out", str(out), "--train", str(data), "--dev", str(data),
        "--epochs", "150", "--batch-size", "14", "--lr", "3e-3", "--warmup-ratio", "0", "--weight-decay", "0",
        "--eval-every", "25", "--patience", "100", "--device", "cpu", "--threads", "1",
    ])  # fmt: skip
    assert code == 0
    return out


def test_finetune_on_the_corpus_writes_a_folder_the_backend_loads(base_dir, tmp_path, capsys):
    out = tmp_path / "emotion-bert"
    code = ft.main([
        "--base", str(base_dir), "--out", str(out), "--max-steps", "6", "--batch-size", "16",
        "--optimizer", "radam", "--device", "cpu", "--eval-every", "3", "--threads", "1",
    ])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "gold \\ pred" in printed and "macro-F1" in printed  # the printed confusion table
    summary = json.loads(printed.strip().splitlines()[-1])
    n_train, n_dev = len(corpus_rows("train.tsv")), len(corpus_rows("dev.tsv"))
    assert summary["steps"] == 6 and summary["dev_n"] == n_dev and summary["train_n"] == n_train

    config = json.loads((out / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(7)] == list(EMOTION_LABELS)
    report = json.loads((out / "report.json").read_text())
    confusion = np.array(report["dev"]["confusion"])
    assert confusion.shape == (7, 7) and confusion.sum() == n_dev
    assert 0.0 <= report["dev"]["macro_f1"] <= 1.0 and len(report["history"]) == 2
    assert report["config"]["base"] == base_dir.name  # no absolute paths in the artefact
    counts = Counter(label for _, label in corpus_rows("train.tsv"))
    expected = [n_train / (7 * counts[label]) for label in EMOTION_LABELS]
    assert report["class_weights"] == pytest.approx(expected, abs=1e-4)

    classifier = KlueBertClassifier(Settings(klue_bert_model=str(out), device="cpu"))
    assert isinstance(classifier, EmotionClassifier)
    emotion = classifier.classify("요즘 너무 불안해서 잠이 안 와요")
    assert emotion.label in EMOTION_LABELS and abs(sum(emotion.scores.values()) - 1.0) < 1e-3


def test_finetuning_learns_the_training_sentences(overfit_dir):
    """Training really trains: after fine-tuning, the backend gets most of the memorised sentences right."""
    report = json.loads((overfit_dir / "report.json").read_text())
    assert report["dev"]["accuracy"] >= 0.85, report["history"]
    assert report["history"][0]["train_loss"] > report["history"][-1]["train_loss"]
    classifier = KlueBertClassifier(Settings(klue_bert_model=str(overfit_dir), device="cpu"))
    rows = two_per_label()
    predicted = [e.label for e in classifier.classify_batch([text for text, _ in rows])]
    assert np.mean([p == gold for p, (_, gold) in zip(predicted, rows, strict=True)]) >= 0.85


def test_backend_runs_through_the_pipeline(overfit_dir):
    settings = Settings(
        classifier="klue-bert", klue_bert_model=str(overfit_dir), device="cpu",
        transcriber="fake", responder="fake", synthesizer="fake",
    )  # fmt: skip
    pipe = Pipeline(settings)
    text, gold = two_per_label()[0]
    result = pipe.run_text(text)
    assert pipe.backend_names()["classifier"] == "klue-bert"
    assert result.emotion.label == gold
    assert set(result.emotion.scores) == set(EMOTION_LABELS)
    assert result.reply.text and result.timings_ms["emotion"] > 0


def test_batches_give_the_same_scores_as_single_sentences(overfit_dir):
    classifier = KlueBertClassifier(Settings(klue_bert_model=str(overfit_dir), device="cpu", klue_bert_batch_size=3))
    texts = ["오늘 기분이 좋아요", "회사에서 상사가 소리를 질러서 너무 화가 났어요 진짜로", "깜짝이야", "무서워"]
    batched = classifier.classify_batch(texts)  # padded batches of 3 and 1
    for text, together in zip(texts, batched, strict=True):
        alone = classifier.classify(text)
        assert alone.label == together.label
        assert all(abs(alone.scores[k] - together.scores[k]) < 1e-3 for k in EMOTION_LABELS)
    assert classifier.classify_batch([]) == []


def test_korean_label_names_in_any_order_are_mapped(base_dir, tmp_path):
    names = [EMOTION_NAMES_KO[label] for label in reversed(EMOTION_LABELS)]  # 혐오, 행복, 중립, 슬픔, …
    folder = classifier_dir(base_dir, tmp_path / "ko", names, favour=names.index("슬픔"))
    emotion = KlueBertClassifier(Settings(klue_bert_model=str(folder), device="cpu")).classify("아무 문장")
    assert emotion.label == "sadness" and emotion.scores["sadness"] > 0.99


def test_label_mismatch_fails_at_load_with_a_clear_message(base_dir, tmp_path):
    folder = classifier_dir(base_dir, tmp_path / "generic", [f"LABEL_{i}" for i in range(7)])
    with pytest.raises(ModelFilesError) as err:
        registry.create("classifier", "klue-bert", Settings(klue_bert_model=str(folder), device="cpu"))
    message = str(err.value)
    assert err.value.code == "model_files_invalid"
    assert "LABEL_0" in message and "sadness/슬픔" in message and "finetune_emotion_bert" in message

    three = classifier_dir(base_dir, tmp_path / "three", ["negative", "neutral", "positive"])
    with pytest.raises(ModelFilesError, match=r"unknown label names \['negative', 'positive'\]"):
        KlueBertClassifier(Settings(klue_bert_model=str(three), device="cpu"))


def test_missing_folder_or_setting_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFilesError, match="MAUM_KLUE_BERT_MODEL is empty"):
        KlueBertClassifier(Settings())
    with pytest.raises(ModelFilesError, match="no config.json"):
        KlueBertClassifier(Settings(klue_bert_model=str(tmp_path)))


def test_label_helpers():
    assert canonical_label(" Sadness ") == "sadness" and canonical_label("공포") == "fear"
    assert canonical_label("LABEL_0") is None
    order = label_order(["슬픔", "fear", "surprise", "anger", "neutral", "happiness", "disgust"], "m")
    probs = np.array([[0.5, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05]])
    assert reorder(probs, order)[0, EMOTION_LABELS.index("sadness")] == 0.5
    with pytest.raises(ModelFilesError, match=r"labels named twice \['sadness'\]"):
        label_order(["슬픔", "sadness", "surprise", "anger", "neutral", "happiness", "disgust"], "m")


def test_reading_data_files(tmp_path):
    csv_path = tmp_path / "data.csv"
    csv_path.write_text('Sentence,Emotion\n"시험 떨어졌어, 너무 속상해",슬픔\n와 대박,놀람\n', encoding="utf-8")
    texts, labels = ft.read_labelled(csv_path)
    assert texts == ["시험 떨어졌어, 너무 속상해", "와 대박"]
    assert [EMOTION_LABELS[i] for i in labels] == ["sadness", "surprise"]
    bad = write_tsv(tmp_path / "bad.tsv", [("좋아요", "happiness"), ("음", "기쁨")])
    with pytest.raises(ValueError, match=r"bad.tsv:3: unknown label '기쁨'"):
        ft.read_labelled(bad)
    with pytest.raises(ValueError, match="no column 'sentence'; columns are"):
        ft.read_labelled(bad, text_column="sentence")


def test_stratified_split_and_class_weights():
    labels = [4] * 50 + [0] * 10 + [3] * 5 + [6] * 1
    train, dev = ft.stratified_split(labels, 0.2, seed=1)
    assert sorted(train + dev) == list(range(len(labels)))
    dev_labels = [labels[i] for i in dev]
    assert dev_labels.count(4) == 10 and dev_labels.count(0) == 2 and dev_labels.count(3) == 1
    assert 6 not in dev_labels  # a single row stays in training
    weights = ft.class_weights([labels[i] for i in train])
    assert weights[4] < 1.0 < weights[0] < weights[3]
    assert weights[1] == 1.0  # absent label


def test_finetune_with_a_stratified_split(base_dir, tmp_path):
    rows = corpus_rows("dev.tsv")
    data = write_tsv(tmp_path / "all.tsv", rows, header=("sentence", "emotion"))
    result = ft.finetune(ft.BertFinetuneConfig(
        base=str(base_dir), out=str(tmp_path / "m"), train=(str(data),), dev="", max_steps=2, batch_size=8,
        device="cpu", threads=1,
    ))  # fmt: skip
    counts = Counter(label for _, label in rows)
    held_out = [round(counts[label] * 0.2) for label in EMOTION_LABELS]  # a fifth of every label
    assert np.array(result["dev"]["confusion"]).sum(axis=1).tolist() == held_out
    assert result["dev_n"] == sum(held_out) and result["train_n"] == len(rows) - sum(held_out)
