"""Cross-author training pieces of the risk head: author weights, the weighted fit, the array
hybrid, thresholds across authors, the pooled figures, and a head calibrated out of author."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from pipeline.care.assessor import ClassifierSignal, RiskHead, RiskNgramVectorizer, combine, sound_spelling
from pipeline.errors import ModelFilesError
from pipeline.types import Risk
from tests.samples import REPO, bigram_embed, two_author_risk_corpus
from training import train_risk_head
from training.risk_generalise import (
    RANK,
    HeldOut,
    RuleArrays,
    at_false_alarm,
    author_weights,
    average_precision,
    fit_weighted,
    hybrid_ranks,
    knn_shift,
    level_figures,
    nearest,
    signal_ranks,
    weighted_thresholds,
)
from training.train_emotion_head import fit_head
from training.train_risk_head import RiskHeadTrainingConfig, joint_label, label_set, read_risk_tsv

TINY = REPO / "tests" / "data" / "risk_head_tiny.tsv"


def test_the_array_hybrid_gives_the_level_combine_gives():
    levels = ("none", "watch", "high")
    for rule, sig, softened, cue, rule_imminent in itertools.product(levels, levels, *[(False, True)] * 3):
        categories = ("suicide", "imminent") if rule_imminent and rule != "none" else ("suicide",)
        rules = Risk(rule, ("r",), categories) if rule != "none" else Risk()
        signal = ClassifierSignal(0.9, 0.8, "suicide", sig)
        expected = combine(rules, signal, softened=softened, imminent=("지금",) if cue else ()).level
        arrays = RuleArrays(
            np.array([RANK[rule]]),
            np.array([softened]),
            np.array([cue and "imminent" not in rules.categories]),
        )
        assert hybrid_ranks(arrays, np.array([RANK[sig]]))[0] == RANK[expected], (rule, sig, softened, cue)


def test_the_array_hybrid_reads_the_rules_as_a_turn_does():
    texts = ["죽고 싶어요", "배고파 죽겠어요", "오늘 날씨가 좋아요"]
    arrays = RuleArrays.of(texts)
    assert arrays.rank.tolist()[0] == 2 and arrays.rank.tolist()[2] == 0
    assert arrays.softened.tolist()[1]  # the idiom: the classifier may say watch at most
    high_signal = signal_ranks(np.ones(3), np.ones(3), 0.5, 0.5)
    assert hybrid_ranks(arrays, high_signal).tolist() == [2, 1, 2]


def test_author_weights_balance_authors_and_levels():
    authors = ["a"] * 60 + ["b"] * 20 + ["b"] * 20
    levels = ["none"] * 30 + ["high"] * 30 + ["none"] * 20 + ["high"] * 20
    full = author_weights(authors, levels, 1.0)
    cells = {}
    for a, lv, w in zip(authors, levels, full, strict=True):
        cells[(a, lv)] = cells.get((a, lv), 0.0) + w
    assert np.allclose(list(cells.values()), 25.0) and full.mean() == pytest.approx(1.0)
    assert np.allclose(author_weights(authors, levels, 0.0), 1.0)
    half = author_weights(authors, levels, 0.5)
    assert half[0] < half[-1] and half[-1] / half[0] == pytest.approx((30 / 20) ** 0.5)


def test_the_weighted_fit_with_equal_weights_is_the_plain_fit():
    rows = read_risk_tsv(TINY)
    labels = label_set(rows)
    y = [labels.index(joint_label(lv, c)) for lv, c in zip(rows.levels, rows.categories, strict=True)]
    config = RiskHeadTrainingConfig(max_iter=100, lexical_weight=0.5)
    x = bigram_embed(rows.texts)
    plain = fit_head(rows.texts, x, y, config, head_labels=labels, head_type=RiskHead)
    weighted = fit_weighted(rows.texts, x, y, labels, np.ones(len(y)), config)
    assert np.allclose(plain.probabilities(x, rows.texts), weighted.probabilities(x, rows.texts), atol=2e-3)
    # weights move the fit: the look-alikes weighing ten times more lower every risk probability
    heavy = np.where(np.array(rows.levels) == "none", 10.0, 1.0)
    shy = fit_weighted(rows.texts, x, y, labels, heavy / heavy.mean(), config)
    risky = np.array(rows.levels) != "none"
    p_plain = 1 - weighted.probabilities(x, rows.texts)[:, 0]
    p_shy = 1 - shy.probabilities(x, rows.texts)[:, 0]
    assert p_shy[risky].mean() < p_plain[risky].mean()


def test_thresholds_across_authors_hold_the_mean_rate_and_are_the_lowest_that_do():
    rng = np.random.default_rng(5)
    authors = np.array(["a"] * 400 + ["b"] * 100)
    p_risk = np.concatenate([rng.uniform(0, 0.5, 400), rng.uniform(0.2, 1.0, 100)])
    p_high = p_risk * 0.8
    watch_t, high_t = weighted_thresholds(p_risk, p_high, authors, (0.05, 0.02))

    def share(p, t):
        return np.mean([(p[authors == a] >= t).mean() for a in ("a", "b")])

    assert share(p_risk, watch_t) <= 0.05 < share(p_risk, watch_t - 0.002)
    assert share(p_high, high_t) <= 0.02 and high_t >= watch_t
    # author b (a fifth of the rows) counts as much as a: pooling rows alike would set it lower
    pooled = np.quantile(p_risk, 0.95)
    assert watch_t > pooled


def test_pooled_figures_and_recall_at_a_fixed_false_alarm_rate():
    levels = np.array(["high"] * 4 + ["watch"] * 2 + ["none"] * 4)
    ranks = np.array([2, 2, 1, 0, 1, 0, 0, 1, 2, 0])
    assert level_figures(ranks, levels) == {
        "high_recall": 0.5,
        "recall_flagged": 0.6667,
        "false_alarms": 0.5,
        "false_high": 0.25,
    }
    assert average_precision(np.array([0.9, 0.8, 0.2, 0.1]), np.array([True, True, False, False])) == 1.0
    assert average_precision(np.array([0.9, 0.8]), np.array([False, True])) == 0.5
    rng = np.random.default_rng(1)
    levels = np.array(["high"] * 100 + ["none"] * 100)
    p = np.concatenate([rng.uniform(0.3, 1, 100), rng.uniform(0, 0.7, 100)])
    none = RuleArrays(np.zeros(200, np.int8), np.zeros(200, bool), np.zeros(200, bool))
    low, high = at_false_alarm(0.05, none, p, p, levels), at_false_alarm(0.2, none, p, p, levels)
    assert low["false_alarms"] <= 0.05 and high["false_alarms"] <= 0.2
    assert high["high_recall"] > low["high_recall"]


def test_the_neighbour_signal_moves_towards_the_nearer_side():
    train = np.eye(4)[:3]
    knn = nearest(np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0]]), train, ["high", "watch", "none"])
    assert knn.tolist() == [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    p = knn_shift(np.array([0.5, 0.5]), knn, 2.0)
    assert p[0] > 0.5 > p[1]
    assert knn_shift(np.array([0.3]), knn[:1], 0.0).tolist() == [0.3]


def _two_author_corpus(tmp_path):
    train, dev = two_author_risk_corpus(tmp_path)
    extra = tmp_path / "third" / "sentences.tsv"
    extra.parent.mkdir()
    extra.write_text(
        "text\tlevel\tcategory\n"
        "다 끝내고 싶어서 약을 모았어요\thigh\tsuicide\n아빠가 술 마시면 때려요\thigh\tabuse\n"
        "주말에 등산 가요\tnone\t-\n시험이 끝나서 좋아요\tnone\t-\n",
        encoding="utf-8",
    )
    return train, dev, extra


def test_out_of_author_calibration_scores_each_author_with_a_head_that_never_saw_them(tmp_path, monkeypatch):
    train, dev, extra = _two_author_corpus(tmp_path)
    monkeypatch.setattr(train_risk_head, "MIN_HELD_OUT", 1)
    cache = tmp_path / "held.npz"
    config = RiskHeadTrainingConfig(
        train=str(train), dev=str(dev), out=str(tmp_path / "head.npz"), max_iter=50, max_false_alarm=0.3,
        max_false_high=0.2, calibration="out_of_author", extra_authors=(str(extra),), held_out_cache=str(cache),
        knn_weight=5.0,
    )  # fmt: skip
    head, metrics = train_risk_head.train(config, embed=bigram_embed)
    held = HeldOut.load(cache)
    assert set(held.authors.tolist()) == {"one", "two", "third"}
    assert "다 끝내고 싶어서 약을 모았어요" in held.texts.tolist()  # an extra author's row, scored out of author
    assert 0.05 <= metrics["watch_threshold"] <= metrics["high_threshold"] < 1.0
    # the fold heads saw no row of the author they scored: refitting one without "third" reproduces it
    rows = train_risk_head.training_rows(config)
    keep = [i for i, a in enumerate(rows.authors) if a != "third"]
    both = train_risk_head._concat(rows, read_risk_tsv(dev))
    fold_head = train_risk_head.fit(
        train_risk_head.subset(rows, keep), bigram_embed([rows.texts[i] for i in keep]), label_set(both), config
    )
    mine = held.authors == "third"
    texts = held.texts[mine].tolist()
    semantic, _ = train_risk_head.part_log_probs(fold_head, bigram_embed(texts), texts)
    assert np.allclose(semantic, held.log_semantic[mine], atol=1e-6)
    # a second run reuses the cached scores (same fit settings) and gives the same thresholds
    again = train_risk_head.out_of_author_calibration(config, embed=lambda texts: pytest.fail("no embedding"))
    assert again[:2] == (metrics["watch_threshold"], metrics["high_threshold"])
    assert head.neighbours is not None and len(head.neighbours[0]) == 34
    with pytest.raises(ValueError, match="out_of_author"):
        train_risk_head.train(dataclasses.replace(config, calibration="in_author"), embed=bigram_embed)
    assert len(rows.texts) == 34 and head.labels == label_set(rows)  # the head itself is fitted on every author


def test_author_balance_changes_the_fit(tmp_path):
    train, dev, _ = _two_author_corpus(tmp_path)
    config = RiskHeadTrainingConfig(train=str(train), dev=str(dev), max_iter=50, lexical_weight=0.5)
    rows = read_risk_tsv(train)
    labels = label_set(rows)
    x = bigram_embed(rows.texts)
    plain = train_risk_head.fit(rows, x, labels, config)
    balanced = train_risk_head.fit(rows, x, labels, dataclasses.replace(config, author_balance=1.0))
    assert not np.allclose(plain.probabilities(x, rows.texts), balanced.probabilities(x, rows.texts))


def test_the_sound_view_merges_what_a_recogniser_confuses():
    assert sound_spelling("죽꼬 싶어") == sound_spelling("죽고 싶어")
    assert sound_spelling("햇어") == sound_spelling("했어") and sound_spelling("돼요") == sound_spelling("되요")
    assert sound_spelling("손목") != sound_spelling("송목")  # the rules' near-miss table handles that one
    assert sound_spelling("ok 죽고").startswith("ok ")


def test_a_head_with_lexical_views_reads_them_back_after_saving(tmp_path):
    rows = read_risk_tsv(TINY)
    labels = label_set(rows)
    config = RiskHeadTrainingConfig(max_iter=60, lexical_weight=0.5, lexical_views=("compact", "sound"))
    x = bigram_embed(rows.texts)
    head = train_risk_head.fit(rows, x, labels, config)
    assert isinstance(head.vectorizer, RiskNgramVectorizer) and any(g.startswith("~") for g in head.vectorizer.vocab)
    head.save(tmp_path / "views.npz", watch_threshold=0.5, high_threshold=0.6)
    loaded = RiskHead.load(tmp_path / "views.npz")
    assert loaded.vectorizer.views == ("compact", "sound") and loaded.thresholds == (0.5, 0.6)
    assert np.allclose(loaded.probabilities(x, rows.texts), head.probabilities(x, rows.texts), atol=1e-5)
    # a merged word finds the n-grams of its spaced form
    assert np.count_nonzero(loaded.vectorizer.transform(["죽고싶어요"])) > np.count_nonzero(
        loaded.vectorizer.transform(["죽고싶어요"])[:, [not g.startswith("|") for g in loaded.vectorizer.vocab]]
    )


def test_an_unknown_view_is_refused():
    with pytest.raises(ModelFilesError):
        RiskNgramVectorizer(["가"], np.ones(1), 3, ("pictures",))


def test_a_head_with_neighbours_moves_towards_the_nearer_side_and_keeps_them_when_saved(tmp_path):
    rows = read_risk_tsv(TINY)
    labels = label_set(rows)
    config = RiskHeadTrainingConfig(max_iter=60, lexical_weight=0.5)
    x = bigram_embed(rows.texts)
    head = train_risk_head.fit(rows, x, labels, config)
    plain = head.signals(x, rows.texts, thresholds=(0.5, 0.5))
    head.set_neighbours(x, rows.levels, 30.0)
    moved = head.signals(x, rows.texts, thresholds=(0.5, 0.5))
    shift = head.neighbour_shift(x)
    assert np.allclose([head.neighbour_shift(x[i : i + 1])[0] for i in range(5)], shift[:5], atol=1e-4)  # one turn
    for s0, s1, z, level in zip(plain, moved, shift, rows.levels, strict=True):
        assert (s1.p_risk - s0.p_risk) * z >= 0  # moved the way the neighbours lean
        if level != "none":
            assert z >= 0  # its own row is its nearest risk neighbour (cosine 1)
    expected = knn_shift(np.array([s.p_risk for s in plain]), nearest(x, x, rows.levels), 30.0)
    assert np.allclose([s.p_risk for s in moved], expected, atol=1e-3)  # as the cross-author check computes it
    head.save(tmp_path / "knn.npz", watch_threshold=0.5, high_threshold=0.5)
    loaded = RiskHead.load(tmp_path / "knn.npz")
    assert loaded.meta["knn_weight"] == 30.0 and loaded.neighbours[0].shape == (len(rows.texts), 384)
    again = loaded.signals(x, rows.texts)
    assert np.allclose([s.p_risk for s in again], [s.p_risk for s in moved], atol=1e-6)
    with pytest.raises(ValueError):
        head.set_neighbours(x[:3], ["none"] * 3, 1.0)
