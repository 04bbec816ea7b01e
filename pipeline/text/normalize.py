"""Korean text normalisation for speech: text as it is spoken, in Hangul.

Every synthesizer reads text through :func:`normalize`, and the pronunciation module uses it to
read numbers out. It is rule-based, pure Python and fast (a few hundred microseconds a sentence).

What it does, in order:

1. Markup and noise: HTML tags and entities, markdown (emphasis, links, headings, bullets, code
   marks), URLs and e-mail addresses, emoji, emoticons (``^^``, ``ㅠㅠ``, ``:)``) are removed;
   full-width forms become ASCII; a line break after an unpunctuated line ends a sentence.
2. Dates ``2025-11-21``, ``2025.11.21``, ``2025/11/21``, ``11/21`` → ``이천이십오 년 십일월 이십일 일``
   (months have their spoken names: ``유월``, ``시월``; ``(금)`` → ``금요일``).
3. Phone numbers ``010-1234-5678`` → ``공일공 일이삼사 오육칠팔``: digit by digit, zero is ``공``.
   Known hotlines (109, 112, 119, 1388, 1366 …) and 3-4 digit numbers right after 전화/번호/연락
   are read digit by digit too (``109`` → ``일공구``), unless a counter other than 번 follows.
4. Clock times ``15:30`` → ``열다섯 시 삼십 분``: the written hour is kept (no guess at 오전/오후;
   a written 오후 stays in front), native hour, Sino-Korean minutes and seconds, ``:00`` minutes
   not read. Other ``a:b`` → ``a 대 b`` (scores, ratios).
5. Money ``₩5,000``/``5,000원`` → ``오천 원``, ``$10`` → ``십 달러`` (also €, £, ¥); units after
   numbers (``%`` 퍼센트, ``kg`` 킬로그램, ``km``, ``°C`` 도 …), ``-5도`` → ``영하 오 도``.
6. Numbers, read by the counter that follows (one optional space between):
   - native Korean (한 두 세 네 … 스무 …) before 시, 시간, 살, 개, 명, 번 (times), 권, 마리, 잔, 달,
     사람, 가지, 곳, 장, 대 … (``NATIVE_COUNTERS``); 100 and above keep Sino-Korean hundreds
     with native tens and ones (``101명`` → ``백한 명``); decimals are always Sino-Korean;
   - Sino-Korean everywhere else (분, 초, 년, 월, 일, 원, 층, 호, 퍼센트, 킬로 …), with 만/억/조
     groups (``15000`` → ``만 오천``, ``1억`` → ``일억``) and written units (``3만 5천 원``);
   - 번 is a count (``세 번``) unless a numbered thing follows (``3번 출구`` → ``삼 번 출구``);
     ``20대`` (an age decade) is Sino-Korean; ``제3`` is Sino-Korean;
   - ordinals: ``1번째`` → ``첫 번째``, ``2째`` → ``둘째``; ``1st`` → ``첫 번째``;
   - ranges ``3~5개`` → ``세에서 다섯 개`` (``1~2``, ``2~3``, ``3~4`` before a native counter:
     ``한두``, ``두세``, ``서너``); a tilde before a number elsewhere reads ``에서``;
   - fractions ``1/2`` → ``이 분의 일`` (``a/b`` with a < b ≤ 10; other valid month/day pairs are dates);
   - a number with leading zeros, or of nine digits or more (not a round amount), is read digit by
     digit; ``1990s`` → ``천구백구십 년대``.
7. Latin letters: known words and acronyms from a small table (``OK`` → ``오케이``, ``NASA`` →
   ``나사``), anything else spelled letter by letter (``AI`` → ``에이아이``).
8. Symbols: ``&`` → ``앤`` inside an acronym (``Q&A``), ``앤드`` between Latin words, else ``그리고``;
   ``+`` → ``더하기`` between numbers else ``플러스``; ``@`` → ``앳``; ``×`` → ``곱하기``; other
   symbols, quotes and brackets are dropped. Only ``. , ? !`` are kept as punctuation (``…``
   becomes ``,`` inside a sentence, ``.`` at its end).

The output has Hangul syllables, single spaces and ``. , ? !`` only: anything else left after
these rules (Hanja, kana, other scripts) is dropped, and there is no space before punctuation.
:func:`split_sentences` cuts a long reply into sentences for synthesis.
"""

from __future__ import annotations

import html
import re
import unicodedata
from decimal import Decimal, InvalidOperation

__all__ = ["NATIVE_COUNTERS", "SINO_COUNTERS", "normalize", "read_digits", "read_native", "read_sino",
           "split_sentences"]  # fmt: skip

# --- numerals ----------------------------------------------------------------------------------

_SINO_DIGITS = "영일이삼사오육칠팔구"
_PHONE_DIGITS = "공일이삼사오육칠팔구"
_NATIVE_ONES = ("", "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉")
_NATIVE_TENS = ("", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔")
_MONTHS = ("", "일", "이", "삼", "사", "오", "유", "칠", "팔", "구", "시", "십일", "십이")
_BIG_UNITS = ((10**16, "경"), (10**12, "조"), (10**8, "억"), (10**4, "만"))
_SINO_LIMIT = 10**20


def _sino_below_10000(n: int) -> str:
    out = []
    for value, name in ((1000, "천"), (100, "백"), (10, "십")):
        d, n = divmod(n, value)
        if d:
            out.append(("" if d == 1 else _SINO_DIGITS[d]) + name)
    if n:
        out.append(_SINO_DIGITS[n])
    return "".join(out)


def read_digits(digits: str, zero: str = "공") -> str:
    """Read a string of digits one by one (``"109"`` → ``"일공구"``); other characters are dropped."""
    table = _PHONE_DIGITS if zero == "공" else _SINO_DIGITS
    return "".join(table[int(ch)] for ch in digits if ch.isdigit())


def read_sino(n: int) -> str:
    """Sino-Korean cardinal: 0 → 영, 10 → 십, 15000 → 만 오천, 100000000 → 일억.

    Groups of four digits (만, 억, 조, 경) are separated by a space; 일 is dropped before 십, 백,
    천 and a lone 만. Numbers of 10^20 and more are read digit by digit.
    """
    if n < 0:
        return "마이너스 " + read_sino(-n)
    if n == 0:
        return "영"
    if n >= _SINO_LIMIT:
        return read_digits(str(n), zero="영")
    parts = []
    for value, name in _BIG_UNITS:
        d, n = divmod(n, value)
        if d:
            parts.append(("" if d == 1 and name == "만" else _sino_below_10000(d)) + name)
    if n:
        parts.append(_sino_below_10000(n))
    return " ".join(parts)


def read_native(n: int) -> str:
    """Native Korean numeral in the form used before a counter: 1 → 한, 20 → 스무, 21 → 스물한.

    From 100 up, the hundreds and above are Sino-Korean and the last two digits native
    (101 → 백한, 120 → 백스무); 0 → 영.
    """
    if n < 0:
        return "마이너스 " + read_native(-n)
    if n == 0:
        return "영"
    if n >= 100:
        rest = n % 100
        head = read_sino(n - rest)
        if not rest:
            return head
        return head + (" " if (n - rest) % 10000 == 0 else "") + read_native(rest)
    if n == 20:
        return "스무"
    return _NATIVE_TENS[n // 10] + _NATIVE_ONES[n % 10]


def _read_decimal(text: str) -> str:
    """``"3.14"`` → ``"삼 점 일사"``: the whole part as a number, the decimals digit by digit."""
    whole, _, frac = text.replace(",", "").partition(".")
    head = read_sino(int(whole or "0"))
    return f"{head} 점 {read_digits(frac, zero='영')}" if frac else head


# --- counters ----------------------------------------------------------------------------------

#: Counters read with native Korean numerals (longest match wins against ``SINO_COUNTERS``).
NATIVE_COUNTERS: frozenset[str] = frozenset(
    "시 시간 살 개 명 번 권 마리 잔 병 장 벌 켤레 그루 송이 척 대 달 사람 가지 곳 군데 그릇 접시 봉지 상자 "
    "박스 통 줄 자루 채 칸 판 쌍 알 포기 방울 모금 숟가락 끼 걸음 바퀴 차례 마디 곡 편 배 밤 컵 조각 덩어리 "
    "개비 가구 주먹 글자 문장 단어".split()
)

#: Counters and units read with Sino-Korean numerals. Anything not listed in either table is read
#: Sino-Korean too; this table exists so that a Sino word beginning like a native counter
#: (개월 vs 개, 달러 vs 달, 시즌 vs 시, 번지 vs 번) is recognised, and so the number gets a space.
SINO_COUNTERS: frozenset[str] = frozenset(
    "분 초 년 월 일 원 층 호 호선 퍼센트 킬로 킬로그램 그램 밀리그램 미터 킬로미터 센티미터 밀리미터 리터 "
    "밀리리터 킬로칼로리 칼로리 도 주 주일 주년 개월 개국 개년 회 학년 학기 교시 반 점 등 위 세 인분 인 달러 "
    "유로 엔 파운드 위안 번지 박 차 기 단계 부 쪽 페이지 시즌 분기 년대 년생 세대 기가바이트 메가바이트 "
    "킬로바이트 테라바이트 바이트 제곱미터 평".split()
)

# 번 followed by one of these names a numbered thing (Sino-Korean): 3번 출구 → 삼 번 출구.
_NUMBERED_NOUNS = ("출구", "버스", "방", "문제", "선", "트랙", "게이트", "홈", "승강장", "좌석", "채널",
                   "국도", "항목", "문항", "질문", "타자", "마을버스", "창구", "자리", "칸", "사물함")  # fmt: skip

# Hotlines read digit by digit (ARCHITECTURE.md's crisis resources and other public numbers).
_HOTLINES = frozenset(
    "109 110 111 112 113 114 117 118 119 120 122 125 127 128 129 131 132 134 182 1301 1330 1332 1333 1336 1345 "
    "1350 1355 1366 1388 1393 1398 1399 1577 1588 1644 1661 1670 1899".split()
)
_PHONE_CONTEXT = re.compile(r"(?:전화|번호|연락|문자|콜센터|상담실|☎|☏|tel|TEL|Tel)[^.?!\n]{0,8}$")

_COUNTER_RE = re.compile(
    r"\s?(" + "|".join(sorted(NATIVE_COUNTERS | SINO_COUNTERS | {"번째", "째"}, key=len, reverse=True)) + ")"
)
_NATIVE_PAIRS = {(1, 2): "한두", (2, 3): "두세", (3, 4): "서너"}
_ORDINAL_JJAE = {1: "첫", 2: "둘", 3: "셋", 4: "넷"}


def _counter_after(text: str, pos: int) -> tuple[str, int]:
    """(the counter right after ``pos`` or ``""``, where it ends)."""
    m = _COUNTER_RE.match(text, pos)
    return (m.group(1), m.end()) if m else ("", pos)


def _is_numbered(text: str, pos: int) -> bool:
    """Whether a numbered-thing noun follows 번 that ends at ``pos``."""
    rest = text[pos : pos + 8].lstrip()
    return rest.startswith(_NUMBERED_NOUNS)


def _numeral_system(counter: str, value: int | None, text: str, counter_end: int) -> str:
    """``native``, ``sino``, ``month``, ``ordinal`` or ``jjae`` for a number before ``counter``."""
    if value is None:  # a decimal
        return "sino"
    if counter == "번째":
        return "ordinal"
    if counter == "째":
        return "jjae"
    if counter == "월":
        return "month" if 1 <= value <= 12 else "sino"
    if counter == "번":
        return "sino" if _is_numbered(text, counter_end) else "native"
    if counter == "대":
        if value % 10 == 0 and 10 <= value <= 90:
            return "sino"  # 20대: an age decade
        return "sino" if text[counter_end : counter_end + 2].strip()[:1].isdigit() else "native"  # 3 대 2
    if counter == "시":
        return "native" if value <= 24 else "sino"
    return "native" if counter in NATIVE_COUNTERS else "sino"


def _read_in(system: str, value: int) -> str:
    if system == "native":
        return read_native(value)
    if system == "month":
        return _MONTHS[value]
    if system == "ordinal":
        return "첫" if value == 1 else read_native(value)
    if system == "jjae":
        return _ORDINAL_JJAE.get(value) or read_native(value)
    return read_sino(value)


# --- number parsing ----------------------------------------------------------------------------

_PLAIN = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?"
_UNIT_PART = rf"{_PLAIN}(?:[천백][만억조]?|[만억조])"
_NUMBER = rf"(?:{_UNIT_PART}(?:\s?{_UNIT_PART})*(?:\d+(?![\d.,]))?|{_PLAIN})"
_NUMBER_RE = re.compile(_NUMBER)
_UNIT_PART_RE = re.compile(r"([\d.,]+)([천백]?)([만억조]?)")
_SMALL = {"": 1, "천": 1000, "백": 100}
_BIG = {"": 1, "만": 10**4, "억": 10**8, "조": 10**12}


def _value(number: str) -> tuple[int | None, str]:
    """(integer value or None for a decimal, the digits as written) of a matched number."""
    compact = number.replace(" ", "")
    if not any(u in compact for u in "천백만억조"):
        plain = compact.replace(",", "")
        return (None if "." in plain else int(plain)), plain
    total, group = Decimal(0), Decimal(0)
    for digits, small, big in _UNIT_PART_RE.findall(compact):
        try:
            group += Decimal(digits.replace(",", "")) * _SMALL[small]
        except InvalidOperation:
            return None, compact
        if big:
            total += group * _BIG[big]
            group = Decimal(0)
    total += group
    if total != total.to_integral_value():
        return None, compact
    return int(total), compact


def _read_number_text(number: str) -> str:
    """Sino-Korean reading of a matched number that may be a decimal (``1.5만`` stays as written)."""
    value, plain = _value(number)
    if value is not None:
        return read_sino(value)
    if any(u in plain for u in "천백만억조"):
        return "".join(
            _read_decimal(d) + s + b for d, s, b in _UNIT_PART_RE.findall(plain)
        )  # a fraction of a unit, read as written
    return _read_decimal(plain)


def _read_with_counter(number: str, text: str, end: int) -> tuple[str, str]:
    """(reading, separator before the counter) for ``number`` ending at ``end`` in ``text``."""
    counter, counter_end = _counter_after(text, end)
    value, _ = _value(number)
    if not counter:
        return _read_number_text(number), ""
    system = _numeral_system(counter, value, text, counter_end)
    if value is None:
        return _read_number_text(number), " "
    return _read_in(system, value), ("" if system in ("month", "jjae") else " ")


def _number_sub(m: re.Match[str]) -> str:
    number, text, start, end = m.group(), m.string, m.start(), m.end()
    counter, _ = _counter_after(text, end)
    digits_only = number.isdigit()
    if digits_only and counter in ("", "번"):
        if number in _HOTLINES or (3 <= len(number) <= 4 and _PHONE_CONTEXT.search(text, max(0, start - 16), start)):
            return read_digits(number) + (" " if counter else "")
    long_code = len(number) >= 9 and not number.endswith("0000")  # an account or card number, not an amount
    if digits_only and not counter and (long_code or (len(number) > 1 and number[0] == "0")):
        return read_digits(number, zero="공")
    if start > 0 and text[start - 1] == "제":  # 제3장: Sino-Korean
        return _read_number_text(number) + (" " if counter else "")
    reading, sep = _read_with_counter(number, text, end)
    return reading + sep


def _range_sub(m: re.Match[str]) -> str:
    first, sep, second = m.group(1), m.group(2), m.group(3)
    text, end = m.string, m.end()
    counter, counter_end = _counter_after(text, end)
    if sep == "-" and not counter:
        return m.group()  # not clearly a range; read each number on its own
    v1, _ = _value(first)
    v2, _ = _value(second)
    if not counter or v1 is None or v2 is None:
        return f"{_read_number_text(first)}에서 {_read_number_text(second)}" + (" " if counter else "")
    system = _numeral_system(counter, v2, text, counter_end)
    if system in ("ordinal", "jjae"):
        system = "native"
    if system == "native" and counter not in ("시",) and (v1, v2) in _NATIVE_PAIRS:
        return _NATIVE_PAIRS[(v1, v2)] + " "
    if system == "month":
        return f"{_MONTHS[v1]}월에서 {_MONTHS[v2]}" if 1 <= v1 <= 12 else f"{read_sino(v1)}에서 {_MONTHS[v2]}"
    return f"{_read_in(system, v1)}에서 {_read_in(system, v2)} "


# --- dates, times, phones ----------------------------------------------------------------------

_WEEKDAYS = {day: day + "요일" for day in "월화수목금토일"}


def _date(year: str | None, month: str, day: str) -> str | None:
    mo, d = int(month), int(day)
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return None
    head = f"{read_sino(int(year))} 년 " if year else ""
    return f"{head}{_MONTHS[mo]}월 {read_sino(d)} 일"


def _ymd_sub(m: re.Match[str]) -> str:
    return _date(m.group(1), m.group(2), m.group(3)) or m.group()


def _slash_sub(m: re.Match[str]) -> str:
    a, b = int(m.group(1)), int(m.group(2))
    if not (0 < a < b <= 10) and 1 <= a <= 12 and 1 <= b <= 31:
        return _date(None, m.group(1), m.group(2)) or m.group()
    if b == 0:
        return m.group()
    return f"{read_sino(b)} 분의 {read_sino(a)}"


def _time_sub(m: re.Match[str]) -> str:
    hour, minute, second = int(m.group(1)), int(m.group(2)), m.group(3)
    out = f"{read_native(hour)} 시"
    if minute:
        out += f" {read_sino(minute)} 분"
    if second and int(second):
        out += f" {read_sino(int(second))} 초"
    return out


def _phone_sub(m: re.Match[str]) -> str:
    return " ".join(read_digits(group) for group in re.split(r"[-.\s]", m.group()) if group)


# --- Latin letters -----------------------------------------------------------------------------

_LETTERS = {
    "a": "에이", "b": "비", "c": "씨", "d": "디", "e": "이", "f": "에프", "g": "지", "h": "에이치", "i": "아이",
    "j": "제이", "k": "케이", "l": "엘", "m": "엠", "n": "엔", "o": "오", "p": "피", "q": "큐", "r": "알",
    "s": "에스", "t": "티", "u": "유", "v": "브이", "w": "더블유", "x": "엑스", "y": "와이", "z": "제트",
}  # fmt: skip

# Words and acronyms said as words; everything else is spelled letter by letter.
_WORDS = {
    "ok": "오케이", "okay": "오케이", "hello": "헬로", "hi": "하이", "bye": "바이", "yes": "예스", "no": "노",
    "wow": "와우", "oh": "오", "sorry": "쏘리", "thanks": "땡스", "thank": "땡스", "you": "유", "please": "플리즈",
    "email": "이메일", "mail": "메일", "app": "앱", "apps": "앱", "web": "웹", "wifi": "와이파이",
    "internet": "인터넷", "online": "온라인", "offline": "오프라인", "chat": "챗", "chatgpt": "챗지피티",
    "youtube": "유튜브", "google": "구글", "naver": "네이버", "kakao": "카카오", "kakaotalk": "카카오톡",
    "instagram": "인스타그램", "zoom": "줌", "iphone": "아이폰", "android": "안드로이드", "maum": "마음",
    "nasa": "나사", "unesco": "유네스코", "unicef": "유니세프", "nato": "나토", "covid": "코비드",
    "stress": "스트레스", "care": "케어", "self": "셀프", "healing": "힐링", "mental": "멘탈", "mind": "마인드",
    "burnout": "번아웃", "panic": "패닉", "trauma": "트라우마", "therapy": "테라피", "counseling": "카운슬링",
    "counselling": "카운슬링", "program": "프로그램", "team": "팀", "test": "테스트", "level": "레벨",
    "message": "메시지", "hotline": "핫라인", "cafe": "카페", "coffee": "커피", "fighting": "파이팅",
    "the": "더", "and": "앤드", "of": "오브", "love": "러브", "happy": "해피", "good": "굿", "news": "뉴스",
    "pop": "팝", "kpop": "케이팝", "vlog": "브이로그", "blog": "블로그", "game": "게임", "mode": "모드",
}  # fmt: skip
_THANK_YOU = re.compile(r"\bthank\s+you\b", re.I)
_LATIN_RE = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")
_MERIDIEM = re.compile(r"(\d{1,2}(?::\d{2}){1,2}|\d{1,2}\s?시)\s?([AaPp])\.?[Mm]\.?(?![A-Za-z])")


def _latin_sub(m: re.Match[str]) -> str:
    word = m.group()
    key = word.lower().replace("'", "").replace("’", "").replace("-", "")
    if key in _WORDS:
        return _WORDS[key]
    return "".join(_LETTERS.get(ch, "") for ch in key)


# --- cleaning ----------------------------------------------------------------------------------

_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH.update({0x3000: 0x20, 0xFFE6: ord("₩")})
_SYMBOL_MAP = str.maketrans(
    {
        "℃": "°C",
        "℉": "°F",
        "㎏": "kg",
        "㎎": "mg",
        "㎞": "km",
        "㎝": "cm",
        "㎜": "mm",
        "㎖": "ml",
        "ℓ": "l",
        "㎡": "제곱미터",
        "∼": "~",
        "〜": "~",
        "–": "-",
        "—": "-",
        "−": "-",
        "‐": "-",
        "․": ".",
        "。": ".",
        "、": ",",
        "！": "!",
        "？": "?",
        "·": " ",
        "ㆍ": " ",
        "•": " ",
    }  # fmt: skip
)

_HTML_BREAK = re.compile(r"<\s*(?:br|/p|/div|/li|/h\d|/tr)\b[^>]*>", re.I)
_HTML_TAG = re.compile(r"<\s*/?\s*([A-Za-z][A-Za-z0-9]*)[^<>]*>|<!--.*?-->", re.S)
_HTML_INLINE = frozenset("a abbr b bdi bdo code del em font i ins kbd mark q s small span strong sub sup u".split())
_MD_CODE = re.compile(r"`{1,3}")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_URL = re.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.]+", re.I)
_MD_LINE = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|>[ \t]?|[-*+][ \t]+|\d{1,2}[.)][ \t]+|[-*_=]{3,}[ \t]*$)", re.M)
_MD_EMPHASIS = re.compile(r"\*{1,3}|_{2,3}|~~")
_EMOTICON = re.compile(r"\^[_\-.~o]?\^|[;:=]-?[)(DPp]|\bT[_.]T\b|-_-;*|[ㄱ-ㅎㅏ-ㅣ]{2,}|[ㅠㅜㅡ]")
# A single letter of the alphabet (ㄱ 받침, ㅏ 모음) is read by its name; runs (ㅋㅋ, ㅠㅠ) are emoticons.
_JAMO_NAMES = dict(zip(
    "ㄱㄲㄳㄴㄵㄶㄷㄸㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅃㅄㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅝㅞㅟㅢㅣ",
    "기역 쌍기역 기역시옷 니은 니은지읒 니은히읗 디귿 쌍디귿 리을 리을기역 리을미음 리을비읍 리을시옷 리을티읕 "
    "리을피읖 리을히읗 미음 비읍 쌍비읍 비읍시옷 시옷 쌍시옷 이응 지읒 쌍지읒 치읓 키읔 티읕 피읖 히읗 "
    "아 애 야 얘 어 에 여 예 오 와 왜 외 요 워 웨 위 의 이".split(),
    strict=True,
))  # fmt: skip
_JAMO = re.compile("[" + "".join(_JAMO_NAMES) + "]")

_YMD = re.compile(r"(?<![\d.])(\d{4})\s?[-./]\s?(\d{1,2})\s?[-./]\s?(\d{1,2})(?:\.(?=\s*[가-힣(]))?(?![\d])")
_WEEKDAY = re.compile(r"\(\s*([월화수목금토일])\s*\)")
_SLASH = re.compile(r"(?<![\d/.])(\d{1,3})/(\d{1,3})(?![\d/])")
_PHONE = re.compile(
    r"(?<![\d-])(?:0\d{1,2}-\d{3,4}-\d{4}|1[5-9]\d{2}-\d{4}|\d{2,3}-\d{3,4}-\d{4}|\(0\d{1,2}\)\s?\d{3,4}-\d{4})(?![\d-])"
)
_TIME = re.compile(r"(?<![\d:])([01]?\d|2[0-4]):([0-5]\d)(?::([0-5]\d))?(?![\d:])")
_RATIO = re.compile(r"(?<=\d)\s*:\s*(?=\d)")
_RATIO_MARK = "\ue000"  # stands for 대 until the numbers are read, so it is not taken for a counter
_CURRENCY_BEFORE = re.compile(rf"([₩$€£¥])\s?({_NUMBER})")
_CURRENCY_AFTER = re.compile(rf"({_NUMBER})\s?([$€£¥])")
_CURRENCY = {"₩": "원", "$": "달러", "€": "유로", "£": "파운드", "¥": "엔"}
_UNITS = {
    "%": "퍼센트", "°C": "도", "°F": "도", "°": "도", "kg": "킬로그램", "mg": "밀리그램", "g": "그램",
    "km": "킬로미터", "cm": "센티미터", "mm": "밀리미터", "m": "미터", "ml": "밀리리터", "mL": "밀리리터",
    "l": "리터", "L": "리터", "kcal": "킬로칼로리", "cal": "칼로리", "GB": "기가바이트", "MB": "메가바이트",
    "KB": "킬로바이트", "TB": "테라바이트", "h": "시간", "min": "분", "sec": "초", "%p": "퍼센트포인트",
    "st": "번째", "nd": "번째", "rd": "번째", "th": "번째",
}  # fmt: skip
_UNIT_RE = re.compile(
    rf"({_NUMBER})\s?(" + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True)) + r")(?![A-Za-z])"
)
_DECADE = re.compile(r"(?<!\d)(\d{1,3}0)['’]?s(?![A-Za-z])")  # 1990s → 1990년대
_NEGATIVE = re.compile(rf"(?<![\w.])-({_NUMBER})(\s?도)?")
_PLUS = re.compile(r"(?<=\d)\s*\+\s*(?=\d)")
_RANGE = re.compile(rf"({_NUMBER})\s*(~|-)\s*({_NUMBER})")
_TILDE_BEFORE_NUMBER = re.compile(r"\s*~\s*(?=\d)")
_TILDE_BETWEEN = re.compile(r"(?<=[가-힣])~(?=[가-힣])")
_AMP_BETWEEN_LETTERS = re.compile(r"(?<=[A-Za-z])(\s*)&(\s*)(?=[A-Za-z])")
_QUOTES = re.compile(r"[\"'“”‘’「」『』《》〈〉`]")

_ELLIPSIS = re.compile(r"\.{2,}|…+")
_ELLIPSIS_END = re.compile(r"…\s*([.?!])|…\s*$|…\s*(?=\n)")
_NEWLINE_AFTER_WORD = re.compile(r"(?<=[^\s.,?!])[ \t]*\n\s*")
_KEEP = re.compile(r"[^가-힣.,?! ]+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,?!])")
_REPEATED_PUNCT = re.compile(r"([.,?!])[.,?!]+")
_PUNCT_THEN_WORD = re.compile(r"([.,?!])(?=[^\s.,?!])")
_LEADING_PUNCT = re.compile(r"^[\s.,?!]+")


def _negative_sub(m: re.Match[str]) -> str:
    if m.string[max(0, m.start() - 8) : m.start()].rstrip().endswith("영하"):
        word = ""  # 영하 -3도: the minus is already said
    else:
        word = "영하 " if m.group(2) else "마이너스 "
    return word + m.group(1) + (m.group(2) or "")


def _strip_markup(text: str) -> str:
    text = _HTML_BREAK.sub("\n", text)
    text = _HTML_TAG.sub(lambda m: "" if (m.group(1) or "").lower() in _HTML_INLINE else " ", text)
    text = html.unescape(text)
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _MD_CODE.sub("", text)
    text = _MD_LINE.sub("", text)
    return _MD_EMPHASIS.sub("", text)


def _strip_emoji(text: str) -> str:
    """Drop emoji, pictographs and invisible format characters; keep symbols read later."""
    text = _EMOTICON.sub(" ", text)
    text = _JAMO.sub(lambda m: _JAMO_NAMES[m.group()], text)
    out = []
    for ch in text:
        if ch in "°₩$€£¥%&+@×÷~☎☏":
            out.append(ch)
            continue
        cat = unicodedata.category(ch)
        if cat in ("So", "Sk", "Cs", "Co", "Cn") or (cat == "Cf") or (cat == "Mn" and ch in "\ufe0e\ufe0f"):
            out.append(" " if cat == "So" else "")
        elif cat == "Cc":
            out.append("\n" if ch in "\n\r" else " ")
        else:
            out.append(ch)
    return "".join(out)


def _ellipses(text: str) -> str:
    text = _ELLIPSIS.sub("…", text)
    text = _ELLIPSIS_END.sub(lambda m: m.group(1) or ".", text)
    return text.replace("…", ",")


def normalize(text: str) -> str:
    """Korean text → the same text as it is spoken, in Hangul (see the module docstring for the rules).

    Args:
        text: any text a reply or a practice sentence may contain (markup, numbers, Latin letters).

    Returns:
        Hangul words separated by single spaces, with only ``. , ? !`` as punctuation; empty when
        nothing speakable is left.
    """
    text = unicodedata.normalize("NFC", text).translate(_FULLWIDTH).translate(_SYMBOL_MAP)
    text = _strip_markup(text)
    text = _strip_emoji(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ellipses(text)
    text = _NEWLINE_AFTER_WORD.sub(". ", text)

    # Forms that contain digits and separators, before numbers are read one by one.
    text = _YMD.sub(_ymd_sub, text)
    text = _WEEKDAY.sub(lambda m: " " + _WEEKDAYS[m.group(1)], text)
    text = _PHONE.sub(_phone_sub, text)
    text = _MERIDIEM.sub(lambda m: ("오전 " if m.group(2) in "Aa" else "오후 ") + m.group(1), text)
    text = _TIME.sub(_time_sub, text)
    text = _RATIO.sub(_RATIO_MARK, text)
    text = _SLASH.sub(_slash_sub, text)
    text = _CURRENCY_BEFORE.sub(lambda m: m.group(2) + _CURRENCY[m.group(1)], text)
    text = _CURRENCY_AFTER.sub(lambda m: m.group(1) + _CURRENCY[m.group(2)], text)
    text = _DECADE.sub(r"\1년대", text)
    text = _UNIT_RE.sub(lambda m: m.group(1) + _UNITS[m.group(2)], text)
    text = _NEGATIVE.sub(_negative_sub, text)
    text = _PLUS.sub(" 더하기 ", text)

    # Numbers by counter.
    text = _RANGE.sub(_range_sub, text)
    text = _TILDE_BEFORE_NUMBER.sub("에서 ", text)
    text = _TILDE_BETWEEN.sub("에서 ", text)
    text = _NUMBER_RE.sub(_number_sub, text).replace(_RATIO_MARK, " 대 ")

    # Latin letters and symbols.
    text = _AMP_BETWEEN_LETTERS.sub(lambda m: " 앤드 " if m.group(1) or m.group(2) else "앤", text)
    text = _THANK_YOU.sub("땡큐", text)
    text = _LATIN_RE.sub(_latin_sub, text)
    text = (
        text.replace("&", " 그리고 ").replace("+", " 플러스 ").replace("@", " 앳 ").replace("×", " 곱하기 ")
        .replace("÷", " 나누기 ").replace("%", " 퍼센트 ").replace("°", " 도 ").replace("₩", " 원 ")
        .replace("☎", " 전화 ").replace("☏", " 전화 ")
    )  # fmt: skip
    text = text.replace(";", ",").replace(":", ",")

    # Tidy: only Hangul, spaces and . , ? ! remain.
    text = text.replace("\n", " ")
    text = _QUOTES.sub("", text)
    text = _KEEP.sub(" ", text)
    text = _REPEATED_PUNCT.sub(lambda m: m.group(1) if m.group(1) != "," else m.group()[-1], text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _REPEATED_PUNCT.sub(lambda m: m.group(1) if m.group(1) != "," else m.group()[-1], text)
    text = _PUNCT_THEN_WORD.sub(r"\1 ", text)
    text = _LEADING_PUNCT.sub("", " ".join(text.split()))
    return text


# --- sentences ---------------------------------------------------------------------------------

_BOUNDARY = re.compile(r"([.?!…]+['\"”’」』)\]]*)(\s+)|\n\s*")
_DOTTED_DATE_END = re.compile(r"\d{4}\.\s?\d{1,2}\.\s?\d{1,2}$")
_UNPUNCTUATED_END = re.compile(r"(?:요|니다|죠|까) ")
_SPEAKABLE = re.compile(r"[가-힣A-Za-z0-9]")


def _speakable_len(text: str) -> int:
    return len(_SPEAKABLE.findall(text))


def _cut_long(piece: str, max_chars: int) -> list[str]:
    """Cut a piece longer than ``max_chars`` after an unpunctuated ending (요 니다 죠 까), comma or space."""
    out = []
    while len(piece) > max_chars:
        window = piece[: max_chars + 1]
        endings = [m.end() - 1 for m in _UNPUNCTUATED_END.finditer(window)]
        cut = endings[-1] if endings else -1
        if cut < max_chars // 3:
            cut = window.rfind(", ") + 1
        if cut < max_chars // 3:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = max_chars
        out.append(piece[: cut + 1].strip())
        piece = piece[cut + 1 :].strip()
    if piece:
        out.append(piece)
    return out


def split_sentences(text: str, *, min_chars: int = 6, max_chars: int = 120) -> list[str]:
    """Cut text into sentences for synthesis, one at a time.

    A sentence ends at ``.``, ``?``, ``!`` or ``…`` followed by a space (closing quotes and brackets
    stay with it), or at a line break. A dot between digits (``3.5``, ``2025. 11. 21.``) is not an
    end. A piece with fewer than ``min_chars`` letters (``네.``, ``아, 그렇군요.``) is joined to the
    next one (the last to the previous one), and a piece longer than ``max_chars`` characters is
    cut after a sentence ending written without punctuation (``…해요 그런데``), else after a comma,
    else at a space.

    Args:
        text: raw or normalised text.
        min_chars: pieces with fewer Hangul letters, Latin letters and digits are joined to a neighbour.
        max_chars: longest piece, in characters.

    Returns:
        The sentences, stripped, in order; empty for blank text.
    """
    pieces: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group(1) is not None:
            punct_start = m.start(1)
            before = text[punct_start - 1] if punct_start else ""
            after = text[m.end() : m.end() + 1]
            if (
                m.group(1) == "."
                and before.isdigit()
                and (after.isdigit() or _DOTTED_DATE_END.search(text, max(0, punct_start - 14), punct_start))
            ):
                continue  # 2025. 11. 21.
            end = m.end(1)
        else:
            end = m.start()
        piece = text[start:end].strip()
        if piece:
            pieces.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        pieces.append(tail)

    merged: list[str] = []
    carry = ""
    for piece in pieces:
        piece = f"{carry} {piece}".strip() if carry else piece
        carry = ""
        if _speakable_len(piece) < min_chars:
            carry = piece
            continue
        merged.append(piece)
    if carry:
        if merged and len(merged[-1]) + len(carry) + 1 <= max_chars:
            merged[-1] = f"{merged[-1]} {carry}"
        else:
            merged.append(carry)
    return [cut for piece in merged for cut in _cut_long(piece, max_chars)]
