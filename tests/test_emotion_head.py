"""The ``e5-head`` emotion classifier: the head file format, the shipped head, and its training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.backends.e5_head import E5HeadClassifier, EmotionHead
from pipeline.errors import ModelFilesError
from pipeline.settings import Settings
from pipeline.types import EMOTION_LABELS
from training import train_emotion_head as trainer

rng = np.random.default_rng(0)


def random_head(labels=EMOTION_LABELS, hidden=16):
    return EmotionHead(
        [(rng.standard_normal((hidden, 384)).astype(np.float32), np.zeros(hidden, np.float32)),
         (rng.standard_normal((len(labels), hidden)).astype(np.float32), np.zeros(len(labels), np.float32))],
        tuple(labels),
    )  # fmt: skip


def test_head_round_trips_through_npz(tmp_path):
    head = random_head()
    head.save(tmp_path / "h.npz", note="test")
    loaded = EmotionHead.load(tmp_path / "h.npz")
    x = rng.standard_normal((5, 384)).astype(np.float32)
    np.testing.assert_allclose(loaded.probabilities(x), head.probabilities(x), rtol=1e-6)
    assert loaded.probabilities(x).sum(axis=1) == pytest.approx(np.ones(5))


def test_scores_come_out_in_the_canonical_label_order():
    permuted = tuple(reversed(EMOTION_LABELS))
    head = random_head(permuted)
    x = rng.standard_normal((3, 384)).astype(np.float32)
    raw = head.layers[1][0] @ np.maximum(head.layers[0][0] @ x[0], 0)
    assert EMOTION_LABELS[int(head.probabilities(x)[0].argmax())] == permuted[int(raw.argmax())]


def test_wrong_labels_fail_early():
    with pytest.raises(ModelFilesError, match="do not match"):
        random_head(("joy", *EMOTION_LABELS[1:]))


def test_a_head_for_another_embedder_is_refused(tmp_path):
    path = tmp_path / "h.npz"
    random_head().save(path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    meta["embedder"] = "klue-bert"
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    with pytest.raises(ModelFilesError, match="klue-bert"):
        EmotionHead.load(path)


def test_a_corrupt_head_file_is_a_clear_error(tmp_path):
    path = tmp_path / "h.npz"
    path.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ModelFilesError, match="cannot read emotion head"):
        EmotionHead.load(path)


def test_report_counts():
    metrics = trainer.report([0, 0, 1, 2], [0, 1, 1, 2])
    assert metrics["accuracy"] == 0.75
    assert metrics["confusion"][0][:3] == [1, 1, 0]
    assert metrics["f1"]["surprise"] == pytest.approx(2 / 3, abs=1e-3)


@pytest.fixture(scope="module")
def classifier():
    return E5HeadClassifier(Settings())


@pytest.mark.slow
def test_shipped_head_on_the_dev_split(classifier):
    texts, gold = trainer.read_tsv(trainer.DATA_DIR / "dev.tsv")
    pred = [EMOTION_LABELS.index(e.label) for e in classifier.classify_batch(texts)]
    metrics = trainer.report(gold, pred)
    # Starter corpus (490 training sentences): measured 0.72 macro-F1. The care issue grows it.
    assert metrics["macro_f1"] >= 0.65, metrics


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "label"),
    [("요즘 너무 우울하고 눈물만 나요", "sadness"), ("합격했어요! 너무 기뻐요", "happiness"),
     ("그 사람 때문에 진짜 화가 나서 미치겠어", "anger"), ("내일 수술인데 너무 무서워요", "fear")],
)  # fmt: skip
def test_clear_sentences(classifier, text, label):
    emotion = classifier.classify(text)
    assert emotion.label == label, dict(emotion.scores)
    assert sum(emotion.scores.values()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.slow
def test_training_reproduces_the_shipped_head(tmp_path, classifier):
    config = trainer.HeadTrainingConfig(out=str(tmp_path / "head.npz"))
    head, metrics = trainer.train(config)
    texts, _ = trainer.read_tsv(trainer.DATA_DIR / "dev.tsv")
    embeddings = classifier.embedder.embed_queries(texts)
    retrained = head.probabilities(embeddings).argmax(axis=1)
    shipped = classifier.head.probabilities(embeddings).argmax(axis=1)
    assert (retrained == shipped).mean() >= 0.97
    assert metrics["dev"]["macro_f1"] == pytest.approx(0.72, abs=0.03)
