"""The keras emotion backend (``tensorflow`` extra) on tiny Keras text classifiers built and saved here.

One model reads raw sentences (a ``TextVectorization`` layer inside, softmax output, Korean label
names); the other shares its weights but takes token ids and gives logits, with the vocabulary in
its sidecar. Both are fitted to 14 sentences of the project's corpus, so the labels they give are
checkable. TensorFlow is imported once, by this module (a few seconds).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from pipeline import registry
from pipeline.errors import MissingDependencyError, ModelFilesError
from pipeline.settings import Settings
from pipeline.stages import EmotionClassifier
from pipeline.turn import Pipeline
from pipeline.types import EMOTION_LABELS, EMOTION_NAMES_KO

keras = pytest.importorskip("keras", reason="the tensorflow extra is not installed")

from pipeline.backends.keras_emotion import KerasEmotionClassifier  # noqa: E402 - after the skip

REPO = Path(__file__).resolve().parents[1]
SEQUENCE_LENGTH = 12
# The models' output order: a permutation, so that label mapping is exercised.
OUTPUT_ORDER = ("neutral", "sadness", "fear", "anger", "happiness", "surprise", "disgust")


def two_per_label() -> list[tuple[str, str]]:
    with open(REPO / "training" / "data" / "emotion" / "train.tsv", encoding="utf-8", newline="") as f:
        rows = [(r["text"], r["label"]) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    chosen, seen = [], {}
    for text, label in rows:
        if seen.get(label, 0) < 2:
            chosen.append((text, label))
            seen[label] = seen.get(label, 0) + 1
    return chosen


def save(model, path: Path) -> None:
    with warnings.catch_warnings():
        # Keras' TensorFlow backend trips NumPy 2's copy-keyword deprecation while exporting the
        # TextVectorization lookup table; saving still works and loading does not warn.
        warnings.filterwarnings("ignore", message="__array__ implementation", category=DeprecationWarning)
        model.save(path)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keras-emotion")
    rows = two_per_label()
    texts = [text for text, _ in rows]
    targets = np.array([OUTPUT_ORDER.index(label) for _, label in rows])
    keras.utils.set_random_seed(0)
    vectorizer = keras.layers.TextVectorization(max_tokens=200, output_sequence_length=SEQUENCE_LENGTH)
    vectorizer.adapt(texts)

    ids = keras.Input(shape=(SEQUENCE_LENGTH,), dtype="int64")
    hidden = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(200, 16)(ids))
    core = keras.Model(ids, keras.layers.Dense(7)(hidden))  # logits
    core.compile(
        optimizer=keras.optimizers.Adam(0.05), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    core.fit(np.asarray(vectorizer(texts)), targets, epochs=60, batch_size=14, verbose=0)

    sentences = keras.Input(shape=(1,), dtype="string")
    reader = keras.Model(sentences, keras.layers.Softmax()(core(vectorizer(sentences))))  # probabilities

    paths = {"text": folder / "reader.keras", "ids": folder / "ids.keras"}
    save(reader, paths["text"])
    (folder / "reader.json").write_text(
        json.dumps({"labels": [EMOTION_NAMES_KO[label] for label in OUTPUT_ORDER]}, ensure_ascii=False)
    )
    save(core, paths["ids"])
    (folder / "ids.json").write_text(
        json.dumps(
            {
                "labels": list(OUTPUT_ORDER),
                "vocabulary": [str(t) for t in vectorizer.get_vocabulary()],
                "sequence_length": SEQUENCE_LENGTH,
            },
            ensure_ascii=False,
        )  # fmt: skip
    )
    return paths


def test_a_model_that_reads_text_runs_through_the_pipeline(models):
    settings = Settings(
        classifier="keras", keras_emotion_model=str(models["text"]),
        transcriber="fake", responder="fake", synthesizer="fake",
    )  # fmt: skip
    pipe = Pipeline(settings)
    assert isinstance(pipe.classifier, EmotionClassifier) and pipe.backend_names()["classifier"] == "keras"
    rows = two_per_label()
    result = pipe.run_text(rows[0][0])
    assert set(result.emotion.scores) == set(EMOTION_LABELS)
    assert abs(sum(result.emotion.scores.values()) - 1.0) < 1e-3
    predicted = [e.label for e in pipe.classifier.classify_batch([text for text, _ in rows])]
    correct = sum(p == gold for p, (_, gold) in zip(predicted, rows, strict=True))
    assert correct >= 12, list(zip(predicted, rows, strict=True))  # fitted to these 14: labels map back right
    assert result.emotion.label == rows[0][1]


def test_a_model_on_token_ids_with_logits_gives_the_same_scores(models):
    from_text = KerasEmotionClassifier(Settings(keras_emotion_model=str(models["text"])))
    from_ids = KerasEmotionClassifier(Settings(keras_emotion_model=str(models["ids"])))
    texts = ["오늘 너무 무서워요", "정말 행복한 하루였어", "그냥 그래요"]
    for a, b in zip(from_text.classify_batch(texts), from_ids.classify_batch(texts), strict=True):
        assert a.label == b.label
        assert all(abs(a.scores[k] - b.scores[k]) < 1e-3 for k in EMOTION_LABELS)
    assert from_ids.classify_batch([]) == []


def test_label_mismatch_fails_before_tensorflow_loads_the_model(models, tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"not even a zip file")  # never opened: the labels are checked first
    (tmp_path / "m.json").write_text(json.dumps({"labels": ["negative", "neutral", "positive"]}))
    with pytest.raises(ModelFilesError) as err:
        registry.create("classifier", "keras", Settings(keras_emotion_model=str(model)))
    assert "unknown label names ['negative', 'positive']" in str(err.value) and "sadness/슬픔" in str(err.value)

    (tmp_path / "m.json").write_text(json.dumps({"labels": list(EMOTION_LABELS)}))
    with pytest.raises(ModelFilesError, match="cannot load Keras model"):
        KerasEmotionClassifier(Settings(keras_emotion_model=str(model)))


def test_missing_files_and_sidecar_fields_are_clear_errors(models, tmp_path):
    with pytest.raises(ModelFilesError, match="MAUM_KERAS_EMOTION_MODEL is empty"):
        KerasEmotionClassifier(Settings())
    with pytest.raises(ModelFilesError, match="no such file"):
        KerasEmotionClassifier(Settings(keras_emotion_model=str(tmp_path / "none.keras")))
    lonely = tmp_path / "lonely.keras"
    lonely.write_bytes(models["ids"].read_bytes())
    with pytest.raises(ModelFilesError, match="lonely.json: cannot read the label file"):
        KerasEmotionClassifier(Settings(keras_emotion_model=str(lonely)))
    (tmp_path / "lonely.json").write_text(json.dumps({"labels": list(EMOTION_LABELS)}))
    with pytest.raises(ModelFilesError, match="needs 'vocabulary' and 'sequence_length'"):
        KerasEmotionClassifier(Settings(keras_emotion_model=str(lonely)))


def test_missing_tensorflow_names_the_extra(models, monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)  # import keras now raises ImportError
    with pytest.raises(MissingDependencyError) as err:
        KerasEmotionClassifier(Settings(keras_emotion_model=str(models["text"])))
    assert 'pip install "maum[tensorflow]"' in str(err.value)


def test_tensorflow_is_imported_only_when_the_backend_is_built():
    code = (
        "import sys\n"
        "from pipeline import registry\n"
        "from pipeline.turn import Pipeline\n"
        "from pipeline.settings import Settings\n"
        "registry.backend_class('classifier', 'keras')\n"
        "fakes = Settings(transcriber='fake', classifier='fake', responder='fake', synthesizer='fake')\n"
        "Pipeline(fakes).run_text('안녕')\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", out.stderr
