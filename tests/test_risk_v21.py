"""Risk v2.1: imminence read beside the classifier, denials of ideation, and the classifier capped
where the rules recognised a look-alike.

Every example here was written for this file (none comes from a development or holdout set).
"""

from __future__ import annotations

import pytest

from pipeline.care.assessor import ClassifierSignal, combine
from pipeline.care.risk import assess_details, assess_risk
from pipeline.types import Risk


def signal(level: str, category: str = "suicide", p_risk: float = 0.9, p_high: float = 0.8) -> ClassifierSignal:
    return ClassifierSignal(p_risk=p_risk, p_high=p_high, category=category, level=level)


def hybrid(text: str, classifier: ClassifierSignal | None) -> Risk:
    details = assess_details(text)
    return combine(details.risk, classifier, softened=details.softened, imminent=details.imminent)


# --- imminence: the rules know when, the classifier knows what ------------------------------------

IMMINENT = [
    ("지금 철로 위에 있어", "지금 철로 위에 있"),
    ("벌써 옥상이야", "벌써 옥상이야"),
    ("오늘 새벽 세 시에 할 거예요", "오늘 새벽 세 시에 할 거"),
    ("졸업식 끝나는 날 하려고요", "끝나는 날 하려"),
    ("오늘 저녁에 하기로 했어요", "오늘 저녁에 하기로"),
]


@pytest.mark.parametrize(("text", "phrase"), IMMINENT)
def test_an_imminence_phrase_is_found_even_without_another_rule(text, phrase):
    details = assess_details(text)
    assert details.imminent == (phrase,)
    assert details.risk == Risk()  # alone it raises nothing (오늘 밤에 할 거예요 may be homework)


@pytest.mark.parametrize(("text", "phrase"), IMMINENT)
def test_imminence_beside_a_classifier_watch_is_high_and_imminent(text, phrase):
    risk = hybrid(text, signal("watch", p_risk=0.85, p_high=0.4))
    assert risk.level == "high"
    assert risk.categories == ("suicide", "imminent")
    assert phrase in risk.reasons and any("자동 분류" in r for r in risk.reasons)


def test_imminence_beside_a_rules_watch_is_high_without_the_classifier():
    risk = hybrid("다 부질없어요 오늘 밤에 끝낼 거예요", None)
    assert risk.level == "high" and "imminent" in risk.categories and "suicide" in risk.categories


def test_imminence_with_nothing_else_stays_none():
    assert hybrid("오늘 새벽 세 시에 할 거예요", None) == Risk()
    assert hybrid("오늘 새벽 세 시에 할 거예요", signal("none", p_risk=0.2, p_high=0.1)) == Risk()


def test_everyday_plans_are_not_imminence():
    for text in ("오늘 밤에 숙제 할 거야", "오늘 저녁에 삼겹살 먹기로 했어", "다음 주 일요일에 할 거야"):
        assert assess_details(text).imminent == (), text


def test_imminence_is_not_added_twice_when_the_rules_already_said_high():
    risk = hybrid("오늘 밤에 뛰어내릴 거예요", signal("high"))
    assert risk.level == "high" and risk.categories.count("imminent") == 1


# --- denials and the classifier capped by a recognised look-alike ----------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "자살할 생각은 한 번도 해 본 적 없어요",
        "죽고 싶다는 마음은 전혀 없어요 그냥 피곤해요",
        "자해할 생각은 절대 없어",
    ],
)
def test_a_denial_of_ideation_is_watch_and_caps_the_classifier(text):
    details = assess_details(text)
    assert details.risk.level == "watch" and details.softened
    assert hybrid(text, signal("high", p_risk=0.99, p_high=0.97)).level == "watch"


@pytest.mark.parametrize("text", ["죽고 싶지 않은 날이 없어요", "죽고 싶다는 생각이 안 든 적이 없어"])
def test_a_double_negative_is_still_high(text):
    assert assess_risk(text).level == "high"


def test_a_risk_phrase_the_rules_kept_high_is_not_capped():
    assert hybrid("그냥 죽고 싶어요", signal("watch")).level == "high"


def test_a_classifier_only_signal_still_gives_at_least_watch():
    risk = hybrid("요즘은 눈 뜨는 게 제일 싫어요", signal("watch", p_risk=0.8, p_high=0.3))
    assert risk.level in ("watch", "high") and any("자동 분류" in r for r in risk.reasons)


# --- farewell acts and places, written for this file -------------------------------------------------

FAREWELL = [
    ("적금 통장이랑 도장 둔 곳 누나한테 적어 줬어요 내가 없어도 찾을 수 있게", "high"),
    ("우리 토끼 돌봐 줄 사람 구해요 앞으로 제가 못 챙길 것 같아서", "high"),
    ("학교 옥상 문이 잠겨 있는지 쉬는 시간마다 가 봐요", None),  # at least watch
    ("그 육교 난간 생각보다 낮던데", None),
]


@pytest.mark.parametrize(("text", "level"), FAREWELL)
def test_farewell_acts_and_scouting_a_place_are_flagged(text, level):
    risk = assess_risk(text)
    assert risk.level == (level or risk.level) and risk.level in ("watch", "high")
    assert "suicide" in risk.categories


@pytest.mark.parametrize(
    "text",
    [
        "이사 가는 집이 원룸이라 고양이 맡아 줄 사람 찾아요 이제 못 키우게 돼서",
        "혹시 몰라서 현관 비밀번호 친구한테 알려 줬어 택배 받아 달라고",
        "엄마한테 카드 비밀번호 알려 줬어 장 봐 달라고",
        "한강 가는 버스 타고 있어 치킨 먹으러",  # an imminence phrase alone raises nothing
    ],
)
def test_everyday_look_alikes_of_the_farewell_patterns_stay_none(text):
    assert assess_risk(text) == Risk()


def test_on_the_way_to_a_bridge_is_imminence():
    assert assess_details("서강대교 가는 택시 타고 있어요").imminent
    assert assess_details("지금 다리 한가운데쯤이에요").imminent


@pytest.mark.parametrize(
    "text",
    [
        "메이플에서 보스한테 세 번 죽었어",
        "게임에서 다리에서 뛰어내렸더니 살았어",
        "반 애들이랑 농구 하다가 공에 맞았어요",
    ],
)
def test_games_and_ball_games_are_look_alikes(text):
    assert assess_risk(text) == Risk()


def test_a_blow_in_a_ball_game_on_purpose_still_counts():
    assert assess_risk("반 애들이 축구하다가 일부러 공으로 때려요").level == "high"
    assert assess_risk("게임하다 말고 옥상에서 뛰어내리고 싶었어").level == "high"


def test_the_assessor_a_turn_calls_passes_imminence_to_the_combination():
    from pipeline.care.assessor import RiskAssessor

    class Seeing(RiskAssessor):
        def classify(self, text):
            return signal("watch", p_risk=0.83, p_high=0.5)

    risk = Seeing().assess("오늘 새벽 세 시에 할 거예요")
    assert risk.level == "high" and risk.categories == ("suicide", "imminent")
    assert RiskAssessor().assess("오늘 새벽 세 시에 할 거예요") == Risk()  # rules alone: nothing


# --- split words: a match across a space must not start inside another word ----------------------


@pytest.mark.parametrize(
    "text",
    ["저는 혼자 살아요 고양이랑", "여자 살인 사건 기사 읽었어요", "남자 살 빼는 운동 알려 주세요"],
)
def test_a_syllable_glued_to_another_word_does_not_start_a_risk_word(text: str) -> None:
    """Spaces are ignored so that split words are found, but 혼자 살아요 holds no 자살."""
    assert assess_risk(text).level == "none"


@pytest.mark.parametrize("text", ["자 살 생각이 자꾸 나요", "그냥죽고 싶다 진짜"])
def test_split_and_merged_risk_words_are_still_found(text: str) -> None:
    """A recognition that splits 자살 or merges 그냥죽고 keeps its level."""
    assert assess_risk(text).level == "high"


# --- elliptical answers and a child heard begging ---------------------------------------------------


@pytest.mark.parametrize("text", ["안정제요 한 움큼이요", "진통제를 통째로 다요"])
def test_an_amount_of_pills_said_as_an_answer_is_a_medical_emergency(text: str) -> None:
    """ "How many did you take?" answered without the verb: 119, as for a told overdose."""
    risk = assess_risk(text)
    assert risk.level == "high" and "medical" in risk.categories


@pytest.mark.parametrize("text", ["안정제 한 통 사 왔어요", "타이레놀 한 통에 얼마예요"])
def test_buying_or_pricing_pills_is_not_an_overdose(text: str) -> None:
    """The same words with a verb that is not taking them raise nothing."""
    assert assess_risk(text).level == "none"


def test_a_child_heard_begging_is_a_child_at_risk() -> None:
    """A child crying "때리지 마세요" through the wall: report to 112, not a worry to soothe."""
    risk = assess_risk("윗집 아이가 때리지 마세요 하고 울면서 비명을 질러요")
    assert risk.level == "high" and "child_at_risk" in risk.categories


@pytest.mark.parametrize(
    "text", ["영화에서 아이가 잘못했어요 하고 우는 장면이 슬펐어요", "조카가 게임하다 살려줘 하고 소리 질러요"]
)
def test_begging_in_a_film_or_a_game_is_not(text: str) -> None:
    """Fiction and play keep their look-alike status."""
    assert assess_risk(text).level == "none"
