"""The step plan both Hugging Face fine-tune scripts share (emotion BERT, KoGPT2).

Steps per epoch from the batch size, capped by ``max_steps``; a linear schedule with warm-up;
evaluation every ``eval_every`` steps or once per epoch; a seeded generator for the shuffles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import torch


class StepSettings(Protocol):
    batch_size: int
    epochs: int
    max_steps: int
    warmup_ratio: float
    eval_every: int
    seed: int


@dataclass
class StepPlan:
    steps_per_epoch: int
    total_steps: int
    eval_every: int
    scheduler: Any
    generator: torch.Generator


def plan_steps(n_examples: int, config: StepSettings, optimizer: torch.optim.Optimizer) -> StepPlan:
    """The plan for ``n_examples`` training examples under ``config``."""
    from transformers import get_linear_schedule_with_warmup

    steps_per_epoch = math.ceil(n_examples / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps), total_steps)
    return StepPlan(
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        eval_every=config.eval_every or steps_per_epoch,
        scheduler=scheduler,
        generator=torch.Generator().manual_seed(config.seed),
    )
