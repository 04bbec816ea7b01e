"""The optimizer step every gradient-trained script shares.

DeepSpeech2, wav2vec 2.0, Tacotron and the two Hugging Face fine-tunes (through
``finetune_steps.train_until_best``) all end a batch the same way: clip the gradient norm, step
the optimizer and the learning-rate schedule. Keeping that in one place keeps the order (clear
before backward, clip before step, schedule after step) and the non-finite guard the same
everywhere. Gradients stay in place after a step (until the next one clears them), so a caller
that accumulates over several batches clears them itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


def apply_gradients(
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    params: Iterable[torch.nn.Parameter],
    grad_clip: float,
    *,
    skip_non_finite: bool = False,
) -> torch.Tensor | None:
    """Clip the accumulated gradients, then step the optimizer and the schedule.

    Args:
        optimizer: holds the accumulated gradients of ``params``.
        scheduler: a learning-rate schedule stepped once per optimizer step.
        params: the parameters whose gradient norm is clipped.
        grad_clip: max total gradient norm; 0 or less turns clipping off.
        skip_non_finite: when the gradient norm is inf or NaN, take no step (a bad batch must
            not wreck the weights). Needs ``grad_clip`` > 0.

    Returns:
        The total gradient norm before clipping (``None`` without clipping); a non-finite norm
        means the step was skipped.
    """
    norm = torch.nn.utils.clip_grad_norm_(params, grad_clip) if grad_clip > 0 else None
    if skip_non_finite and norm is not None and not torch.isfinite(norm):
        return norm
    optimizer.step()
    scheduler.step()
    return norm


def train_step(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    params: Iterable[torch.nn.Parameter],
    grad_clip: float,
    *,
    skip_non_finite: bool = False,
) -> torch.Tensor | None:
    """Clear the gradients, backpropagate ``loss`` and take one step; see :func:`apply_gradients`."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    return apply_gradients(optimizer, scheduler, params, grad_clip, skip_non_finite=skip_non_finite)
