"""The Whisper options benchmark's risk figure: what a recognition error costs in risk level."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from benchmarks.whisper_options import main, risk_kept


def _assess(text: str) -> SimpleNamespace:
    return SimpleNamespace(level="high" if "죽고" in text else "watch" if "힘들" in text else "none")


def test_risk_kept_counts_levels_that_survive_recognition():
    refs = ["죽고 싶어요", "죽고 싶다", "너무 힘들어요", "밥 먹었어요"]
    hyps = ["죽고 싶어요", "주꼬 싶다", "너무 힘들어요", "밥 먹었어요"]  # one high misheard
    assert risk_kept(refs, hyps, _assess) == {"risk_level_kept": 0.75, "high_kept": "1/2"}


def test_an_unknown_option_is_refused():
    with pytest.raises(SystemExit):
        main(["--options", "beam5_window7"])
