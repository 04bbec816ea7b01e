"""The crisis/risk detector: targets on the blind test sets, the development set, idioms, spacing and
typos, context rules, the pattern file.

Figures: ``python -m pipeline.risk_eval tests/data/risk_test.tsv tests/data/risk_holdout.tsv``;
how the sets were written and what was measured when: ``tests/data/risk_test.md``.
"""

from __future__ import annotations

import copy
import csv
import json
import re
import time
import unicodedata
from pathlib import Path

import pytest

from pipeline.care import risk as risk_module
from pipeline.care.risk import CATEGORIES, KINDS, PATTERNS_FILE, assess_risk, expand_macros, load_rules, normalize
from pipeline.risk_eval import evaluate, main, read_cases
from pipeline.types import RISK_LEVELS, Risk

DATA = Path(__file__).parent / "data"
CASES_FILE = DATA / "risk_cases.tsv"
TEST_FILES = {"test": DATA / "risk_test.tsv", "holdout": DATA / "risk_holdout.tsv"}
PATTERNS_PATH = Path(risk_module.__file__).parent / "data" / PATTERNS_FILE

MIN_HIGH_RECALL = 0.95
MAX_FALSE_ALARMS = 0.10
MIN_WATCH_FLAGGED = 0.95


def _cases() -> list[dict[str, str]]:
    with CASES_FILE.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


CASES = _cases()
BY_LEVEL = {level: [c for c in CASES if c["level"] == level] for level in RISK_LEVELS}


def _misses(cases: list[dict[str, str]], ok) -> list[str]:
    return [f"{c['text']} -> {assess_risk(c['text'])}" for c in cases if not ok(assess_risk(c["text"]))]


# --- the blind test sets ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=sorted(TEST_FILES))
def test_set(request):
    return request.param, read_cases(TEST_FILES[request.param])


def test_test_sets_are_well_formed_and_disjoint_from_development(test_set):
    name, rows = test_set
    assert set(rows[0]) == {"text", "level", "category", "note"}
    texts = [r["text"] for r in rows]
    assert len(texts) == len(set(texts)), "duplicate sentences"
    assert not set(texts) & {c["text"] for c in CASES}, "a test sentence is in the development set"
    other = {r["text"] for n, path in TEST_FILES.items() if n != name for r in read_cases(path)}
    assert not set(texts) & other
    for row in rows:
        expected = "-" if row["level"] == "none" else row["category"]
        assert row["category"] in (expected,) and (expected == "-" or expected in CATEGORIES), row
        assert row["note"], row
    levels = [r["level"] for r in rows]
    assert levels.count("none") >= 60 and levels.count("high") >= 70 and levels.count("watch") >= 15
    notes = {r["note"] for r in rows}
    assert {"idiom", "media", "past-resolved"} <= notes


def test_targets_on_the_test_sets(test_set):
    name, rows = test_set
    figures = evaluate(rows)
    assert figures["recall"] >= MIN_HIGH_RECALL, (name, figures["recall"], figures["missed"])
    assert figures["recall_flagged"] >= MIN_HIGH_RECALL, (name, figures["missed"])
    assert figures["false_alarms"] <= MAX_FALSE_ALARMS, (name, figures["false_alarms"], figures["alarmed"])
    assert figures["false_high"] <= 0.02, (name, figures["alarmed"])
    assert figures["category_accuracy"] == 1.0


def test_evaluation_counts_levels_as_documented():
    rows = [
        {"text": "죽고 싶어", "level": "high", "category": "suicide"},
        {"text": "희망이 없어", "level": "high", "category": "suicide"},  # assessed watch: flagged, not detected
        {"text": "아무 의미가 없어", "level": "watch", "category": "suicide"},
        {"text": "배고파 죽겠어요", "level": "none", "category": "-"},
        {"text": "죽고 싶다고 했지만 배고파 죽겠어요", "level": "none", "category": "-"},
    ]
    figures = evaluate(rows)
    assert figures["recall"] == round(2 / 3, 4) and figures["recall_flagged"] == 1.0
    assert figures["high_recall"] == 0.5 and figures["watch_flagged"] == 1.0
    assert figures["false_alarms"] == 0.5 and figures["false_high"] == 0.5
    assert figures["missed"] == ["high: 희망이 없어 -> watch"]


def test_evaluation_command_prints_one_json_line_per_file(capsys):
    assert main([str(TEST_FILES["holdout"]), "--rules-only"]) == 0  # the hybrid needs e5: see test_risk_assessor
    line = json.loads(capsys.readouterr().out)
    assert line["rows"] == len(read_cases(TEST_FILES["holdout"])) and "missed" not in line


# --- the development set -------------------------------------------------------------------------


def test_case_file_is_big_enough_and_well_formed():
    assert CASES and set(CASES[0]) == {"text", "level", "note"}
    assert all(c["level"] in RISK_LEVELS for c in CASES), "unknown level in the TSV"
    texts = [c["text"] for c in CASES]
    assert len(texts) == len(set(texts)), "duplicate sentences"
    assert all(t.strip() == t and t for t in texts)
    assert len(BY_LEVEL["high"]) >= 120
    assert len(BY_LEVEL["watch"]) >= 40
    assert len(BY_LEVEL["none"]) >= 150
    assert sum(c["note"] == "idiom" for c in BY_LEVEL["none"]) >= 50
    high_notes = {c["note"].split("/")[0] for c in BY_LEVEL["high"]}
    assert {"suicide", "self_harm", "harm_to_others", "abuse"} <= high_notes


def test_high_risk_recall():
    misses = _misses(BY_LEVEL["high"], lambda r: r.level == "high")
    recall = 1 - len(misses) / len(BY_LEVEL["high"])
    assert recall >= MIN_HIGH_RECALL, f"recall {recall:.3f}; missed:\n" + "\n".join(misses)


def test_false_alarm_rate():
    alarms = _misses(BY_LEVEL["none"], lambda r: r.level == "none")
    rate = len(alarms) / len(BY_LEVEL["none"])
    assert rate <= MAX_FALSE_ALARMS, f"false alarms {rate:.3f}:\n" + "\n".join(alarms)


def test_watch_cases_are_flagged_for_a_person():
    misses = _misses(BY_LEVEL["watch"], lambda r: r.level in ("watch", "high"))
    flagged = 1 - len(misses) / len(BY_LEVEL["watch"])
    assert flagged >= MIN_WATCH_FLAGGED, f"watch flagged {flagged:.3f}; missed:\n" + "\n".join(misses)


def test_high_cases_carry_their_category():
    expected = {"self_harm": "self_harm", "harm_to_others": "harm_to_others", "abuse": "abuse"}
    wrong = []
    for case in BY_LEVEL["high"]:
        risk = assess_risk(case["text"])
        category = expected.get(case["note"].split("/")[0], "suicide")
        if risk.level == "high" and category not in risk.categories:
            wrong.append(f"{case['text']} -> {risk.categories}, expected {category}")
    assert not wrong, "\n".join(wrong)


def test_reasons_are_phrases_of_the_original_text():
    for case in CASES:
        risk = assess_risk(case["text"])
        assert isinstance(risk, Risk)
        if risk.level == "none":
            assert risk.reasons == () and risk.categories == (), case["text"]
            continue
        assert risk.reasons, case["text"]
        assert all(reason and reason in case["text"] for reason in risk.reasons), (case["text"], risk.reasons)
        assert len(set(risk.reasons)) == len(risk.reasons)
        assert risk.categories and set(risk.categories) <= set(CATEGORIES)
        assert len(set(risk.categories)) == len(risk.categories)


def test_fast_enough():
    texts = [c["text"] for c in CASES]
    assess_risk(texts[0])  # loads and compiles the patterns once
    start = time.perf_counter()
    for text in texts:
        assess_risk(text)
    per_sentence_ms = (time.perf_counter() - start) / len(texts) * 1000
    assert per_sentence_ms < 1.0, f"{per_sentence_ms:.3f} ms per sentence"


# --- idioms --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "배고파 죽겠어요",
        "웃겨 죽겠어",
        "죽을 만큼 맛있어요",
        "피곤해 죽겠다",
        "보고 싶어 죽겠어",
        "좋아 죽겠어",
        "더워 죽겠네",
        "귀찮아 죽겠어",
        "배고파죽겠네",
        "죽겠다 진짜 배고파서",
        "더워서 죽을 것 같아",
        "이 노래 죽이는데",
        "이 집 국물 맛이 죽여준다",
        "킬링타임으로 딱 좋은 영화야",
        "시간 죽이려고 게임했어",
        "죽이 되든 밥이 되든 해 보자",
        "너 죽을래? ㅋㅋ",
        "시험에 목을 매는 것도 지쳤어",
        "그 사람이랑은 선을 긋고 싶어",
        "모기 다 잡아 죽이고 싶다",
        "유서 깊은 절에 다녀왔어요",
        "축구에서 자살골 넣었어",
    ],
)
def test_idioms_raise_no_alarm(text):
    risk = assess_risk(text)
    assert risk.level == "none", risk


@pytest.mark.parametrize(
    "text",
    ["배고파 죽겠어요", "웃겨 죽겠어요", "죽을 만큼 맛있어요", "죽이는 맛이야", "좋아서 미치겠다",
     "행복해서 미치겠어요", "짜증 나 죽겠어", "화 나 죽겠네", "배터리가 죽었어", "게임 캐릭터가 또 죽었어"],
)  # fmt: skip
def test_intensifiers_from_the_issue_are_not_risk(text):
    assert assess_risk(text) == Risk()


@pytest.mark.parametrize("text", ["오늘 밤에 죽을 거야", "집에서 혼자 죽을 거예요", "다리에서 죽을 거야"])
def test_a_place_before_the_verb_is_not_an_intensifier_stem(text):
    # 밤에, 집에서: a noun with a particle, not the predicate of "X-아/어 죽겠다"
    assert assess_risk(text).level == "high"


@pytest.mark.parametrize(
    "text", ["힘들어 죽겠어", "힘들어서 죽을 것 같아요", "괴로워 죽겠다", "부끄러워서 죽고 싶었어"]
)
def test_distress_idioms_are_at_most_watch(text):
    assert assess_risk(text).level in ("none", "watch")


def test_the_intensifier_rule_does_not_hide_a_real_wish():
    assert assess_risk("보고 싶어 죽겠어").level == "none"
    assert assess_risk("죽고 싶어 죽겠어").level == "high"
    assert assess_risk("너무 힘들어 그냥 죽을래").level == "high"
    assert assess_risk("배고파서 죽을 거야").level == "none"
    assert assess_risk("나 오늘 죽을 거야").level == "high"


# --- spacing, typos, normalisation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "죽고싶어",
        "죽고 싶어",
        "죽 고 싶 어",
        "죽고싶다",
        "죽고 싶어요",
        "죽고싶네",
        "죽고 싶은데",
        "죽고시퍼",
        "죽고 싶엉",
        "죽고 십다",
        "죽구 싶어",
        "죽고파",
        "죽고싶어!!!",
        "죽고…싶어",
        "죽고\u3000싶어",  # ideographic space
        "죽\u200b고 싶어",  # zero-width space
        unicodedata.normalize("NFD", "죽고 싶어"),  # decomposed jamo
        "살기 싫다",
        "살기싫어",
        "살기 시러",
        "그만 살고 싶어",
        "그만살래",
        "자 살 하고 싶다",
        "ㅈㅅ하고 싶다",
        "I want to die",
    ],
)
def test_spacing_and_typo_variants_are_high(text):
    risk = assess_risk(text)
    assert risk.level == "high" and risk.categories == ("suicide",), risk
    assert all(reason in text for reason in risk.reasons), risk.reasons


def test_speech_recognition_output_without_punctuation():
    text = "요즘 회사 일도 너무 많고 집에 가도 아무도 없고 그냥 다 끝내고 싶다는 생각만 들어요"
    risk = assess_risk(text)
    assert risk.level == "high" and risk.reasons == ("그냥 다 끝내고 싶",)


def test_normalize_drops_spacing_and_maps_back():
    norm = normalize("죽 고  싶어 ㅠㅠ")
    assert norm.text == "죽고싶어"
    assert norm.original(0, 3) == "죽 고  싶"
    assert normalize("정말?? 그래.. 몰라!").text == "정말.그래몰라."


def test_reason_keeps_the_clients_spacing():
    assert assess_risk("나 진짜 죽 고 싶 어").reasons == ("죽 고 싶",)


# --- levels, categories, context ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("약을 모아 두고 있어요", "suicide"),
        ("번개탄 사 왔어", "suicide"),
        ("손목을 그었어요", "self_harm"),
        ("나를 해치고 싶어", "self_harm"),
        ("그 사람을 해치고 싶어", "harm_to_others"),
        ("팀장 죽여 버리고 싶다", "harm_to_others"),
        ("아빠가 때려요", "abuse"),
        ("남편한테 맞았어요", "abuse"),
        ("선생님한테 성추행을 당했어요", "abuse"),
        ("전 남친이 스토킹해요", "abuse"),
    ],
)
def test_categories(text, category):
    risk = assess_risk(text)
    assert risk.level == "high" and risk.categories == (category,), risk


@pytest.mark.parametrize(
    "text",
    [
        "아무 의미가 없어",
        "희망이 없어요",
        "사는 게 지옥이야",
        "내가 없어지면 누가 알까",
        "다 포기하고 싶어",
        "버틸 힘이 없어",
    ],
)
def test_hopelessness_is_watch(text):
    assert assess_risk(text).level == "watch"


def test_a_passive_death_wish_is_high():
    # Risk v2: the shared vocabulary counts passive death wishes as suicide risk at high (it was watch).
    assert assess_risk("잠들어서 안 깼으면 좋겠다") == Risk("high", ("잠들어서 안 깼으면",), ("suicide",))


def test_multiple_matches_highest_level_wins_and_all_reasons_in_order():
    risk = assess_risk("아빠가 때려요. 희망이 없어요. 그냥 죽고 싶어요")
    assert risk.level == "high"
    assert risk.reasons == ("아빠가 때려", "희망이 없", "죽고 싶")
    assert risk.categories == ("suicide", "abuse")  # in the order of CATEGORIES, not of the text


def test_a_phrase_inside_a_longer_one_is_one_reason():
    assert assess_risk("어제 자살 시도를 했어요").reasons == ("자살 시도",)


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("예전에 죽고 싶었는데 지금은 괜찮아요", "none"),  # distant past, resolved: a look-alike
        ("예전에 죽고 싶었는데 요즘 또 그래요", "high"),  # distant past, but not resolved
        ("지난주에 죽고 싶었는데 지금은 괜찮아요", "watch"),  # recent past, recovered
        ("어제 죽고 싶었어", "high"),  # recent past stays high
        ("작년에 자살 시도를 했었는데 지금은 괜찮아요", "high"),  # a past attempt stays high
        ("죽고 싶은 건 아니에요", "watch"),  # denial
        ("자살할 생각은 없어요", "watch"),
        ("친구가 죽고 싶대요", "watch"),  # hearsay about somebody else
        ("동생이 죽고 싶어 해요", "watch"),  # -어하다: a third person's wish
        ("엄마가 아파서 죽고 싶어요", "high"),  # the client's own wish
        ("친구가 자살했어요", "watch"),
        ("영화에서 주인공이 자살했어", "none"),
        ("뉴스에서 연예인이 극단적 선택을 했대", "none"),
        ("영화 보고 나서 나도 죽고 싶어졌어", "high"),
        ("자살 예방 상담 전화번호 알려주세요", "watch"),
        ("창피해서 죽고 싶었어", "watch"),
        ("이렇게 살기 싫어", "watch"),
        ("서울에서 살기 싫어", "none"),
        ("어릴 때 삼촌한테 성추행 당했어요", "high"),  # childhood abuse disclosed: not softened by "long ago"
        ("회사에서 일하는데 상사가 자꾸 엉덩이를 만져요", "high"),  # the third-person subject is the perpetrator
        ("드라마 보는데 남편이 갑자기 때렸어요", "high"),  # a media word elsewhere does not excuse violence
        ("웹툰에서 악당이 주인공을 협박하는 장면이 나왔어", "none"),
    ],
)
def test_context_rules(text, level):
    assert assess_risk(text).level == level, assess_risk(text)


@pytest.mark.parametrize("text", ["", "   ", "ㅋㅋㅋ", "...", "오늘 날씨 좋다", "안녕하세요"])
def test_nothing_to_see(text):
    assert assess_risk(text) == Risk()


# --- the pattern file ---------------------------------------------------------------------------


def _raw_patterns() -> dict:
    return json.loads(PATTERNS_PATH.read_text(encoding="utf-8"))


def test_every_pattern_compiles_and_has_a_valid_category_level_and_kind():
    data = _raw_patterns()
    macros = {name: ("[가-힣]" if value.startswith("@") else value) for name, value in data["macros"].items()}
    ids = [p["id"] for p in data["patterns"]]
    assert len(ids) == len(set(ids)), "duplicate pattern ids"
    assert len(ids) >= 50
    for pattern in data["patterns"]:
        assert pattern["category"] in CATEGORIES, pattern["id"]
        assert pattern["level"] in ("watch", "high"), pattern["id"]
        assert pattern["kind"] in KINDS, pattern["id"]
        assert pattern.get("note"), f"{pattern['id']}: a note tells reviewers what it catches"
        assert pattern["id"].split(".")[0] in CATEGORIES, pattern["id"]
        compiled = re.compile(expand_macros(pattern["regex"], macros))
        assert not compiled.search(""), pattern["id"]
    for suppressor in data["suppressors"]:
        assert suppressor["action"] in ("drop", "watch")
        assert "(?P<t" in suppressor["regex"], suppressor["id"]
        re.compile(expand_macros(suppressor["regex"], macros))
    rules = load_rules(data)  # the module's own validation
    assert len(rules.patterns) == len(ids)
    assert {c for p in data["patterns"] for c in [p["category"]]} == set(CATEGORIES)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("patterns", 0, "category"), "sadness"),
        (("patterns", 0, "level"), "none"),
        (("patterns", 0, "kind"), "wish"),
        (("patterns", 0, "regex"), "죽고(싶"),
        (("patterns", 0, "regex"), "{NOPE}"),
        (("patterns", 0, "regex"), "(?:싶)?"),
        (("suppressors", 0, "regex"), "목을매"),
        (("context_rules", 0, "level"), "high"),
    ],
)
def test_invalid_pattern_files_are_rejected(path, value):
    data = copy.deepcopy(_raw_patterns())
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValueError):
        load_rules(data)
