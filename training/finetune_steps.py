"""The step plan and training loop both Hugging Face fine-tune scripts share (emotion BERT, KoGPT2).

Steps per epoch from the batch size, capped by ``max_steps``; a linear schedule with warm-up;
evaluation every ``eval_every`` steps or once per epoch; a seeded generator for the shuffles;
early stopping on the dev score, keeping the best model.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from training.loop import train_step


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


@dataclass
class Evaluation:
    """One dev-set evaluation: ``fields`` go into the history, ``score`` ranks (higher is better)."""

    fields: dict[str, Any]
    score: float
    detail: Any = None  # kept with the best step (e.g. the full report with the confusion matrix)


@dataclass
class TrainOutcome:
    steps: int
    best_step: int
    best: Evaluation
    stopped_early: bool
    history: list[dict[str, Any]]


def train_until_best(
    model: torch.nn.Module,
    plan: StepPlan,
    optimizer: torch.optim.Optimizer,
    *,
    n_examples: int,
    batch_size: int,
    patience: int,
    batch_loss: Callable[[list[int]], torch.Tensor],
    evaluate: Callable[[], Evaluation],
    save: Callable[[], None],
) -> TrainOutcome:
    """The training loop both fine-tune scripts share: shuffled batches, clipping, early stopping.

    Each step takes the loss of one batch of example indices (``batch_loss``), clips the gradient
    norm at 1 and steps the optimizer and schedule. Every ``plan.eval_every`` steps and at the last
    step the model is evaluated; the best so far is saved (``save``), and training stops after
    ``patience`` evaluations without improvement.
    """
    from tqdm import tqdm

    history: list[dict[str, Any]] = []
    best: tuple[int, Evaluation] | None = None
    stale, step, running_loss, running_n = 0, 0, 0.0, 0
    stopped_early = False
    progress = tqdm(total=plan.total_steps, desc="fine-tune", file=sys.stderr)
    while step < plan.total_steps and not stopped_early:
        order = torch.randperm(n_examples, generator=plan.generator).tolist()
        for i in range(0, len(order), batch_size):
            model.train()
            loss = batch_loss(order[i : i + batch_size])
            train_step(loss, optimizer, plan.scheduler, model.parameters(), grad_clip=1.0)
            step += 1
            running_loss, running_n = running_loss + loss.item(), running_n + 1
            progress.update(1)
            if step % plan.eval_every == 0 or step == plan.total_steps:
                evaluation = evaluate()
                history.append({
                    "step": step, "epoch": round(step / plan.steps_per_epoch, 2),
                    "train_loss": round(running_loss / running_n, 4), **evaluation.fields,
                })  # fmt: skip
                running_loss, running_n = 0.0, 0
                progress.set_postfix(loss=history[-1]["train_loss"], **evaluation.fields)
                if best is None or evaluation.score > best[1].score:
                    best, stale = (step, evaluation), 0
                    save()
                else:
                    stale += 1
                    if stale >= patience:
                        stopped_early = True
                        break
            if step >= plan.total_steps:
                break
    progress.close()
    assert best is not None  # at least one evaluation ran: the last step always evaluates
    return TrainOutcome(steps=step, best_step=best[0], best=best[1], stopped_early=stopped_early, history=history)
