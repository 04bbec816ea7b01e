"""Screening questions in the style of the Columbia protocol screener, and Korean yes/no answers.

When a conversation shows suicide-type signals that are not clear enough for a crisis reply (or
right after a crisis reply, while the client keeps talking), Maum asks, gently and one question
per turn, what a counsellor would ask:

1. ``wish_dead``: a wish to be dead or not to wake up;
2. ``thoughts``: thoughts of killing oneself;
3. ``method`` / 4. ``intent`` / 5. ``plan``: only after a yes to 2 (how, any intention to act,
   when and how worked out);
6. ``behaviour``: anything done or prepared to end one's life, recently.

A yes to ``intent``, ``plan`` or ``behaviour`` makes the conversation ``high``; all no leaves it at
``watch`` (never lower: the signals that started the screening are still there). Answers are
stored with the question for the counsellor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: The questions, in the order they may be asked.
QUESTIONS: Mapping[str, str] = {
    "wish_dead": (
        "조심스럽게 하나 여쭤봐도 될까요? "
        "요즘 차라리 죽었으면 좋겠다거나, 잠들어서 깨어나지 않았으면 좋겠다고 생각한 적이 있으세요?"
    ),
    "thoughts": "하나만 더 여쭤볼게요. 실제로 스스로 목숨을 끊는 생각을 해 본 적이 있으세요?",
    "method": "말해 줘서 고마워요. 그 생각을 할 때, 어떻게 할지 방법까지 떠올려 본 적이 있으세요?",
    "intent": "솔직하게 답해 주셔서 고마워요. 그 생각대로 해 보려는 마음이 조금이라도 있으세요?",
    "plan": "하나만 더 여쭤볼게요. 언제, 어떻게 할지 구체적으로 정해 둔 것이 있으세요?",
    "behaviour": "마지막으로 여쭤볼게요. 최근 석 달 사이에 목숨을 끊으려고 무언가를 준비하거나 해 본 적이 있으세요?",
}
#: Korean names of the questions, for the counsellor's page.
QUESTION_NAMES_KO: Mapping[str, str] = {
    "wish_dead": "죽고 싶은 바람",
    "thoughts": "자살 생각",
    "method": "방법 생각",
    "intent": "실행 의도",
    "plan": "구체적 계획",
    "behaviour": "최근 준비·시도",
}
#: Questions whose yes makes the conversation high.
HIGH_IF_YES = frozenset({"intent", "plan", "behaviour"})
#: Korean names of the answers.
ANSWER_NAMES_KO: Mapping[str, str] = {
    "yes": "예",
    "no": "아니요",
    "unsure": "모르겠음",
    "unclear": "답이 분명하지 않음",
}

# Words that answer by themselves wherever they stand.
_NO = re.compile(r"아니[요오]?|아뇨|아녀|그런\s*적\s*(은\s*)?없|전혀|그렇지\s*않|절대|ㄴㄴ|노노|no\b|한\s*번도")
_UNSURE = re.compile(r"그냥\s*그래요?|그저\s*그래요?|모르겠|몰라|글쎄|애매|잘\s*모르|반반|그럴\s*수도|헷갈|확실하지")
_YES = re.compile(
    r"^(네|넵|예|응|어|웅|ㅇㅇ|yes)(?![가-힣])|네[,.\s!]|응[,.\s!]|그래요|그랬어요|맞아|그런\s*적\s*(이\s*)?있|"
    r"조금요|좀요|약간|가끔|자주|종종|때때로|간간이|많이요|몇\s*번|한두\s*번|한\s*번씩"
)
# Verbs that answer only when they are about the question: in a short reply, or near a word that
# points back to it ("그런 생각", "사실은"). "수능 끝나면 제주도 가기로 했어요" answers nothing.
_NO_VERB = re.compile(
    r"(?<!수가\s)(?<!수\s)(?<!수가)(없어|없었|없습니다|없는데|없죠)|안\s*했|안\s*해\s*봤|안\s*해요|않았|안\s*들"
)
_YES_VERB = re.compile(r"있어|있었|있습니다|(?<!안)(?<!안\s)(했어|해\s*봤|해봤|생각했|들었어|들어요|해요)")
_POINTS_BACK = re.compile(r"그런|그렇|그\s*생각|생각|적|마음|방법|계획|준비|사실|솔직히|그게|가끔|자주")
_SHORT = 8  # a verb this near the start is the answer itself ("있어요", "없어요")
# Not often, not much: some, so a yes ("자주는 아니고 가끔", "자주 그러진 않아요", "많이는 아니에요").
# Never less than a yes: "없진 않아요", "아니라고는 못 하겠어요".
_SOME = re.compile(
    r"(자주|많이|매일|늘|항상|심하게|심각하게)\s*(는|까지는|까진)?\s*(아니|안|그러진\s*않|그렇진\s*않|그러지는\s*않)|"
    r"(없|아니)(진|지는|지\s*는)\s*않|(아니라|없다|안\s*했다)(고는|곤)\s*못"
)


def parse_answer(text: str) -> str:
    """What a client's reply to a yes/no question says: ``yes``, ``no``, ``unsure`` or ``unclear``.

    The last clear signal in the text wins, so "아니요… 사실은 있어요" is a yes and "네? 아니요" a no.
    Frequency and degree count as a yes ("가끔", "자주는 아니고 가끔", "자주 그러진 않아요"), so does
    a double negative ("없진 않아요"). A verb such as 했어요 or 없어요 answers only near the start or
    near a word that points back to the question, so a longer reply about something else
    ("수능 끝나면 다 같이 제주도 가기로 했어요") is ``unclear`` and the question can be asked again.
    """
    text = text.strip().lower()
    found: list[tuple[int, str]] = [(m.end(), "yes") for m in _SOME.finditer(text)]
    masked = _SOME.sub(lambda m: "_" * len(m.group(0)), text)  # its 아니/않 are no "no"
    for name, pattern in (("no", _NO), ("unsure", _UNSURE), ("yes", _YES)):
        found += [(m.end(), name) for m in pattern.finditer(masked)]
    for name, pattern in (("no", _NO_VERB), ("yes", _YES_VERB)):
        for m in pattern.finditer(masked):
            if m.start() < _SHORT or _POINTS_BACK.search(masked[max(0, m.start() - 12) : m.start()]):
                found.append((m.end(), name))
    if not found:
        return "unclear"
    # The no-patterns contain 없어/안 해; a yes-pattern ending at the same place is the same word.
    found.sort(key=lambda f: (f[0], f[1] != "yes"))
    return found[-1][1]


def next_question(answers: Mapping[str, str], *, ideation_known: bool) -> str:
    """The key of the next question to ask, or "" when the screening is complete.

    Args:
        answers: question key → answer so far (``parse_answer`` values).
        ideation_known: the client already said they think of killing themselves (a crisis turn),
            so the first two questions are answered by what they said.
    """
    if not ideation_known:
        for key in ("wish_dead", "thoughts"):
            if key not in answers:
                return key
    if ideation_known or answers.get("thoughts") in ("yes", "unsure"):
        for key in ("method", "intent", "plan"):
            if key not in answers:
                return key
    return "" if "behaviour" in answers else "behaviour"
