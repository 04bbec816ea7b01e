"""Reading checkpoints written by the ``save_checkpoint`` functions in this package.

Checkpoints are plain dicts of tensors, numbers and strings with a ``"format"`` tag; they are loaded
with ``torch.load(weights_only=True)``, so no module is ever unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


def read_checkpoint(path: str | Path, expected_format: str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint dict from ``path`` and check that its ``"format"`` is ``expected_format``.

    Args:
        path: the checkpoint file.
        expected_format: the value the payload's ``"format"`` key must hold.
        map_location: passed on to ``torch.load``.

    Returns:
        The payload dict, unchanged; the caller checks its other keys.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file cannot be read with ``weights_only=True``, or is not a dict of that format.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises several kinds for foreign or broken files
        raise ValueError(f"{path} is not a readable checkpoint: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise ValueError(f"{path} is not a {expected_format} checkpoint")
    return payload
