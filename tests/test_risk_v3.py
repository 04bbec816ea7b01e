"""Risk v3 phrase rules: wording other authors use, recognition slips, and their look-alikes.

Every sentence here was written for this test (none is copied from a development or holdout set).
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.care.assessor import CLASSIFIER_REASON, ClassifierSignal, RiskHead, combine
from pipeline.care.risk import _near_miss_table, assess_risk
from pipeline.types import Risk
from tests.samples import REPO, bigram_embed, two_author_risk_corpus
from training import train_risk_head
from training.train_risk_head import RiskHeadTrainingConfig, RiskRows, fit_imminent, imminent_threshold

TINY = REPO / "tests" / "data" / "risk_head_tiny.tsv"

RISKY = [
    # (text, category the rules must name)
    ("남편 먼저 보내고 나서는 나도 빨리 따라가야겠다 싶어", "suicide"),
    ("엄마 돌아가신 뒤로 저도 그냥 따라가고 싶어요", "suicide"),
    ("마 콱 죽어뿔까 싶은 날이 많다", "suicide"),
    ("요새 진짜 쥬고 싶어 다 귀찮고", "suicide"),
    ("그냥 주거버리고 싶어 아무도 모르게", "suicide"),
    ("안 아프게 가는 방법 같은 거 있어요", "suicide"),
    ("몇 층이면 확실하게 끝날까요", "suicide"),
    ("가스 틀어 놓고 잠들면 편하려나", "suicide"),
    ("자다가 그냥 숨이 멎었으면 좋겠어요", "suicide"),
    ("트럭이 나를 확 치어 버렸으면 좋겠다", "suicide"),
    ("어제도 손묵을 그었어요", "self_harm"),
    ("시험 끝나면 팔을 컴퍼스로 자꾸 찔러요", "self_harm"),
    ("일부러 뜨거운 물에 손을 담갔어요 정신 차리려고", "self_harm"),
    ("그 인간 차 브레이크 선을 끊어 버릴 생각이에요", "harm_to_others"),
    ("걔 커피에 약을 타 버릴까 생각 중이에요", "harm_to_others"),
    ("남편이 생활비를 한 푼도 안 줘요 친정도 못 가게 하고", "abuse"),
    ("며느리가 나를 방에만 가둬 놓고 밥도 안 줘", "abuse"),
    ("영감이 술만 먹으면 지팡이로 나를 때려", "abuse"),
    ("선배들이 돈 가져오라고 하고 못 가져가면 때려요", "school_violence"),
    ("엄마가 갑자기 말이 어눌해지고 한쪽 팔에 힘이 없어요", "medical"),
    ("애가 건전지를 삼켰는데 숨을 컥컥거려요", "medical"),
    ("넘어져서 머리에서 피가 안 멈춰요", "medical"),
]

LOOK_ALIKES = [
    "친구들 캠핑 가는데 나도 따라가고 싶어",
    "동생한테 생일 선물 주고 싶어서 뭐 살지 고민이에요",
    "서울역까지 편하게 가는 방법 알려 주세요",
    "감기약은 몇 알 먹어야 돼요",
    "소면 제가 삶았는데 좀 불었어요",
    "영감을 받아서 새벽까지 그림을 그렸어요",
    "아기가 밤에 깨지 않고 자는 게 소원이에요",
    "그 선수 은퇴식에서 마지막 인사 하는데 울컥했어요",
    "번지점프 하러 가서 뛰어내렸는데 완전 짜릿했어요",
    "남편이 월급 카드를 관리해요 저는 용돈 받고요",
    "발음이 잘 안 나와서 연습하고 있어요",
    "가스 불 켜 놓고 나온 것 같아서 다시 들어갔어요",
    "비행기 타고 가는 방법이 제일 빨라요",
]


@pytest.mark.parametrize(("text", "category"), RISKY)
def test_other_authors_wording_is_high(text, category):
    risk = assess_risk(text)
    assert risk.level == "high", (text, risk)
    assert category in risk.categories, (text, risk)


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_stay_none(text):
    risk = assess_risk(text)
    assert risk.level == "none", (text, risk)


def test_a_word_only_near_miss_applies_to_its_word():
    table = _near_miss_table(
        {"keywords": ["손목", "수면제"], "confusable": {}, "word_confusable": {"손목": {"medial": ["ㅗㅜ"]}}}
    )
    assert table["손묵"] == "손목"
    assert "소면제" not in table  # ㅗ/ㅜ holds for 손목 only


def test_a_word_only_near_miss_must_name_a_key_word():
    with pytest.raises(ValueError, match="not a key word"):
        _near_miss_table({"keywords": ["손목"], "word_confusable": {"자살": {"medial": ["ㅏㅓ"]}}})
    with pytest.raises(ValueError, match="not a group of jamo"):
        _near_miss_table({"keywords": ["손목"], "word_confusable": {"손목": {"medial": ["ㄱㄴ"]}}})


# --- the classifier's imminence probe and the cross-author check -----------------------------------


def _signal(level, imminent, p_imminent=0.83):
    return ClassifierSignal(0.95, 0.9, "suicide", level, p_imminent=p_imminent, imminent=imminent)


def test_the_imminence_probe_marks_a_high_statement_imminent():
    risk = combine(Risk(), _signal("high", True))
    assert risk.level == "high" and risk.categories == ("suicide", "imminent")
    assert risk.reasons == (f"{CLASSIFIER_REASON}: 자살 위험 0.90, 급박한 상황 0.83",)
    rules_high = combine(assess_risk("그냥 죽고 싶어요"), _signal("high", True))
    assert "imminent" in rules_high.categories  # the probe reads "now" whoever found it high


def test_the_imminence_probe_never_raises_the_level_or_marks_a_watch():
    assert combine(Risk(), _signal("watch", False)).categories == ("suicide",)
    assert "imminent" not in combine(Risk(), _signal("high", False)).categories


def test_a_head_without_a_probe_reads_no_imminence_and_a_probe_is_a_logistic_regression():
    head = RiskHead(
        [(np.zeros((3, 384), np.float32), np.zeros(3, np.float32))], ("none", "watch:suicide", "high:suicide")
    )
    x = np.eye(4, 384)
    texts = ["a", "b", "c", "d"]
    assert head.imminence(x).tolist() == [0.0] * 4
    assert not any(s.imminent for s in head.signals(x, texts, thresholds=(0.1, 0.1)))
    weights = [0.0] * 384
    weights[0], weights[1] = 4.0, -4.0
    head.meta = {"imminent_weights": weights, "imminent_bias": 0.0, "imminent_threshold": 0.9}
    p = head.imminence(x)
    assert p[0] > 0.98 and p[1] < 0.02 and p[2] == pytest.approx(0.5)
    signals = head.signals(x, texts, thresholds=(0.1, 0.1))
    assert [s.imminent for s in signals] == [True, False, False, False]  # high, and over the probe's threshold


def test_the_probe_learns_imminence_and_its_threshold_bounds_false_marks():
    rng = np.random.default_rng(3)
    n = 120
    x = rng.normal(size=(n, 8))
    imminent = np.arange(n) < 40
    x[imminent, 0] += 3.0
    rows = RiskRows(
        [f"s{i}" for i in range(n)],
        ["high"] * n,
        [["suicide", "imminent"] if i else ["suicide"] for i in imminent],
        [f"g{i}" for i in range(n)],
        ["a"] * n,
    )
    config = RiskHeadTrainingConfig(max_iter=100)
    w, b = fit_imminent(rows, x, config)
    p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
    assert p[imminent].mean() > 0.7 > 0.3 > p[~imminent].mean()
    t = imminent_threshold(p, rows, config)
    assert np.mean(p[~imminent] >= t) <= config.max_false_imminent


def test_the_cross_author_check_holds_each_author_out(tmp_path, monkeypatch):
    two_author_risk_corpus(tmp_path)
    monkeypatch.setattr(train_risk_head, "MIN_HELD_OUT", 1)
    config = RiskHeadTrainingConfig(
        train=str(tmp_path / "train.tsv"), dev=str(tmp_path / "dev.tsv"), max_iter=50, max_false_alarm=0.3
    )
    report = train_risk_head.cross_author(config, embed=bigram_embed)
    assert set(report["authors"]) == {"one", "two"}
    assert report["chosen"] == "in_author@0.3/0.01"
    for figures in report["authors"].values():
        assert figures["n"] == 20 and 0.0 <= figures["false_alarms"] <= 1.0
        assert figures["false_high"] <= figures["false_alarms"] and 0.0 <= figures["high_recall"] <= 1.0
    assert {"in_author@0.3/0.01", "out_of_author@0.3/0.01", "out_of_author@0.02/0.01"} <= set(report["variants"])
    pooled = report["pooled"]
    assert set(pooled) >= {"high_recall", "false_alarms", "false_high", "ap_risk", "at_false_alarms_0.07"}
    assert pooled["at_false_alarms_0.1"]["high_recall"] >= pooled["at_false_alarms_0.05"]["high_recall"]
