"""One way for every training script to turn its config dataclass into command-line options.

Every init field of a config dataclass becomes ``--{prefix}{field-name}`` with the field's type:

- ``int``, ``float``, ``str``: one value of that type;
- booleans: ``--flag`` (true), ``--flag true|false`` (also yes/no, on/off, 1/0) or ``--no-flag``;
- tuples and lists: one or more values (``--train a.tsv b.tsv``) or one JSON list, which nested
  fields need (``--conv-kernel-sizes '[[41, 11], [21, 11]]'``).

An option left out stays out of the overrides, so the dataclass default (or a value from a
``--config`` YAML/JSON file) applies; the command line wins over the file. The help of each
option is the field's ``metadata["help"]``, else the comment after the field in the class body,
else its entry under ``Attributes:`` in the class docstring, followed by the default.

``--set FIELD=VALUE`` style options (a list of assignments for a second dataclass) go through
:func:`parse_assignments`.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import io
import json
import re
import tokenize
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.settings import parse_bool as read_flag


def parse_bool(text: str) -> bool:
    """``true``/``false`` (and yes/no, on/off, 1/0, any case) as a bool, read as ``MAUM_*`` flags are.

    Raises:
        argparse.ArgumentTypeError: for any other text (argparse reports it as a usage error).
    """
    try:
        return read_flag(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _field_hint(cls: type, name: str) -> Any:
    hint = typing.get_type_hints(cls)[name]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _is_sequence(hint: Any) -> bool:
    return typing.get_origin(hint) in (tuple, list) or hint in (tuple, list)


def _element_type(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not Ellipsis]
    if len(args) == 1 and args[0] in (int, float, str, bool):
        return parse_bool if args[0] is bool else args[0]
    return None


def _to_tuples(value: Any) -> Any:
    return tuple(_to_tuples(v) for v in value) if isinstance(value, list) else value


def _comment_help(cls: type) -> dict[str, str]:
    """``field: type = default  # this text`` → {field: text}, for ``cls`` and its bases."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        line_field: dict[int, str] = {}
        for number, line in enumerate(source.splitlines(), start=1):
            match = re.match(r"\s+([A-Za-z_]\w*)\s*:", line)
            if match:
                line_field[number] = match.group(1)
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT and token.start[0] in line_field:
                found[line_field[token.start[0]]] = token.string.lstrip("#").strip()
    return found


def _docstring_help(cls: type) -> dict[str, str]:
    """Entries of the Google-style ``Attributes:`` section of ``cls``'s docstring."""
    doc = inspect.getdoc(cls) or ""
    found: dict[str, str] = {}
    in_section, current = False, ""
    for line in doc.splitlines():
        if line.strip() == "Attributes:":
            in_section = True
            continue
        if not in_section:
            continue
        if line and not line.startswith(" "):
            break
        match = re.match(r"    ([A-Za-z_]\w*)(?: \(.*?\))?: (.*)", line)
        if match:
            current = match.group(1)
            found[current] = match.group(2).strip()
        elif current and line.strip():
            found[current] += " " + line.strip()
    return found


def field_help(cls: type) -> dict[str, str]:
    """The help text of every field of dataclass ``cls`` (metadata, then comments, then docstring)."""
    texts = {**_docstring_help(cls), **_comment_help(cls)}
    for f in dataclasses.fields(cls):
        if "help" in f.metadata:
            texts[f.name] = str(f.metadata["help"])
    return texts


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def add_config_options(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    prefix: str = "",
    skip: Iterable[str] = (),
    required: Iterable[str] = (),
    title: str = "",
) -> None:
    """Add ``--{prefix}{field}`` for every init field of dataclass ``cls`` not in ``skip``.

    Args:
        parser: the script's parser; the options go into a group titled ``title``.
        cls: the config dataclass.
        prefix: put before each field name (``feature_`` gives ``--feature-kind``), and
            stripped again by :func:`config_overrides`.
        skip: fields that are not options (derived elsewhere).
        required: fields the command line must give.
        title: the heading of the group in ``--help`` (default: the class name).
    """
    skip, required = set(skip), set(required)
    group = parser.add_argument_group(title or cls.__name__)
    texts = field_help(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        dest = prefix + f.name
        flag = "--" + dest.replace("_", "-")
        hint = _field_hint(cls, f.name)
        default = json.dumps(_default_of(f), ensure_ascii=False)
        text = texts.get(f.name, "")
        helptext = f"{text} (default: {default})" if text else f"default: {default}"
        common: dict[str, Any] = {"dest": dest, "default": None, "required": f.name in required}
        if hint is bool:
            group.add_argument(
                flag, nargs="?", const=True, type=parse_bool, metavar="true|false", help=helptext, **common
            )
            negative = "--no-" + dest.replace("_", "-")
            group.add_argument(negative, dest=dest, action="store_false", help=argparse.SUPPRESS)
        elif _is_sequence(hint):
            group.add_argument(flag, nargs="+", metavar=f.name.upper(), help=helptext, **common)
        else:
            kind = hint if hint in (int, float, str) else str
            group.add_argument(flag, type=kind, metavar=f.name.upper(), help=helptext, **common)


def _sequence_value(values: Sequence[str], hint: Any, flag: str) -> tuple:
    if len(values) == 1 and values[0].lstrip().startswith("["):
        try:
            return _to_tuples(json.loads(values[0]))
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{flag}: not a JSON list: {values[0]!r} ({exc})") from exc
    convert = _element_type(hint)
    if convert is None:
        raise SystemExit(f"{flag} takes a JSON list, e.g. {flag} '[[41, 11], [21, 11]]'")
    try:
        return tuple(convert(v) for v in values)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise SystemExit(f"{flag}: {exc}") from exc


def config_overrides(args: argparse.Namespace, cls: type, prefix: str = "") -> dict[str, Any]:
    """The fields of ``cls`` given on the command line, by field name (prefix removed)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, prefix + f.name, None)
        if value is None:
            continue
        hint = _field_hint(cls, f.name)
        if _is_sequence(hint) and isinstance(value, list):
            value = _sequence_value(value, hint, "--" + (prefix + f.name).replace("_", "-"))
        out[f.name] = value
    return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    """A YAML or JSON file of option overrides, as a dict.

    Raises:
        ValueError: when the file does not hold a mapping.
    """
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith(".json"):
        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text) or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping of options")
    return dict(data)


def build_config(cls: type, *layers: Mapping[str, Any]) -> Any:
    """``cls(**merged)`` with later layers winning.

    Raises:
        ValueError: naming the keys that are not fields of ``cls``.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    merged: dict[str, Any] = {}
    for layer in layers:
        unknown = set(layer) - names
        if unknown:
            raise ValueError(f"unknown {cls.__name__} options: {sorted(unknown)}")
        merged.update(layer)
    return cls(**merged)


def parse_config(
    cls: type,
    argv: Sequence[str] | None = None,
    *,
    description: str = "",
    required: Iterable[str] = (),
    skip: Iterable[str] = (),
) -> Any:
    """Parse ``argv`` into an instance of ``cls`` when the script has no other options."""
    parser = argparse.ArgumentParser(description=description)
    add_config_options(parser, cls, required=required, skip=skip, title="options")
    return build_config(cls, config_overrides(parser.parse_args(argv), cls))


def parse_assignments(pairs: Sequence[str], cls: type, option: str = "--set") -> dict[str, Any]:
    """``FIELD=VALUE`` strings → values for dataclass ``cls`` (JSON values, or plain strings).

    Raises:
        SystemExit: naming ``option`` when a pair is not ``FIELD=VALUE`` with a field of ``cls``.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or name not in names:
            raise SystemExit(f"{option} expects FIELD=VALUE with a {cls.__name__} field, got {pair!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[name] = tuple(value) if isinstance(value, list) else value
    return out
