"""Korean text normalisation for speech: the table below is the specification."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import soundfile as sf

from pipeline.backends.fake_synthesizer import FakeSynthesizer
from pipeline.errors import BackendError
from pipeline.settings import Settings
from pipeline.speech.voice import reply_sentences, spoken_text
from pipeline.stages import reply_tone, synthesize_in_tone
from pipeline.text.normalize import normalize, read_native, read_sino, split_sentences
from pipeline.turn import Pipeline
from tests.samples import REPO

CASES = [
    # --- native Korean numerals before native counters
    ("사과 3개 주세요", "사과 세 개 주세요"),
    ("학생 21명이 왔어요", "학생 스물한 명이 왔어요"),
    ("1명, 2명, 4명", "한 명, 두 명, 네 명"),
    ("20살이에요", "스무 살이에요"),
    ("올해 25살이 됐어요", "올해 스물다섯 살이 됐어요"),
    ("책 2권을 샀어요", "책 두 권을 샀어요"),
    ("고양이 3마리", "고양이 세 마리"),
    ("커피 2잔 마셨어요", "커피 두 잔 마셨어요"),
    ("3번 했어요", "세 번 했어요"),
    ("2번만 더 해 봐요", "두 번만 더 해 봐요"),
    ("24시간 내내", "스물네 시간 내내"),
    ("1시간 30분", "한 시간 삼십 분"),
    ("3 개", "세 개"),
    ("0개", "영 개"),
    ("101명", "백한 명"),
    ("125개", "백스물다섯 개"),
    ("100명, 1000명, 10000명", "백 명, 천 명, 만 명"),
    ("2달 동안", "두 달 동안"),
    ("차 2대", "차 두 대"),
    ("20대 청소년", "이십 대 청소년"),
    # --- Sino-Korean numerals
    ("5분만 기다려 주세요", "오 분만 기다려 주세요"),
    ("30초", "삼십 초"),
    ("3층 101호", "삼 층 백일 호"),
    ("2호선", "이 호선"),
    ("3개월", "삼 개월"),
    ("2주 동안", "이 주 동안"),
    ("3학년", "삼 학년"),
    ("1등 했어요", "일 등 했어요"),
    ("2박 3일", "이 박 삼 일"),
    ("3번 출구로 나오세요", "삼 번 출구로 나오세요"),
    ("제3장", "제삼 장"),
    ("5킬로 뺐어요", "오 킬로 뺐어요"),
    ("20세 이상", "이십 세 이상"),
    ("2000년대", "이천 년대"),
    ("3시즌", "삼 시즌"),
    ("10달러", "십 달러"),
    # --- large numbers
    ("10000원", "만 원"),
    ("15000원", "만 오천 원"),
    ("1,234,567", "백이십삼만 사천오백육십칠"),
    ("1억", "일억"),
    ("110000000", "일억 천만"),
    ("3만 5천 원", "삼만 오천 원"),
    ("1억 2천만 원", "일억 이천만 원"),
    ("2.5억", "이억 오천만"),
    ("1.5만 명", "만 오천 명"),
    ("1조", "일조"),
    ("1000", "천"),
    ("11", "십일"),
    # --- dates
    ("2025-11-21", "이천이십오 년 십일월 이십일 일"),
    ("2025년 11월 21일", "이천이십오 년 십일월 이십일 일"),
    ("2025.11.21", "이천이십오 년 십일월 이십일 일"),
    ("2025/6/1", "이천이십오 년 유월 일 일"),
    ("2025년 11월 21일(금)", "이천이십오 년 십일월 이십일 일 금요일"),
    ("오늘은 2025. 11. 21. 금요일이에요.", "오늘은 이천이십오 년 십일월 이십일 일 금요일이에요."),
    ("6월 10일", "유월 십 일"),
    ("10월 3일", "시월 삼 일"),
    ("12/25", "십이월 이십오 일"),
    ("2025-13-40", "이천이십오 십삼 사십"),
    # --- times
    ("3시 30분에 만나요", "세 시 삼십 분에 만나요"),
    ("15:30에 만나요", "열다섯 시 삼십 분에 만나요"),
    ("오후 3:05", "오후 세 시 오 분"),
    ("12:00", "열두 시"),
    ("10시 10분 10초", "열 시 십 분 십 초"),
    ("09:15:30", "아홉 시 십오 분 삼십 초"),
    ("3시 반", "세 시 반"),
    ("0시", "영 시"),
    ("3:2로 이겼어요", "삼 대 이로 이겼어요"),
    # --- money
    ("₩5,000", "오천 원"),
    ("5,000원", "오천 원"),
    ("$10", "십 달러"),
    ("€20", "이십 유로"),
    ("＄5", "오 달러"),
    # --- phone numbers and hotlines
    ("010-1234-5678", "공일공 일이삼사 오육칠팔"),
    ("010-1234-5678로 연락 주세요", "공일공 일이삼사 오육칠팔로 연락 주세요"),
    ("02-123-4567", "공이 일이삼 사오육칠"),
    ("정신건강위기상담 1577-0199", "정신건강위기상담 일오칠칠 공일구구"),
    ("109에 전화하세요", "일공구에 전화하세요"),
    ("112에 신고하세요", "일일이에 신고하세요"),
    ("청소년은 1388, 여성은 1366", "청소년은 일삼팔팔, 여성은 일삼육육"),
    ("1366번으로", "일삼육육 번으로"),
    ("전화번호는 1234예요", "전화번호는 일이삼사예요"),
    ("전화 100통", "전화 백 통"),
    ("0123", "공일이삼"),
    ("123456789012", "일이삼사오육칠팔구공일이"),
    # --- percentages, decimals, fractions, units
    ("50%", "오십 퍼센트"),
    ("3.5%", "삼 점 오 퍼센트"),
    ("10~20%", "십에서 이십 퍼센트"),
    ("3.14", "삼 점 일사"),
    ("0.5초", "영 점 오 초"),
    ("0.05", "영 점 영오"),
    ("1.5시간", "일 점 오 시간"),
    ("1/2", "이 분의 일"),
    ("3/4", "사 분의 삼"),
    ("3kg", "삼 킬로그램"),
    ("100m 달리기", "백 미터 달리기"),
    ("25°C", "이십오 도"),
    ("25℃", "이십오 도"),
    ("-5도", "영하 오 도"),
    ("영하 -3°C", "영하 삼 도"),
    ("-3", "마이너스 삼"),
    # --- ordinals
    ("1번째", "첫 번째"),
    ("2번째", "두 번째"),
    ("11번째", "열한 번째"),
    ("20번째", "스무 번째"),
    ("1째, 2째", "첫째, 둘째"),
    ("1st", "첫 번째"),
    ("첫 번째", "첫 번째"),
    # --- ranges
    ("3~5개", "세에서 다섯 개"),
    ("3-5개", "세에서 다섯 개"),
    ("1~2시간", "한두 시간"),
    ("2~3명", "두세 명"),
    ("3~4번", "서너 번"),
    ("3시~5시", "세 시에서 다섯 시"),
    ("월~금", "월에서 금"),
    ("10~20일", "십에서 이십 일"),
    # --- Latin letters and acronyms
    ("AI", "에이아이"),
    ("OK", "오케이"),
    ("AI 상담사예요", "에이아이 상담사예요"),
    ("TV를 봤어요", "티브이를 봤어요"),
    ("SNS", "에스엔에스"),
    ("NASA", "나사"),
    ("Q&A", "큐앤에이"),
    ("3D 프린터", "삼디 프린터"),
    ("MP3", "엠피삼"),
    ("COVID-19", "코비드 십구"),
    ("Thank you!", "땡큐!"),
    ("A+", "에이 플러스"),
    ("1+1", "일 더하기 일"),
    ("커피 & 케이크", "커피 그리고 케이크"),
    # --- emoji, emoticons and markup
    ("괜찮아요 😀", "괜찮아요"),
    ("힘들어요 ㅠㅠ", "힘들어요"),
    ("좋아요^^", "좋아요"),
    ("고마워요 :)", "고마워요"),
    ("❤️ 사랑해요 👍🏽", "사랑해요"),
    ("**괜찮아요** 정말로", "괜찮아요 정말로"),
    ("<b>태그</b>는 <br>지워요", "태그는. 지워요"),
    ("A &amp; B", "에이 앤드 비"),
    ("[안내](https://example.org) 참고", "안내 참고"),
    ("자세한 건 https://example.org/a?b=1 에서", "자세한 건 에서"),
    ("# 오늘의 팁\n- 물을 마셔요\n- 잠을 자요", "오늘의 팁. 물을 마셔요. 잠을 자요"),
    ("`코드`", "코드"),
    # --- punctuation and whitespace
    ("  안녕하세요   반가워요  ", "안녕하세요 반가워요"),
    ("그래서... 힘들었어요...", "그래서, 힘들었어요."),
    ("정말요?!", "정말요?"),
    ("정말요…?", "정말요?"),
    ("“괜찮아요”라고 했어요", "괜찮아요라고 했어요"),
    ("(웃음) 그렇죠", "웃음 그렇죠"),
    ("1,2,3", "일, 이, 삼"),
    ("좋아요~!", "좋아요!"),
    ("漢字 섞인 글", "섞인 글"),
    ("", ""),
    ("😀😀", ""),
    # --- more of everyday replies
    ("30~40대", "삼십에서 사십 대"),
    ("1년 6개월", "일 년 육 개월"),
    ("5점 만점에 4점", "오 점 만점에 사 점"),
    ("월 200만 원", "월 이백만 원"),
    ("1.5배, 2배", "일 점 오 배, 두 배"),
    ("제2의 고향", "제이의 고향"),
    ("1:1 상담", "일 대 일 상담"),
    ("3:30 PM", "오후 세 시 삼십 분"),
    ("Wi-Fi, e-mail, K-pop", "와이파이, 이메일, 케이팝"),
    ("1990s", "천구백구십 년대"),
    ("3%p 올랐어요", "삼 퍼센트포인트 올랐어요"),
    ("☎ 1588-9191", "전화 일오팔팔 구일구일"),
    ("기온 -5°C", "기온 영하 오 도"),
    ("1577 0199", "일오칠칠 공일구구"),
    ("하루 3번, 7~8시간", "하루 세 번, 일곱에서 여덟 시간"),
    ("3 대 2로 이겼어요", "삼 대 이로 이겼어요"),
    ("6~10월", "유월에서 시월"),
    # --- single letters of the Korean alphabet (pronunciation feedback) and jamo emoticons
    ("ㄱ 받침이 ㅇ으로 바뀌어요", "기역 받침이 이응으로 바뀌어요"),
    ("ㅏ와 ㅓ", "아와 어"),
    ("ㅋㅋㅋ 웃겨요 ㅎㅎ", "웃겨요"),
    ("힘들어요 ㅠ", "힘들어요"),
]


@pytest.mark.parametrize(("text", "spoken"), CASES, ids=[c[0][:20] or "empty" for c in CASES])
def test_normalize_table(text, spoken):
    assert normalize(text) == spoken


def test_table_is_large():
    assert len(CASES) >= 80


@pytest.mark.parametrize(("n", "sino", "native"), [
    (0, "영", "영"),
    (1, "일", "한"),
    (10, "십", "열"),
    (19, "십구", "열아홉"),
    (20, "이십", "스무"),
    (99, "구십구", "아흔아홉"),
    (100, "백", "백"),
    (110, "백십", "백열"),
    (10000, "만", "만"),
    (10001, "만 일", "만 한"),
    (20000, "이만", "이만"),
    (100000000, "일억", "일억"),
    (123456789, "일억 이천삼백사십오만 육천칠백팔십구", "일억 이천삼백사십오만 육천칠백여든아홉"),
    (10**12, "일조", "일조"),
])  # fmt: skip
def test_numerals(n, sino, native):
    assert read_sino(n) == sino
    assert read_native(n) == native


SPEAKABLE = re.compile(r"^[가-힣 .,?!]*$")


@pytest.mark.parametrize(
    "text",
    [c[0] for c in CASES]
    + [
        "가격은 $3.99, ₩1,200, €0.5예요 :D",
        "<p>오늘 <i>10</i>% 할인!</p> ☎ 02)123-4567",
        "1/0, 0/0, 99:99, 2025-02-30, 1.2.3, v2.0.1",
        "A1 B2 C3 x²",
    ],
)
def test_output_is_hangul_and_plain_punctuation(text):
    spoken = normalize(text)
    assert SPEAKABLE.match(spoken), spoken
    assert "  " not in spoken and spoken == spoken.strip()


def test_normalize_is_idempotent_on_its_output():
    for text, _ in CASES:
        once = normalize(text)
        assert normalize(once) == once


def test_normalize_is_fast():
    sentences = [c[0] for c in CASES]
    normalize(sentences[0])
    start = time.perf_counter()
    for _ in range(5):
        for text in sentences:
            normalize(text)
    per_sentence_ms = (time.perf_counter() - start) * 1000 / (5 * len(sentences))
    assert per_sentence_ms < 1.0


# --- sentences -----------------------------------------------------------------------------------

SPLITS = [
    ("", []),
    ("   ", []),
    ("안녕하세요.", ["안녕하세요."]),
    ("오늘 많이 힘드셨죠. 천천히 이야기해 주세요.", ["오늘 많이 힘드셨죠.", "천천히 이야기해 주세요."]),
    ("정말요? 다행이에요! 잘됐네요.", ["정말요? 다행이에요! 잘됐네요."]),
    ("지금 어디에 계세요? 혼자 계신가요? 제가 함께 있을게요.",
     ["지금 어디에 계세요?", "혼자 계신가요?", "제가 함께 있을게요."]),
    ("네. 그 마음 충분히 이해해요.", ["네. 그 마음 충분히 이해해요."]),
    ("그 마음 충분히 이해해요. 네.", ["그 마음 충분히 이해해요. 네."]),
    ("체온이 36.5도예요. 괜찮아요.", ["체온이 36.5도예요. 괜찮아요."]),
    ("2025. 11. 21. 금요일에 만나요. 그날 기다릴게요.", ["2025. 11. 21. 금요일에 만나요.", "그날 기다릴게요."]),
    ("그래서… 너무 힘들었어요. 이제 괜찮아요.", ["그래서… 너무 힘들었어요.", "이제 괜찮아요."]),
    ("“괜찮아요.” 그렇게 말했어요.", ["“괜찮아요.” 그렇게 말했어요."]),
    ("첫 번째 줄입니다\n두 번째 줄입니다", ["첫 번째 줄입니다", "두 번째 줄입니다"]),
    ("짧아요\n조금 더 긴 줄이에요", ["짧아요 조금 더 긴 줄이에요"]),
    ("자살예방상담전화는 109예요. 정신건강위기상담은 1577-0199예요. 지금 바로 전화해 주세요.",
     ["자살예방상담전화는 109예요.", "정신건강위기상담은 1577-0199예요.", "지금 바로 전화해 주세요."]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "sentences"), SPLITS)
def test_split_sentences(text, sentences):
    assert split_sentences(text) == sentences


def test_split_sentences_cuts_long_pieces_at_commas():
    text = "오늘은 아침부터 비가 와서, " * 12 + "기분이 가라앉았어요."
    pieces = split_sentences(text, max_chars=60)
    assert len(pieces) > 1 and all(len(p) <= 60 for p in pieces)
    assert all(p.endswith(",") for p in pieces[:-1])
    assert " ".join(pieces) == " ".join(text.split())


def test_split_sentences_cuts_unpunctuated_text_after_sentence_endings():
    text = "오늘은 정말 힘든 하루였어요 회사에서 일이 많았고, 집에 와서도 쉬지 못했어요 그래도 이야기하니 좀 나아요"
    assert split_sentences(text, max_chars=40) == [
        "오늘은 정말 힘든 하루였어요",
        "회사에서 일이 많았고, 집에 와서도 쉬지 못했어요",
        "그래도 이야기하니 좀 나아요",
    ]


def test_split_then_normalize_keeps_every_word():
    text = "3시 30분에 만나요. 010-1234-5678로 연락 주세요! 기다릴게요."
    spoken = [normalize(s) for s in split_sentences(text)]
    assert " ".join(spoken) == normalize(text)


# --- command line ----------------------------------------------------------------------------------


def test_cli_normalize_prints_text_and_spoken():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAUM_")}
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "normalize"],
        input="3시 30분에 만나요\n\n109에 전화하세요\n",
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert lines == [
        {"text": "3시 30분에 만나요", "spoken": "세 시 삼십 분에 만나요"},
        {"text": "109에 전화하세요", "spoken": "일공구에 전화하세요"},
    ]


# --- synthesis through the normaliser, in the reply's tone ------------------------------------------

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def espeak():
    from pipeline.backends.espeak import EspeakSynthesizer

    return EspeakSynthesizer(Settings())


@needs_espeak
def test_espeak_reads_numbers_through_the_normaliser(espeak):
    assert espeak.synthesize("109에 전화하세요").wav == espeak.synthesize("일공구에 전화하세요").wav
    assert espeak.synthesize("**3시** 😀").wav == espeak.synthesize("세 시").wav


@needs_espeak
def test_espeak_speaks_long_text_sentence_by_sentence(espeak):
    one = espeak.synthesize("오늘 많이 힘드셨죠.")
    two = espeak.synthesize("오늘 많이 힘드셨죠. 천천히 이야기해 주세요.")
    samples, rate = sf.read(io.BytesIO(two.wav))
    assert rate == two.sample_rate and len(samples) / rate == pytest.approx(two.duration_s, abs=0.01)
    assert two.duration_s > one.duration_s + 0.25  # the second sentence after a pause


@needs_espeak
def test_espeak_tone_is_slower_and_lower_in_crisis_and_brighter_when_happy(espeak):
    def rate_pitch(tone):
        cmd = espeak.command("안녕하세요", tone)
        return int(cmd[cmd.index("-s") + 1]), int(cmd[cmd.index("-p") + 1])

    neutral, crisis, sad, happy = (rate_pitch(t) for t in ("", "crisis", "sadness", "happiness"))
    assert crisis[0] < neutral[0] and crisis[1] < neutral[1]
    assert sad[0] < neutral[0] and sad[1] < neutral[1]
    assert happy[1] > neutral[1]
    assert rate_pitch("no-such-tone") == neutral
    for rate, pitch in (crisis, sad, happy):  # a modest range
        assert 0.8 * neutral[0] <= rate <= 1.1 * neutral[0] and abs(pitch - neutral[1]) <= 10
    text = "지금 많이 힘드시군요. 109에 전화해 주세요."
    assert espeak.synthesize(text, tone="crisis").duration_s > espeak.synthesize(text).duration_s


@needs_espeak
def test_espeak_refuses_text_with_nothing_to_say(espeak):
    with pytest.raises(BackendError):
        espeak.synthesize("😀 ^^ ㅠㅠ")


class ToneRecorder:
    name = "recorder"

    def __init__(self):
        self.calls = []
        self.inner = FakeSynthesizer(Settings())

    def synthesize(self, text, *, tone=""):
        self.calls.append((text, tone))
        return self.inner.synthesize(text, tone=tone)


class TextOnlySynthesizer:
    def __init__(self):
        self.calls = []

    def synthesize(self, text):
        self.calls.append(text)
        return FakeSynthesizer(Settings()).synthesize(text)


FAKES = Settings(transcriber="fake", classifier="fake", responder="fake", synthesizer="fake")


@pytest.mark.parametrize(
    ("said", "tone"),
    [
        ("그냥 죽고 싶어요", "crisis"),
        ("너무 기뻐요", "happiness"),
        ("요즘 우울해요", "sadness"),
        ("오늘 회사 다녀왔어요", "neutral"),
    ],
)
def test_turn_speaks_the_reply_in_its_tone(said, tone):
    recorder = ToneRecorder()
    result = Pipeline(FAKES, synthesizer=recorder).run_text(said)
    # The voice speaks the reply (a crisis reply: its short spoken form) sentence by sentence.
    assert recorder.calls == [(sentence, tone) for sentence in reply_sentences(spoken_text(result.reply))]
    assert result.speech is not None


def test_a_synthesizer_that_takes_no_tone_costs_the_voice_never_the_reply():
    legacy = TextOnlySynthesizer()
    no_fallback = dataclasses.replace(FAKES, synthesizer_fallback="")
    result = Pipeline(no_fallback, synthesizer=legacy).run_text("그냥 죽고 싶어요")
    assert legacy.calls == []  # every Synthesizer takes ``tone``; one that does not is not called twice
    assert result.reply.kind == "crisis" and "109" in result.reply.text
    assert result.speech is None and result.synthesis_error == "synthesis_failed"
    assert "synthesize" in result.degraded


def test_reply_tone_and_synthesize_in_tone():
    assert reply_tone("crisis", "happiness") == "crisis"
    assert reply_tone("empathy", "sadness") == "sadness"
    fake = FakeSynthesizer(Settings())
    calm, plain = synthesize_in_tone(fake, "안녕", "crisis"), synthesize_in_tone(fake, "안녕")
    assert calm.wav != plain.wav and calm.duration_s == plain.duration_s
