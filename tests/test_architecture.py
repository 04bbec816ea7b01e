"""The import contracts in pyproject.toml ([tool.importlinter]) hold, and they catch an arrow running back up.

``lint-imports`` reads the contracts: webapp → pipeline → models and training → pipeline, models;
nothing imports training; inside pipeline/ the wings are layered, care and pronunciation apart,
backends apart from each other, and no import circles at any depth.
"""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import get_args, get_type_hints

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(cwd: Path, *args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_import_contract_is_kept():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _pipeline_only_config(tmp_path: Path) -> Path:
    """The pipeline/ contracts of pyproject.toml, written for a copy of pipeline/ alone."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    contracts = [c for c in config["contracts"] if c["id"].startswith(("pipeline-", "care-", "backends-"))]
    assert {c["id"] for c in contracts} >= {"pipeline-layers", "pipeline-acyclic", "care-apart", "backends-apart"}
    lines = ["[importlinter]", "root_package = pipeline", ""]
    for contract in contracts:
        lines.append(f"[importlinter:contract:{contract['id']}]")
        for key, value in contract.items():
            if key == "id":
                continue
            if isinstance(value, list):
                lines.append(f"{key} =")
                lines.extend(f"    {item}" for item in value)
            else:
                lines.append(f"{key} = {value}")
        lines.append("")
    path = tmp_path / ".importlinter"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _copy_pipeline(tmp_path: Path) -> Path:
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT / "pipeline", copy / "pipeline", ignore=shutil.ignore_patterns("__pycache__", "assets", "data")
    )
    return copy


def _add_import(module: Path, line: str) -> None:
    text = module.read_text(encoding="utf-8")
    marker = "from __future__ import annotations\n"
    assert marker in text
    module.write_text(text.replace(marker, marker + line + "\n", 1), encoding="utf-8")


def test_an_arrow_from_a_lower_wing_back_up_to_the_turn_breaks_the_contracts(tmp_path):
    config = _pipeline_only_config(tmp_path)
    src = _copy_pipeline(tmp_path)
    assert _lint(src, "--config", str(config), pythonpath=src).returncode == 0

    _add_import(src / "pipeline" / "text" / "normalize.py", "import pipeline.turn  # noqa: F401")
    result = _lint(src, "--config", str(config), pythonpath=src)

    assert result.returncode != 0
    assert "pipeline.text.normalize -> pipeline.turn" in result.stdout
    assert "BROKEN" in result.stdout


def test_one_backend_importing_another_breaks_the_contracts(tmp_path):
    config = _pipeline_only_config(tmp_path)
    src = _copy_pipeline(tmp_path)

    _add_import(src / "pipeline" / "backends" / "kokoro.py", "from pipeline.backends import espeak  # noqa: F401")
    result = _lint(src, "--config", str(config), pythonpath=src)

    assert result.returncode != 0
    assert "pipeline.backends.kokoro is not allowed to import pipeline.backends.espeak" in " ".join(
        result.stdout.split()
    )


# --- typed seams ------------------------------------------------------------------------------


def test_literal_types_name_exactly_the_values_the_code_uses():
    from pipeline import turn, types
    from pipeline.care.assessor import CATEGORY_NAMES_KO
    from pipeline.pronunciation import alignment, feedback

    # The runtime tuples are read from the Literal types (one spelling); the tables elsewhere
    # that name every value must name the same ones, in the same order.
    assert tuple(types.EMOTION_NAMES_KO) == types.EMOTION_LABELS
    assert tuple(CATEGORY_NAMES_KO) == types.RISK_CATEGORIES
    assert tuple(feedback.RATING_NAMES_KO) == types.RATINGS
    assert types.ALIGNMENT_STATUSES == (alignment.CORRECT, alignment.SUBSTITUTED, alignment.OMITTED, alignment.INSERTED)
    assert set(get_args(types.StageVerb)) == set(turn.STAGE_VERBS.values()) == set(turn.FAILURE_CODES)


def test_the_pipeline_hands_out_its_stages_as_their_protocols():
    from pipeline.stages import EmotionClassifier, Responder, Synthesizer, Transcriber
    from pipeline.turn import Pipeline

    expected = {
        "transcriber": Transcriber,
        "classifier": EmotionClassifier,
        "responder": Responder,
        "synthesizer": Synthesizer,
    }
    for stage, protocol in expected.items():
        assert get_type_hints(getattr(Pipeline, stage).fget)["return"] is protocol


def test_every_registered_synthesizer_takes_a_tone():
    from pipeline import registry

    for name in registry.SYNTHESIZERS:
        synthesize = registry.backend_class("synthesizer", name).synthesize
        tone = inspect.signature(synthesize).parameters.get("tone")
        assert tone is not None and tone.kind is inspect.Parameter.KEYWORD_ONLY and tone.default == "", name
