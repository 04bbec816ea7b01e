"""The hybrid risk assessor: rules + a trained classifier, their combination, the head file, the training
script on a tiny set with a stand-in embedder, the Pipeline and the command line.

The real head on real e5 embeddings is checked in the ``slow`` tests at the end.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest

from pipeline.care.assessor import (
    CLASSIFIER_REASON,
    ClassifierSignal,
    RiskAssessor,
    RiskHead,
    combine,
    default_risk_head_path,
    joint_label,
)
from pipeline.care.risk import assess_risk
from pipeline.errors import ModelFilesError
from pipeline.risk_eval import evaluate, main
from pipeline.settings import Settings
from pipeline.turn import Pipeline
from pipeline.types import Risk
from tests.samples import REPO, bigram_embed
from tests.test_cli import FAKE_ENV, run_cli
from training.train_risk_head import RiskHeadTrainingConfig, calibrate, read_risk_tsv, train

TINY = REPO / "tests" / "data" / "risk_head_tiny.tsv"
FAKES = Settings(transcriber="fake", classifier="fake", responder="fake", synthesizer="fake")


def signal(level: str, category: str = "suicide", p_risk: float = 0.9, p_high: float = 0.8) -> ClassifierSignal:
    return ClassifierSignal(p_risk=p_risk, p_high=p_high, category=category, level=level)


# --- combination -----------------------------------------------------------------------------------


def test_a_classifier_only_signal_gives_at_least_watch_with_a_korean_reason():
    risk = combine(Risk(), signal("watch", p_risk=0.62, p_high=0.3))
    assert risk == Risk("watch", (f"{CLASSIFIER_REASON}: 자살 위험 0.62",), ("suicide",))


def test_classifier_high_shows_the_probability_of_high():
    risk = combine(Risk(), signal("high", "abuse", p_risk=0.97, p_high=0.91))
    assert risk.level == "high" and risk.reasons == ("문장 전체의 의미(자동 분류): 학대·폭력 피해 위험 0.91",)
    assert risk.categories == ("abuse",)


def test_the_higher_level_wins_and_every_signal_is_a_reason():
    rules = assess_risk("희망이 없어요")
    risk = combine(rules, signal("high"))
    assert rules.level == "watch" and risk.level == "high"
    assert risk.reasons == (*rules.reasons, signal("high").reason)


def test_rules_high_stays_high_when_the_classifier_sees_nothing():
    rules = assess_risk("그냥 죽고 싶어요")
    assert combine(rules, signal("none")) == rules
    assert combine(rules, None) == rules


def test_the_classifier_adds_its_category_only_where_it_raised_the_level():
    rules = assess_risk("아빠가 때려요")  # high abuse
    assert combine(rules, signal("high", "suicide")).categories == ("abuse",)
    raised = combine(assess_risk("희망이 없어요"), signal("high", "medical"))
    assert raised.categories == ("suicide", "medical")


def test_an_idiom_the_rules_recognised_is_at_most_watch():
    # 배고파 죽겠어요: the rules know the intensifier idiom; a classifier that only sees 죽겠 may not
    risk = combine(Risk(), signal("high"), softened=True)
    assert risk.level == "watch"


# --- the head and the training script (stand-in embedder) -------------------------------------------


def tiny_config(out) -> RiskHeadTrainingConfig:
    # 40 sentences cannot generalise across folds: allow more out-of-fold alarms than the real corpus;
    # the stand-in embedder's bigrams carry the meaning here, so the e5 part keeps its old share
    return RiskHeadTrainingConfig(
        train=str(TINY),
        dev=str(TINY),
        out=str(out),
        folds=2,
        max_iter=100,
        max_false_alarm=0.3,
        max_false_high=0.3,
        lexical_weight=0.5,
    )


@pytest.fixture(scope="module")
def tiny_head(tmp_path_factory):
    out = tmp_path_factory.mktemp("risk") / "risk_head.npz"
    head, metrics = train(tiny_config(out), embed=bigram_embed)
    head.save(out, watch_threshold=metrics["watch_threshold"], high_threshold=metrics["high_threshold"])
    return out, metrics


def test_the_head_file_loads_and_predicts_its_training_sentences(tiny_head):
    path, metrics = tiny_head
    head = RiskHead.load(path)
    assert head.labels[0] == "none" and "high:suicide" in head.labels and "watch:caregiver" in head.labels
    assert head.thresholds == (metrics["watch_threshold"], metrics["high_threshold"])
    rows = read_risk_tsv(TINY)
    signals = head.signals(bigram_embed(rows.texts), rows.texts, thresholds=(0.5, 0.5))
    assert all(0.0 <= s.p_high <= s.p_risk <= 1.0 + 1e-6 for s in signals)
    flagged = [s.level != "none" for s in signals]
    expected = [level != "none" for level in rows.levels]
    assert np.mean(np.equal(flagged, expected)) >= 0.9  # it learned its own tiny set
    by_text = dict(zip(rows.texts, signals, strict=True))
    assert by_text["죽고 싶어요"].category == "suicide" and by_text["오늘 날씨가 좋아요"].level == "none"


def test_the_dev_report_compares_rules_classifier_and_hybrid(tiny_head):
    _, metrics = tiny_head
    assert set(metrics["dev"]) >= {"rules", "classifier", "hybrid"}
    hybrid, rules = metrics["dev"]["hybrid"], metrics["dev"]["rules"]
    assert hybrid["recall"] >= rules["recall"]  # the highest of both never loses a rule's catch
    assert 0.0 < metrics["watch_threshold"] <= metrics["high_threshold"] < 1.0


def test_training_is_deterministic(tiny_head, tmp_path):
    path, _ = tiny_head
    again, metrics = train(tiny_config(tmp_path / "again.npz"), embed=bigram_embed)
    first = RiskHead.load(path)
    assert again.labels == first.labels
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(again.layers, first.layers, strict=True))
    assert (metrics["watch_threshold"], metrics["high_threshold"]) == first.thresholds


def test_calibration_keeps_the_out_of_fold_false_alarms_within_bounds():
    rng = np.random.default_rng(0)
    levels = ["none"] * 200 + ["watch"] * 50 + ["high"] * 100
    p_risk = np.concatenate([rng.uniform(0, 0.6, 200), rng.uniform(0.4, 1, 150)])
    p_high = np.concatenate([rng.uniform(0, 0.3, 200), rng.uniform(0.1, 0.7, 50), rng.uniform(0.5, 1, 100)])
    config = RiskHeadTrainingConfig(max_false_alarm=0.05, max_false_high=0.02)
    watch_t, high_t = calibrate(p_risk, p_high, levels, config)
    assert np.mean(p_risk[:200] >= watch_t) <= 0.05
    assert np.mean(p_high[:200] >= high_t) <= 0.02 and high_t >= watch_t
    # vague hopelessness (watch rows) does not hold the high threshold up: look-alikes do
    assert high_t <= np.quantile(p_high[:250], 0.98)


@pytest.mark.parametrize(
    ("level", "categories", "label"),
    [
        ("none", [], "none"),
        ("high", ["suicide", "imminent"], "high:suicide"),
        ("watch", ["caregiver"], "watch:caregiver"),
    ],
)
def test_joint_labels(level, categories, label):
    assert joint_label(level, categories) == label


@pytest.mark.parametrize(("level", "categories"), [("high", ["imminent"]), ("high", ["sadness"]), ("urgent", [])])
def test_bad_corpus_rows_are_rejected(level, categories, tmp_path):
    with pytest.raises(ValueError):
        joint_label(level, categories)
    path = tmp_path / "bad.tsv"
    path.write_text(f"text\tlevel\tcategory\n문장\t{level}\t{','.join(categories) or '-'}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="row 2"):
        read_risk_tsv(path)


def test_a_head_with_foreign_labels_is_refused(tiny_head, tmp_path):
    head = RiskHead.load(tiny_head[0])
    with pytest.raises(ModelFilesError):
        RiskHead(head.layers, ("none", "high:sadness", *head.labels[2:]))


# --- the assessor ---------------------------------------------------------------------------------


def test_the_assessor_combines_rules_and_classifier(tiny_head):
    assessor = RiskAssessor(RiskHead.load(tiny_head[0]), bigram_embed)
    risk = assessor.assess("죽고 싶어요")
    assert risk.level == "high" and "죽고 싶" in risk.reasons
    assert any(reason.startswith(CLASSIFIER_REASON) for reason in risk.reasons)
    assert assessor.assess("오늘 날씨가 좋아요") == Risk()
    assert assessor.assess("") == Risk()


def test_a_failing_classifier_leaves_the_rules_and_a_log_line(tiny_head, caplog):
    def broken(texts):
        raise RuntimeError("embedder crashed")

    assessor = RiskAssessor(RiskHead.load(tiny_head[0]), broken)
    with caplog.at_level(logging.ERROR, logger="pipeline.care.assessor"):
        risk = assessor.assess("그냥 죽고 싶어요")
    assert risk == assess_risk("그냥 죽고 싶어요")
    assert "risk classifier failed" in caplog.text


def test_a_missing_head_means_rules_only_and_a_log_line(tmp_path, caplog):
    settings = dataclasses.replace(FAKES, risk_classifier="e5-head", risk_head=str(tmp_path / "missing.npz"))
    with caplog.at_level(logging.ERROR, logger="pipeline.care.assessor"):
        result = Pipeline(settings).run_text("그냥 죽고 싶어요")
    assert result.risk.level == "high" and result.reply.text  # the turn is not lost
    assert "risk classifier unavailable" in caplog.text


@pytest.mark.parametrize(("classifier", "choice", "uses"), [("fake", "auto", False), ("fake", "rules", False)])
def test_which_settings_use_the_classifier(classifier, choice, uses):
    settings = dataclasses.replace(FAKES, classifier=classifier, risk_classifier=choice)
    assert RiskAssessor.from_settings(settings).uses_classifier is uses


def test_the_settings_can_load_a_head_with_a_given_embedder(tiny_head):
    settings = dataclasses.replace(FAKES, risk_classifier="e5-head", risk_head=str(tiny_head[0]))
    assert RiskAssessor.from_settings(settings, embed=bigram_embed).uses_classifier


def test_an_unknown_risk_classifier_setting_is_a_clear_error():
    with pytest.raises(ValueError, match="risk_classifier"):
        RiskAssessor.from_settings(dataclasses.replace(FAKES, risk_classifier="gpt"))


def test_the_pipeline_assesses_with_its_assessor_before_replying(tiny_head):
    pipe = Pipeline(FAKES, risk_assessor=RiskAssessor(RiskHead.load(tiny_head[0]), bigram_embed))
    result = pipe.run_text("죽고 싶어요")
    assert result.risk.level == "high" and any(r.startswith(CLASSIFIER_REASON) for r in result.risk.reasons)
    assert "risk" in result.timings_ms


# --- evaluation and command line ------------------------------------------------------------------


def test_evaluation_reads_several_categories_per_row():
    rows = [
        {"text": "오늘 밤에 죽을 거예요", "level": "high", "category": "suicide,imminent"},
        {"text": "그냥 죽고 싶어요", "level": "high", "category": "suicide"},
        {"text": "배고파 죽겠어요", "level": "none", "category": "-"},
    ]
    figures = evaluate(rows)
    assert figures["recall"] == 1.0 and figures["category_accuracy"] == 1.0 and figures["imminent_found"] == 1.0


def test_evaluation_command_can_measure_the_rules_alone(capsys):
    assert main([str(REPO / "tests" / "data" / "risk_test.tsv"), "--rules-only"]) == 0
    line = capsys.readouterr().out
    assert '"recall"' in line and '"imminent_found"' in line


def test_the_command_line_prints_categories():
    proc, lines = run_cli(["risk"], "아빠가 때려요 오늘 밤에 죽을 거예요\n배고파 죽겠어요\n", FAKE_ENV)
    assert proc.returncode == 0, proc.stderr
    assert lines[0]["level"] == "high" and lines[0]["categories"] == ["suicide", "abuse", "imminent"]
    assert lines[1] == {"text": "배고파 죽겠어요", "level": "none", "reasons": [], "categories": []}


# --- the shipped head on real e5 embeddings -------------------------------------------------------


@pytest.fixture(scope="module")
def real_assessor():
    from pipeline.text.e5 import shared_embedder

    return RiskAssessor(RiskHead.load(default_risk_head_path()), shared_embedder().embed_queries)


@pytest.mark.slow
def test_the_shipped_head_keeps_the_brief_and_the_idioms(real_assessor):
    from tests.test_risk_v2 import BRIEF, LOOK_ALIKES

    for text, level, category in BRIEF:
        risk = real_assessor.assess(text)
        assert risk.level == level and category in risk.categories, (text, risk)
    for idiom in ("배고파 죽겠어요", "웃겨 죽겠어", "회사 그만두고 싶어요"):
        assert real_assessor.assess(idiom) == Risk(), idiom
    # The classifier alone still flags some everyday sentences about children and farewells
    # (옆집 애가 우는 소리가 시끄러워요); this bounds it where it stands (see the report).
    alarms = [t for t in LOOK_ALIKES if real_assessor.assess(t).level != "none"]
    assert len(alarms) <= len(LOOK_ALIKES) // 4, alarms


@pytest.mark.slow
def test_everyday_turns_stay_none_with_the_shipped_head(real_assessor):
    for text in ("요즘 너무 힘들어요", "오늘 회사 다녀왔어요", "안녕하세요", "배고파 죽겠어요", "웃겨 죽겠어"):
        assert real_assessor.assess(text).level == "none", (text, real_assessor.assess(text))
