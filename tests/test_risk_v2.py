"""Risk rules v2: what the first detector missed, the new categories, imminence as a modifier, and
tolerance of speech-recognition errors in key words (jamo-level near matches).

The examples marked "brief" are the unseen spoken statements that rules v1 missed; the others were
written for this file (never taken from a holdout set).
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest

from pipeline.care import risk as risk_module
from pipeline.care.risk import (
    CATEGORIES,
    MODIFIER_CATEGORIES,
    PATTERNS_FILE,
    assess_risk,
    compose,
    correct_near_misses,
    decompose,
    load_rules,
    near_variants,
    normalize,
)

DATA = Path(__file__).parent / "data"
PATTERNS_PATH = Path(risk_module.__file__).parent / "data" / PATTERNS_FILE

# (text, level, the category that must be among the assessed ones)
BRIEF = [
    ("다리 위에 서 있어요 이제 그만하려고요", "high", "suicide"),
    ("내일 아침에 눈을 뜨지 않았으면 좋겠어요", "high", "suicide"),
    ("아파트 옥상 문 비밀번호를 알아 놨어요 거기 올라가면 다 끝날 것 같아서", "high", "suicide"),
    ("창고에 농약이 있는데 요즘 자꾸 그쪽을 쳐다보게 돼요", "high", "suicide"),
    ("수면제 한 통을 다 먹으면 죽을 수 있는지 그게 궁금해요", "high", "suicide"),
    ("엄마한테 편지를 써서 서랍에 넣어 놨어요 나중에 제가 없을 때 읽으라고", "high", "suicide"),
    ("요즘은 자꾸 나도 그냥 아빠 따라가고 싶다는 생각이 들어요", "high", "suicide"),
    ("애가 말을 안 들으면 저도 모르게 손이 올라가요 어제는 애 팔에 멍이 들었어요", "high", "child_at_risk"),
    ("옆집에서 매일 밤 애 때리는 소리랑 우는 소리가 들려요", "high", "child_at_risk"),
    ("나 괴롭힌 애들 다 찾아가서 똑같이 갚아 줄 거예요 방법도 다 생각해 놨어요", "high", "harm_to_others"),
    ("애기가 밤새 우는데 창문 밖으로 던져 버리고 싶다는 생각이 자꾸 들어요 너무 무서워요", "high", "child_at_risk"),
    ("예전에 송목을 그은 적이 있는데", "high", "self_harm"),
    ("아끼던 물건들을 친구들한테 다 나눠줬어요", "high", "suicide"),
    ("다들 그동안 고마웠어 마지막으로 인사하고 싶었어", "high", "suicide"),
    ("모아 둔 약도 많은데 뭐", "high", "suicide"),
    ("애가 열이 40도가 넘는데 축 처져서 반응이 없어요", "high", "medical"),
]

# Written for this file: other wordings of the same situations.
MORE = [
    ("지금 한강 다리 위에 올라와 있어요", "high", "imminent"),
    ("손에 수면제를 쥐고 있어요", "high", "imminent"),
    ("오늘 밤에 뛰어내릴 거예요", "high", "imminent"),
    ("약을 방금 한 통 다 먹었어요", "high", "medical"),
    ("농약 마셨어요", "high", "medical"),
    ("할머니가 쓰러졌는데 안 일어나세요", "high", "medical"),
    ("아빠가 숨을 안 쉬어요", "high", "medical"),
    ("엄마가 밥을 안 줘요", "high", "abuse"),
    ("아빠가 며칠째 집에 안 들어와요 밥도 없어요", "high", "abuse"),
    ("남편이 나가 죽으라고 해요", "high", "abuse"),
    ("학교에서 일진들이 돈을 뺏어요", "high", "school_violence"),
    ("반에서 애들이 저를 때려요", "high", "school_violence"),
    ("아이를 세게 흔들었어요 울음을 안 그쳐서", "high", "child_at_risk"),
    ("아기를 떨어뜨릴까 봐 너무 무서워요 자꾸 그런 생각이 들어요", "high", "child_at_risk"),
    ("제가 없으면 우리 고양이 좀 평생 키워 줄 수 있어?", "high", "suicide"),
    ("다들 잘 있어 이게 내 마지막 인사야", "high", "suicide"),
    ("엄마 목소리 마지막으로 듣고 싶어서 전화했어요", "high", "suicide"),
    ("먼저 간 아내 따라가고 싶어요", "high", "suicide"),
    ("몇 층에서 떨어지면 확실히 죽어요", "high", "suicide"),
    ("타이레놀 몇 알 먹으면 죽어요", "high", "suicide"),
    ("잘못하면 벌로 제 팔을 꼬집어요 피날 때까지", "high", "self_harm"),
    ("그 새끼 집 앞에서 기다렸다가 패버릴 거예요", "high", "harm_to_others"),
    ("치매 걸린 엄마 모시는 게 너무 힘들어요 한계예요", "watch", "caregiver"),
    ("아픈 아빠 간병하느라 지쳐", "watch", "caregiver"),
]

# Everyday sentences that share words with the new patterns.
LOOK_ALIKES = [
    "배고파 죽겠어요",
    "웃겨 죽겠어",
    "회사 그만두고 싶어요",
    "옥상에서 고기 구워 먹었어요",
    "다리 위에서 사진 찍었어요 야경이 예뻤어요",
    "한강에서 치킨 먹고 다 끝나고 집에 왔어",
    "애가 놀이터에서 넘어져서 팔에 멍이 들었어요",
    "빚은 다음 달에 꼭 갚아 줄 거예요",
    "은혜는 꼭 똑같이 갚아 줄게",
    "여행 가는 동안 강아지 좀 맡아 줄 수 있어?",
    "오늘 밤에 공부할 거예요",
    "열이 38도라서 해열제 먹였어요",
    "제 글에 반응이 없어서 속상해요",
    "이사 가면서 아끼던 물건들을 친구들한테 나눠 줬어요",
    "졸업식 날 마지막으로 인사하고 왔어요",
    "엄마한테 편지 써서 생일 선물이랑 같이 드렸어요",
    "나 먼저 갈게 내일 봐",
    "감기약 먹으면 졸린 게 정상인가요",
    "애들이 공 던지고 놀아요",
    "아기가 밤새 울어서 너무 힘들어요",
    "엄마 따라 시장에 가고 싶어요",
    "나도 아빠 따라 낚시 가고 싶어",
    "가슴이 찢어질 듯 아파요 헤어졌어요",
    "반 애들이랑 축구하다가 다리를 다쳤어요",
    "옆집 애가 우는 소리가 시끄러워요",
    "벌 받는 것 같아요 요즘 일이 안 풀려서",
    "할아버지 간병하면서 많이 배웠어요",
    "진짜 살기 좋은 동네예요",
    "자살 예방 캠페인에 참여했어요",
]


@pytest.mark.parametrize(("text", "level", "category"), BRIEF + MORE)
def test_missed_statements_are_now_caught_with_their_category(text, level, category):
    risk = assess_risk(text)
    assert risk.level == level and category in risk.categories, risk
    assert all(reason in text for reason in risk.reasons), risk.reasons


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_of_the_new_patterns_stay_none(text):
    assert assess_risk(text).level == "none", assess_risk(text)


def test_categories_follow_the_shared_vocabulary_order():
    risk = assess_risk("아빠가 때려요. 오늘 밤에 죽을 거예요")
    assert risk.categories == ("suicide", "abuse", "imminent")
    assert CATEGORIES.index("suicide") < CATEGORIES.index("abuse") < CATEGORIES.index("imminent")


@pytest.mark.parametrize("text", ["오늘 밤에 할 거예요", "지금 옥상이에요", "방금 먹었어요"])
def test_imminence_alone_raises_nothing(text):
    assert assess_risk(text).level == "none"


def test_imminence_is_reported_beside_the_main_category():
    risk = assess_risk("유서 다 썼어요 오늘 밤에 할 거예요")
    assert risk.level == "high" and risk.categories == ("suicide", "imminent")


def test_imminent_never_stands_alone_on_the_development_set():
    with (DATA / "risk_cases.tsv").open(encoding="utf-8", newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    for text in texts + [t for t, _, _ in BRIEF + MORE]:
        categories = set(assess_risk(text).categories)
        if categories & MODIFIER_CATEGORIES:
            assert categories - MODIFIER_CATEGORIES and assess_risk(text).level == "high", text


def test_past_self_harm_told_now_stays_high_but_recovered_is_watch():
    assert assess_risk("예전에 손목을 그은 적이 있어요").level == "high"
    assert assess_risk("예전엔 손목을 긋곤 했어 지금은 안 그래").level == "watch"


def test_somebody_elses_child_bullied_at_school_is_watch():
    risk = assess_risk("아이가 학교에서 괴롭힘을 당하는 건 아닌지 걱정돼요")
    assert risk.level == "watch" and risk.categories == ("school_violence",)


# --- recognition-error tolerance ------------------------------------------------------------------


def test_jamo_decomposition_round_trips():
    assert decompose("손") == ("ㅅ", "ㅗ", "ㄴ")
    assert decompose("가") == ("ㄱ", "ㅏ", "")
    assert compose("ㅅ", "ㅗ", "ㅇ") == "송"
    for syllable in "가각힣손목자살":
        assert compose(*decompose(syllable)) == syllable
    with pytest.raises(ValueError):
        decompose("a")


def test_near_variants_change_exactly_one_confusable_jamo():
    groups = {"final": ["ㄴㅇㅁ"], "initial": ["ㅈㅉㅊ"]}
    variants = near_variants("손목", groups)
    assert {"송목", "솜목"} <= variants and "손목" not in variants
    assert "송몽" not in variants  # two substitutions
    assert "선목" not in variants  # ㅗ/ㅓ is not a confusable group here
    assert near_variants("자살", groups) == {"짜살", "차살"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("예전에 송목을 그은 적이 있는데", "송목을 그은"),
        ("솜목을 또 그었어요", "솜목을 또 그었"),
        ("짜살하고 싶어", "짜살"),
    ],
)
def test_a_recognition_error_in_a_key_word_is_still_caught(text, reason):
    risk = assess_risk(text)
    assert risk.level == "high" and reason in risk.reasons, risk  # quoted as the transcript had it


@pytest.mark.parametrize("text", ["진짜 살기 좋은 동네예요", "송편 만들었어요", "쏭목을 그었어요"])
def test_near_misses_need_one_word_and_one_jamo(text):
    # 진짜 살기: 짜살 spans two words; 쏭목: two substitutions away from 손목
    assert assess_risk(text).level == "none"


def test_near_miss_correction_keeps_the_map_to_the_original():
    norm = correct_near_misses(normalize("예전에 송목을 그었어"))
    assert "손목을그었어" in norm.text
    start = norm.text.index("손목")
    assert norm.original(start, start + 2) == "송목"


def test_no_near_miss_fires_on_the_look_alikes():
    rows = []
    for name in ("risk_cases.tsv", "risk_test.tsv"):
        with (DATA / name).open(encoding="utf-8", newline="") as f:
            rows += [r for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if r["level"] == "none"]
    fired = [r["text"] for r in rows if correct_near_misses(normalize(r["text"])).text != normalize(r["text"]).text]
    assert not fired


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("keywords", ["손"]),
        ("keywords", ["son"]),
        ("confusable", {"initial": ["ㅏㅓ"]}),
        ("confusable", {"coda": ["ㄴㅇ"]}),
    ],
)
def test_invalid_near_miss_settings_are_rejected(key, value):
    data = copy.deepcopy(json.loads(PATTERNS_PATH.read_text(encoding="utf-8")))
    data["near_misses"][key] = value
    with pytest.raises(ValueError):
        load_rules(data)
