"""The Korean risk corpus (``training/data/risk/``): format, vocabulary, split hygiene and variants."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from collections import Counter
from pathlib import Path

import pytest

from pipeline.types import RISK_CATEGORIES, RISK_LEVELS

DATA = Path(__file__).resolve().parents[1] / "training" / "data" / "risk"

#: The shared risk vocabulary (pipeline/types.py), in the order several categories are listed.
CATEGORIES = RISK_CATEGORIES


def _load_script():
    spec = importlib.util.spec_from_file_location("risk_make_variants", DATA / "make_variants.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


mv = _load_script()


def read(name):
    path = DATA / name
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", f"{name} must end with a newline"
    header, *body = lines[:-1]
    rows = []
    for n, line in enumerate(body, start=2):
        cells = line.split("\t")
        assert len(cells) == 6, f"{name}:{n}: expected 6 tab-separated cells, got {len(cells)}"
        rows.append(dict(zip(header.split("\t"), cells, strict=True)))
    assert header == "text\tlevel\tcategory\tgroup\tsource\tauthor", f"{name}: header {header!r}"
    return rows


TRAIN, DEV = read("train.tsv"), read("dev.tsv")
ALL = TRAIN + DEV


def categories(row):
    return [] if row["category"] == "-" else row["category"].split(",")


def test_every_row_uses_the_shared_vocabulary():
    assert set(mv.LEVELS) == set(RISK_LEVELS)
    assert mv.CATEGORIES == CATEGORIES
    for row in ALL:
        assert row["text"] and row["text"] == row["text"].strip(), row
        assert row["level"] in RISK_LEVELS, row
        assert (row["level"] == "none") == (row["category"] == "-"), row
        cats = categories(row)
        assert all(c in CATEGORIES for c in cats), row
        assert cats == sorted(set(cats), key=CATEGORIES.index), f"categories out of order: {row}"
        assert cats != ["imminent"], f"imminent must sit beside a main category: {row}"
        assert row["source"] in mv.SOURCES, row
        assert row["author"] in {author for _, author in mv.AUTHORS}, row


def test_the_corpus_is_big_enough_and_mostly_hand_written():
    assert len(ALL) >= 3000
    written = [r for r in ALL if r["source"] == "written"]
    assert len(written) >= 1800
    assert len(ALL) - len(written) <= 0.42 * len(ALL), "automatic variants must stay near 40 % at most"
    none_share = sum(r["level"] == "none" for r in ALL) / len(ALL)
    assert none_share >= 0.35, f"hard negatives are only {none_share:.0%} of the rows"


def test_no_text_appears_twice():
    counts = Counter(r["text"] for r in ALL)
    assert [t for t, n in counts.items() if n > 1] == []


def test_no_group_crosses_train_and_dev():
    assert {r["group"] for r in TRAIN}.isdisjoint({r["group"] for r in DEV})


def test_every_group_has_its_written_sentence_and_variants_keep_its_label():
    by_group = {}
    for row in ALL:
        by_group.setdefault(row["group"], []).append(row)
    for group, rows in by_group.items():
        written = [r for r in rows if r["source"] == "written"]
        assert written, f"group {group} has variants but no written sentence"
        labels = {(r["level"], r["category"]) for r in written}
        for variant in (r for r in rows if r["source"] != "written"):
            assert (variant["level"], variant["category"]) in labels, variant


@pytest.mark.parametrize("part", ["train", "dev"])
def test_every_category_and_level_is_in_train_and_dev(part):
    rows = TRAIN if part == "train" else DEV
    present = {c for r in rows for c in categories(r)}
    assert present == set(CATEGORIES), f"{part} lacks {set(CATEGORIES) - present}"
    assert {r["level"] for r in rows} == set(RISK_LEVELS)


def test_dev_is_about_fifteen_percent():
    assert 0.12 <= len(DEV) / len(ALL) <= 0.18


def test_split_files_are_what_the_script_makes_from_written_tsv(tmp_path):
    """Editing written.tsv without rerunning make_variants.py would leave train/dev stale."""
    assert mv.main(["--out", str(tmp_path)]) == 0
    for name in ("train.tsv", "dev.tsv"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), f"{name} is stale"
    written = {r.text for r in mv.read_all_written(DATA)}
    assert written == {r["text"] for r in ALL if r["source"] == "written"}
    assert len(written) > len(mv.read_written(DATA / "written.tsv")), "the other authors' files are missing"


def test_every_author_is_in_train_and_dev_and_keeps_its_own_rows():
    authors = {author for _, author in mv.AUTHORS if (DATA / _).exists()}
    assert {r["author"] for r in TRAIN} == authors == {r["author"] for r in DEV}
    for name, author in mv.AUTHORS:
        if (DATA / name).exists():
            texts = {r.text for r in mv.read_written(DATA / name, author)}
            mine = {r["text"] for r in ALL if r["author"] == author and r["source"] == "written"}
            assert mine <= texts and len(mine) >= 0.95 * len(texts), author


def test_near_duplicate_sentences_share_a_group():
    groups = mv.assign_groups(["죽고 싶어요 진짜로", "진짜로 죽고 싶어요", "오늘 점심은 김치찌개 먹었어"])
    assert groups[0] == groups[1] != groups[2]


def test_bad_labels_are_refused():
    for level, category in [("high", "-"), ("none", "suicide"), ("high", "imminent"), ("high", "imminent,suicide")]:
        with pytest.raises(ValueError):
            mv.check_label(level, category)
    with pytest.raises(ValueError, match="unknown level"):
        mv.check_label("danger", "suicide")


def test_hangul_round_trips_through_jamo():
    for ch in "가힣죽싶없옥삶":
        assert mv.compose(*mv.decompose(ch)) == ch
    assert mv.decompose("a") is None


@pytest.mark.parametrize("name", sorted(mv.VARIANTS))
def test_each_variant_changes_the_text_a_little(name):
    text = "음 그냥 요즘은 없어지고 싶다는 생각이 자꾸 들어요 어떡해요"
    func = mv.VARIANTS[name][0]
    outs = {func(text, random.Random(seed)) for seed in range(20)}
    assert None not in outs and text not in outs
    for out in outs:
        if name in ("asr_space", "asr_nospace"):
            assert out.replace(" ", "") == text.replace(" ", "")
        else:
            assert abs(len(out) - len(text)) <= 10, out


def test_sound_spelling_follows_korean_pronunciation():
    assert mv.asr_sound("싶어", random.Random(0)) == "시퍼"
    assert mv.asr_sound("없어", random.Random(0)) == "업써"
    assert mv.asr_sound("좋아", random.Random(0)) == "조아"
    assert mv.asr_sound("먹는", random.Random(0)) == "멍는"


def _bare(text):
    return "".join(ch for ch in text if ch.isalnum())


TESTS_DATA = DATA.parents[2] / "tests" / "data"

#: Development sets whose sentences were moved into the corpus on purpose (``import_written.py``):
#: they are spent as blind measures and are training data now.
IMPORTED = ("risk_dev2", "risk_dev3", "risk_dev4")


def evaluation_sets():
    """Every risk evaluation file under tests/data the corpus must not contain.

    ``risk_*.tsv`` files anywhere (sub-folders included), and every ``.tsv`` or ``.jsonl`` file in
    a ``holdout*`` or ``risk_dev*`` folder (the frozen holdout ``holdout_v2`` and blind development
    sets such as ``risk_dev4``), except the imported development sets. ``risk_head_tiny.tsv`` is
    not an evaluation set: it is the training data of a unit test's tiny head.
    """
    found = {p for p in TESTS_DATA.rglob("risk_*.tsv") if p.name != "risk_head_tiny.tsv"}
    for folder in (*TESTS_DATA.glob("holdout*"), *TESTS_DATA.glob("risk_dev*")):
        if folder.is_dir() and folder.name not in IMPORTED:
            found |= {p for p in folder.rglob("*") if p.suffix in (".tsv", ".jsonl")}
    return sorted(found)


def _texts(path):
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if path.suffix == ".jsonl":
        return [turn["text"] for line in lines for turn in json.loads(line).get("turns", [])]
    return [line.split("\t", 1)[0] for line in lines[1:]]


def test_the_evaluation_sets_include_the_frozen_holdout():
    names = {p.relative_to(TESTS_DATA).parts[0] for p in evaluation_sets()}
    assert "holdout_v2" in names, "the frozen holdout moved; point evaluation_sets() at it"


#: Sentences a blind writer wrote word for word as an earlier corpus author had, found after the set
#: was run (everyday sentences: stroke signs, a drama scene, quitting a part-time job). They stay in
#: the set so its recorded figures can be rerun; the set's README says so.
COINCIDENT = {
    "risk_dev7/sentences.tsv": {
        "아버지가 갑자기 말이 어눌해지고 한쪽 얼굴이 처졌어요",
        "드라마에서 주인공이 옥상에서 뛰어내리는 장면 너무 슬펐어",
        "알바 그만두고 싶은데 사장님한테 어떻게 말하지",
    },
}


def test_no_sentence_of_the_risk_test_sets_is_in_the_corpus():
    """Training on an evaluation sentence would inflate every score measured on it.

    Only counts are reported, so that a blind set stays blind. A one-word turn (괜찮아요, 네) is a
    stock reply any two authors write alike, not a copied sentence, so it is not counted.
    """
    corpus = {_bare(r["text"]) for r in ALL}
    for path in evaluation_sets():
        known = COINCIDENT.get(path.relative_to(TESTS_DATA).as_posix(), set())
        leaked = [t for t in _texts(path) if len(t.split()) > 1 and _bare(t) in corpus and t not in known]
        assert leaked == [], f"{path.relative_to(TESTS_DATA)}: {len(leaked)} sentences are also in the training corpus"


def test_the_leak_check_reads_blind_development_folders(tmp_path, monkeypatch):
    """A risk_dev9-style folder (sentences.tsv, conversations.jsonl) is checked, an imported one is not."""
    for name in ("risk_dev9", "risk_dev2", "holdout_v9"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "sentences.tsv").write_text("text\tlevel\tcategory\n", encoding="utf-8")
    (tmp_path / "risk_dev9" / "conversations.jsonl").write_text(
        json.dumps({"turns": [{"text": "하나"}, {"text": "둘"}]}) + "\n", encoding="utf-8"
    )
    monkeypatch.setattr(sys.modules[__name__], "TESTS_DATA", tmp_path)
    found = [p.relative_to(tmp_path).as_posix() for p in evaluation_sets()]
    assert found == ["holdout_v9/sentences.tsv", "risk_dev9/conversations.jsonl", "risk_dev9/sentences.tsv"]
    assert _texts(tmp_path / "risk_dev9" / "conversations.jsonl") == ["하나", "둘"]


def test_datasheet_counts_match_the_files():
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    table = mv.stats([mv.Row(**r) for r in TRAIN], [mv.Row(**r) for r in DEV])
    assert table in readme, "README.md count tables are stale: paste `make_variants.py --stats` output"
