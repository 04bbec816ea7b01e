"""The training loop the BERT and KoGPT2 fine-tune scripts share: steps, evaluation, early stopping."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from training.finetune_steps import Evaluation, plan_steps, train_until_best


def run(scores: list[float], *, n_examples=8, batch_size=2, epochs=10, eval_every=1, patience=2):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    data = torch.randn(n_examples, 3)
    config = SimpleNamespace(batch_size=batch_size, epochs=epochs, max_steps=0, warmup_ratio=0.0,
                             eval_every=eval_every, seed=0)  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    plan = plan_steps(n_examples, config, optimizer)
    seen: list[list[int]] = []
    saved: list[int] = []
    pending = iter(scores)

    def batch_loss(rows: list[int]) -> torch.Tensor:
        seen.append(rows)
        return model(data[rows]).pow(2).mean()

    def evaluate() -> Evaluation:
        score = next(pending)
        return Evaluation(fields={"dev_score": score}, score=score, detail={"score": score})

    outcome = train_until_best(
        model, plan, optimizer, n_examples=n_examples, batch_size=batch_size, patience=patience,
        batch_loss=batch_loss, evaluate=evaluate, save=lambda: saved.append(len(seen)),
    )  # fmt: skip
    return outcome, seen, saved, plan, model


def test_stops_after_patience_evaluations_without_improvement_and_keeps_the_best():
    outcome, seen, saved, _, _ = run([0.1, 0.5, 0.4, 0.5, 0.9])
    assert outcome.stopped_early and outcome.steps == 4 and len(seen) == 4
    assert outcome.best_step == 2 and outcome.best.detail == {"score": 0.5}
    assert saved == [1, 2], "saved at each improvement only; a tie is no improvement"
    assert [h["dev_score"] for h in outcome.history] == [0.1, 0.5, 0.4, 0.5]
    assert [h["step"] for h in outcome.history] == [1, 2, 3, 4]
    assert outcome.history[1]["epoch"] == 0.5 and "train_loss" in outcome.history[1]


def test_runs_every_epoch_over_shuffled_batches_and_evaluates_the_last_step():
    outcome, seen, saved, plan, model = run([0.1, 0.2, 0.3], n_examples=5, epochs=2, eval_every=0, patience=9)
    assert plan.steps_per_epoch == 3 and outcome.steps == 6 and not outcome.stopped_early
    assert [h["step"] for h in outcome.history] == [3, 6], "once per epoch when eval_every is 0"
    assert sorted(r for rows in seen[:3] for r in rows) == [0, 1, 2, 3, 4], "every example once per epoch"
    assert seen[:3] != seen[3:], "reshuffled each epoch"
    assert outcome.best_step == 6 and saved == [3, 6]
    assert model.weight.grad is not None
