"""Forms of the review pages (WTForms). Posting forms carry a CSRF token; the list filter is a GET form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, Form, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from pipeline.types import EMOTION_LABELS, EMOTION_NAMES_KO

#: A reason for an export (or a deletion) must say at least this much.
MIN_REASON_CHARS = 5
MAX_REASON_CHARS = 500
MAX_NOTE_CHARS = 5000
MAX_SEARCH_CHARS = 200

# value -> label (WTForms' shorthand; tuples are deprecated in WTForms 3.3).
RISK_CHOICES = {"": "모두", "high": "높음", "watch": "주의", "none": "없음"}
EMOTION_CHOICES = {"": "모두", **{label: EMOTION_NAMES_KO[label] for label in EMOTION_LABELS}}
REVIEWED_CHOICES = {"": "모두", "no": "확인 전", "yes": "확인함"}


class FilterForm(Form):
    """The conversation list's filters, read from the query string."""

    date_from = DateField("시작일", validators=[Optional()])
    date_to = DateField("종료일", validators=[Optional()])
    risk = SelectField("위험도", choices=RISK_CHOICES, default="", validators=[Optional()])
    emotion = SelectField("주된 감정", choices=EMOTION_CHOICES, default="", validators=[Optional()])
    reviewed = SelectField("확인 여부", choices=REVIEWED_CHOICES, default="", validators=[Optional()])
    q = StringField("글 찾기", validators=[Optional(), Length(max=MAX_SEARCH_CHARS)])


def reason_field(label: str) -> TextAreaField:
    """A required free-text reason (for a deletion or an export) between the allowed lengths."""
    return TextAreaField(
        label,
        validators=[
            DataRequired("사유를 적어 주세요."),
            Length(
                min=MIN_REASON_CHARS,
                max=MAX_REASON_CHARS,
                message=f"사유는 {MIN_REASON_CHARS}자 이상 {MAX_REASON_CHARS}자 이하로 적어 주세요.",
            ),
        ],
    )


class NoteForm(FlaskForm):
    """A counsellor's note on a conversation (required, up to ``MAX_NOTE_CHARS`` characters)."""

    body = TextAreaField(
        "메모",
        validators=[
            DataRequired("메모 내용을 적어 주세요."),
            Length(max=MAX_NOTE_CHARS, message=f"메모는 {MAX_NOTE_CHARS}자까지 남길 수 있어요."),
        ],
    )


class ReviewForm(FlaskForm):
    """Only the CSRF token: the button says it all."""


class ExportForm(FlaskForm):
    """What to export (one conversation, or the list's filters carried in hidden fields), how, and why."""

    conversation = HiddenField(validators=[Optional(), Regexp("^[0-9a-f]{32}$")])
    date_from = HiddenField()
    date_to = HiddenField()
    risk = HiddenField()
    emotion = HiddenField()
    reviewed = HiddenField()
    q = HiddenField()
    format = RadioField(
        "파일 형식",
        choices={"csv": "CSV (엑셀)", "json": "JSON"},
        default="csv",
        validators=[DataRequired("파일 형식을 골라 주세요.")],
    )
    reason = reason_field("내보내는 사유")
