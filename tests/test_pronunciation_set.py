"""The labelled pronunciation set: labels that point at real syllables, errors planted as labelled,
and the frozen ``holdout_v2`` and ``holdout_v3`` that stay frozen (their SHA-256 are in the set's README).

These tests never score the holdout (that is reported by ``make bench-pronounce``, not asserted):
they guard the files, so that an edit that would make the holdout no longer blind fails loudly.
"""

from __future__ import annotations

import hashlib
import json
import re

from pipeline.pronunciation import variants
from pipeline.pronunciation.g2p import pronounce
from tests.data.pronunciation_set import generate

#: SHA-256 of the holdout_v2 manifest rows and audio (``holdout_digest``); also in the README.
HOLDOUT_V2_SHA256 = "408aff720a6b54cc65902c78ed05275ade94aba15bd0b913baf346ce24124f0a"
#: The same for holdout_v3 (session 5: the ten sentences v2 left out of both splits).
HOLDOUT_V3_SHA256 = "43084e0366ed95418e16765808472ac1906bc91e505222807aa2631d581cdc86"


def _manifest() -> list[dict]:
    path = generate.HERE / "manifest.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def holdout_digest(rows: list[dict], split: str = "holdout_v2") -> str:
    """SHA-256 over one holdout's rows (as JSON, in file order) and each of their audio files."""
    digest = hashlib.sha256()
    for row in rows:
        if row["split"] != split:
            continue
        digest.update(json.dumps(row, ensure_ascii=False, sort_keys=True).encode())
        digest.update((generate.AUDIO / row["file"]).read_bytes())
    return digest.hexdigest()


def test_holdout_v2_is_frozen_and_its_digest_is_in_the_readme():
    rows = _manifest()
    assert holdout_digest(rows) == HOLDOUT_V2_SHA256
    readme = (generate.HERE / "README.md").read_text(encoding="utf-8")
    assert HOLDOUT_V2_SHA256 in readme


def test_holdout_v3_is_frozen_and_its_digest_is_in_the_readme():
    rows = _manifest()
    assert holdout_digest(rows, "holdout_v3") == HOLDOUT_V3_SHA256
    readme = (generate.HERE / "README.md").read_text(encoding="utf-8")
    assert HOLDOUT_V3_SHA256 in readme


def test_holdout_v3_is_exactly_the_sentences_v2_left_out_and_shares_none():
    rows = _manifest()
    by_split: dict[str, set[str]] = {}
    texts: dict[str, set[str]] = {}
    for row in rows:
        by_split.setdefault(row["split"], set()).add(row["sentence_id"])
        texts.setdefault(row["split"], set()).add(row["text"])
    left_out_by_v2 = {
        s
        for s in generate.SENTENCES
        if generate.v2_split_of(s) == "calibration"
        and s not in generate.SENTENCES[: generate.V1_SENTENCES]
        and s not in generate.EXTRA_CALIBRATION
    }
    assert by_split["holdout_v3"] == left_out_by_v2 == set(generate.HOLDOUT_V3)
    assert len(generate.HOLDOUT_V3) == 10
    for a, b in (("holdout_v3", "calibration"), ("holdout_v3", "holdout_v2"), ("holdout_v2", "calibration")):
        assert not by_split[a] & by_split[b] and not texts[a] & texts[b], (a, b)
    v3_errors = [e for r in rows if r["split"] == "holdout_v3" for e in r["errors"]]
    assert len(v3_errors) >= 40
    assert {e["kind"] for e in v3_errors} == {"rule_not_applied", "substituted", "omitted", "inserted"}


def test_the_manifest_is_what_the_generator_builds():
    assert _manifest() == generate.build_rows()


def test_set_is_split_by_sentence_and_the_holdout_has_enough_planted_errors():
    rows = _manifest()
    assert {r["split"] for r in rows} == {"calibration", "holdout_v2", "holdout_v3"}
    for row in rows:
        assert row["split"] == generate.split_of(row["sentence_id"])  # one split per sentence
        assert (generate.AUDIO / row["file"]).exists()
    first_version = set(generate.SENTENCES[: generate.V1_SENTENCES])
    assert all(r["split"] == "calibration" for r in rows if r["sentence_id"] in first_version)
    holdout_errors = [e for r in rows if r["split"] == "holdout_v2" for e in r["errors"]]
    assert len(holdout_errors) >= 50
    assert {e["kind"] for e in holdout_errors} == {"rule_not_applied", "substituted", "omitted", "inserted"}
    size = sum((generate.AUDIO / r["file"]).stat().st_size for r in rows)
    assert size < 10_000_000


def test_every_label_says_exactly_what_was_synthesised():
    for row in _manifest():
        hangul = pronounce(row["text"]).hangul
        if row["kind"] == "correct":
            assert row["said"] == hangul and row["errors"] == []
            continue
        (error,) = row["errors"]
        k = error["index"]
        assert hangul[k] == error["expected"] != " "
        assert row["said"] == hangul[:k] + error["heard"] + hangul[k + 1 :]
        if error["kind"] == "rule_not_applied":
            assert re.fullmatch(r"제\d+항 \S+", error["rules"][0])


def test_planted_rule_errors_read_the_spelling():
    errors = {e["kind"]: e for e in generate.planted_errors("국물이 정말 시원해요.", 0)}
    assert errors["rule_not_applied"]["said"].startswith("국무리")
    assert errors["rule_not_applied"]["errors"][0]["rules"] == ["제18항 비음화"]
    assert generate.planted_errors("같이 가요.", 0)[0]["said"] == "가티 가요"
    # Lateralisation not applied: the ㄴ kept before ㄹ ([신라], not [실라]).
    assert generate.planted_errors("신라 시대", 0)[0]["said"] == "신라 시대"


def test_learner_variants_cover_the_confusions_and_leave_merged_vowels_alone():
    said = {v.said for v in variants.competitors(pronounce("국물"))}
    assert {"국물", "쿵물", "꿍물", "긍물", "궁물물"} <= said  # rule undone, ㄱ/ㅋ/ㄲ, ㅜ/ㅡ, stumble
    assert "물" in said  # 궁 dropped
    assert [new for new, _ in variants.substitutions("개")] == ["캐", "깨"]  # ㅐ/ㅔ: merged, never "wrong"
    one_syllable_words = variants.competitors(pronounce("책 개"))
    assert not [v for v in one_syllable_words if v.kind == "omitted"]
