"""Command-line and YAML overrides for the config dataclasses of the speech training scripts.

Every field of a config dataclass becomes ``--prefix-field-name``; tuples and lists are given
as JSON (``--conv-channels '[32, 32]'``), booleans as ``true``/``false``. A YAML (or JSON) file
given with ``--config`` holds the same fields, top-level for the training options and under a
section (``model:``, ``features:``, ``augment:``) for the others; the command line wins.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def _field_parser(cls: type, f: dataclasses.Field) -> Any:
    hint = typing.get_type_hints(cls)[f.name]
    origin = typing.get_origin(hint)
    if hint is bool:
        return parse_bool
    if hint in (int, float, str):
        return hint
    if origin in (tuple, list) or hint in (tuple, list):
        return json.loads
    return str


def add_dataclass_arguments(
    parser: argparse.ArgumentParser, cls: type, prefix: str = "", skip: Iterable[str] = (), title: str = ""
) -> None:
    """``--{prefix}{field}`` for every field of ``cls`` not in ``skip``; unset ones stay ``None``."""
    group = parser.add_argument_group(title or cls.__name__)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        flag = "--" + (prefix + f.name).replace("_", "-")
        group.add_argument(
            flag,
            dest=prefix + f.name,
            type=_field_parser(cls, f),
            default=None,
            metavar=f.name.upper(),
            help=f"default: {json.dumps(default, ensure_ascii=False)}",
        )


def overrides(args: argparse.Namespace, cls: type, prefix: str = "") -> dict[str, Any]:
    """The fields of ``cls`` given on the command line (prefix removed)."""
    out = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, prefix + f.name, None)
        if value is not None:
            out[f.name] = value
    return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    """A YAML or JSON mapping of overrides."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith(".json"):
        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text) or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping of options")
    return dict(data)


def build(cls: type, *layers: Mapping[str, Any]) -> Any:
    """``cls(**merged)`` with later layers winning; unknown keys are an error."""
    names = {f.name for f in dataclasses.fields(cls)}
    merged: dict[str, Any] = {}
    for layer in layers:
        unknown = set(layer) - names
        if unknown:
            raise ValueError(f"unknown {cls.__name__} options: {sorted(unknown)}")
        merged.update(layer)
    return cls(**merged)
