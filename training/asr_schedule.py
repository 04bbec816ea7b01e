"""The tri-stage learning-rate schedule used for the speech recognisers.

Three phases over the optimizer steps (as in SpecAugment and wav2vec 2.0 training):

1. warm-up: linear from ``init_scale × peak`` to ``peak``;
2. hold: ``peak``;
3. decay: exponential from ``peak`` down to ``final_scale × peak``, then constant.

``TriStageSchedule`` is a plain callable object (numbers only), so a ``LambdaLR`` built on it
saves and restores it with the checkpoint (``weights_only`` loading included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass
class TriStageSchedule:
    """Multiplier on the peak learning rate for each step (``LambdaLR`` calls it with the step)."""

    warmup_steps: int
    hold_steps: int
    decay_steps: int
    init_scale: float = 0.01
    final_scale: float = 0.05

    def __post_init__(self) -> None:
        if min(self.warmup_steps, self.hold_steps, self.decay_steps) < 0:
            raise ValueError("phase lengths must not be negative")
        if not (0 < self.init_scale <= 1 and 0 < self.final_scale <= 1):
            raise ValueError("init_scale and final_scale must be in (0, 1]")

    @classmethod
    def from_ratios(
        cls,
        total_steps: int,
        warmup_ratio: float = 0.1,
        hold_ratio: float = 0.4,
        init_scale: float = 0.01,
        final_scale: float = 0.05,
    ) -> TriStageSchedule:
        """Phases as shares of ``total_steps``; the decay takes whatever is left."""
        if warmup_ratio < 0 or hold_ratio < 0 or warmup_ratio + hold_ratio > 1:
            raise ValueError("need warmup_ratio, hold_ratio >= 0 with a sum of at most 1")
        warmup = int(round(total_steps * warmup_ratio))
        hold = int(round(total_steps * hold_ratio))
        return cls(warmup, hold, max(0, total_steps - warmup - hold), init_scale, final_scale)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.init_scale + (1.0 - self.init_scale) * step / self.warmup_steps
        step -= self.warmup_steps
        if step < self.hold_steps:
            return 1.0
        step -= self.hold_steps
        if step < self.decay_steps:
            return math.exp(math.log(self.final_scale) * step / self.decay_steps)
        return self.final_scale


def tri_stage_scheduler(
    optimizer: torch.optim.Optimizer, schedule: TriStageSchedule
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` that follows ``schedule``; the optimizer's ``lr`` is the peak."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
