"""The one command line of the training scripts (``training/cli.py``) and the shared optimizer step."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field

import pytest
import torch

from models.deepspeech2 import DeepSpeech2Config
from training import finetune_emotion_bert, finetune_kogpt2, finetune_wav2vec2, train_deepspeech2
from training.cli import add_config_options, build_config, config_overrides, parse_assignments, parse_config
from training.loop import apply_gradients, train_step
from training.train_emotion_head import HeadTrainingConfig
from training.train_tacotron import TrainConfig as TacotronTrainConfig


@dataclass(frozen=True)
class _Demo:
    """A config with one field of every kind.

    Attributes:
        rate: documented only here, in the docstring.
    """

    name: str = "base"  # the name the comment documents
    count: int = 3
    rate: float = 0.5
    shuffle: bool = True
    files: tuple[str, ...] = ("a.tsv",)
    sizes: tuple[tuple[int, int], ...] = ((1, 2),)
    tag: str = field(default="x", metadata={"help": "help from the field metadata"})


def _parse(argv: list[str], cls: type = _Demo, **kwargs):
    parser = argparse.ArgumentParser()
    add_config_options(parser, cls, **kwargs)
    return build_config(cls, config_overrides(parser.parse_args(argv), cls))


def test_no_options_give_the_dataclass_defaults():
    assert _parse([]) == _Demo()
    for cls in (HeadTrainingConfig, TacotronTrainConfig, finetune_wav2vec2.FinetuneConfig, DeepSpeech2Config):
        assert _parse([], cls) == cls()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--shuffle"], True),
        (["--no-shuffle"], False),
        (["--shuffle", "false"], False),
        (["--shuffle", "NO"], False),
        (["--shuffle", "on"], True),
    ],
)
def test_every_boolean_spelling_the_scripts_used_still_works(argv, expected):
    assert _parse(argv).shuffle is expected


def test_a_boolean_that_is_not_true_or_false_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        _parse(["--shuffle", "maybe"])
    assert "expected true or false, not 'maybe'" in capsys.readouterr().err


def test_sequences_take_several_values_or_one_json_list():
    assert _parse(["--files", "x.tsv", "y.tsv"]).files == ("x.tsv", "y.tsv")
    assert _parse(["--files", '["x.tsv"]']).files == ("x.tsv",)
    assert _parse(["--sizes", "[[41, 11], [21, 11]]"]).sizes == ((41, 11), (21, 11))
    with pytest.raises(SystemExit, match="JSON list"):
        _parse(["--sizes", "41", "11"])


def test_types_prefix_and_skip():
    cfg = _parse(["--count", "7", "--rate", "1e-3", "--name", "run"])
    assert (cfg.count, cfg.rate, cfg.name) == (7, 1e-3, "run")
    parser = argparse.ArgumentParser()
    add_config_options(parser, _Demo, prefix="demo_", skip=("tag",))
    args = parser.parse_args(["--demo-count", "9"])
    assert config_overrides(args, _Demo, "demo_") == {"count": 9}
    with pytest.raises(SystemExit):
        parser.parse_args(["--demo-tag", "y"])


def test_help_comes_from_metadata_comments_and_docstring_with_the_default(capsys):
    with pytest.raises(SystemExit):
        _parse(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert 'the name the comment documents (default: "base")' in text
    assert "documented only here, in the docstring. (default: 0.5)" in text
    assert 'help from the field metadata (default: "x")' in text


def test_required_fields_are_named_when_missing(capsys):
    with pytest.raises(SystemExit):
        finetune_emotion_bert.parse_args(["--base", "somewhere"])
    assert "--out" in capsys.readouterr().err
    cfg = finetune_kogpt2.parse_args(["--base", "b", "--out", "o", "--qa", "one.csv", "two.csv"])
    assert cfg.qa == ("one.csv", "two.csv") and cfg.epochs == finetune_kogpt2.KoGPT2FinetuneConfig.epochs


def test_the_bert_script_keeps_its_option_names_and_defaults():
    cfg = finetune_emotion_bert.parse_args(
        ["--base", "b", "--out", "o", "--class-weights", "false", "--train", "t.csv", "--dev", ""]
    )
    defaults = finetune_emotion_bert.BertFinetuneConfig()
    assert (cfg.class_weights, cfg.train, cfg.dev) == (False, ("t.csv",), "")
    assert cfg.lr == defaults.lr and cfg.optimizer == defaults.optimizer


def test_the_deepspeech2_command_line_layers_file_and_options(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("epochs: 5\nbatch_size: 4\nmodel:\n  rnn_layers: 2\nfeatures:\n  kind: fbank\n")
    cfg, model, features, augment = train_deepspeech2.parse_args(
        ["--config", str(config), "--train", "t.tsv", "--batch-size", "8", "--progress", "false",
         "--conv-channels", "[16, 16]", "--feature-n-mels", "40"]
    )  # fmt: skip
    assert (cfg.epochs, cfg.batch_size, cfg.progress) == (5, 8, False)  # the command line wins over the file
    assert model == {"rnn_layers": 2, "conv_channels": (16, 16)}
    assert (features.kind, features.n_mels) == ("fbank", 40)
    assert dataclasses.asdict(augment) == dataclasses.asdict(type(augment)())


def test_assignments_become_typed_values():
    assert parse_assignments(["count=4", "name=hello", "sizes=[1, 2]"], _Demo) == {
        "count": 4,
        "name": "hello",
        "sizes": (1, 2),
    }
    with pytest.raises(SystemExit, match="--audio expects FIELD=VALUE"):
        parse_assignments(["colour=red"], _Demo, "--audio")


def test_parse_config_builds_the_dataclass():
    assert parse_config(_Demo, ["--count", "2"]) == _Demo(count=2)


def _tiny_model() -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return model, optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)


def test_a_train_step_changes_every_weight_and_steps_the_schedule():
    model, optimizer, scheduler = _tiny_model()
    before = [p.detach().clone() for p in model.parameters()]
    loss = model(torch.ones(4, 3)).pow(2).mean() + 1.0
    norm = train_step(loss, optimizer, scheduler, model.parameters(), grad_clip=0.01)
    assert norm is not None and float(norm) > 0.01  # the norm before clipping
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    # A second step starts from fresh gradients, not from the sum of both losses.
    loss = model(torch.ones(4, 3)).pow(2).mean()
    optimizer.zero_grad()
    loss.backward(retain_graph=True)
    expected = [p.grad.clone() for p in model.parameters()]
    train_step(loss, optimizer, scheduler, model.parameters(), grad_clip=0)
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), expected, strict=True))
    assert scheduler.get_last_lr() == [0.025]  # 0.1 halved once per step


def test_a_non_finite_gradient_skips_the_step():
    model, optimizer, scheduler = _tiny_model()
    before = [p.detach().clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = torch.full_like(p, float("nan"))
    norm = apply_gradients(optimizer, scheduler, model.parameters(), 1.0, skip_non_finite=True)
    assert norm is not None and not torch.isfinite(norm)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert scheduler.get_last_lr() == [0.1]


def test_nothing_outside_training_and_tests_imports_training():
    """The layering rule: training scripts sit on top; the app, models and benchmarks never need them."""
    import ast
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    offenders = []
    for folder in ("pipeline", "webapp", "models", "benchmarks", "scripts"):
        for path in sorted((repo / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                offenders += [f"{path.relative_to(repo)}: {n}" for n in names if n.split(".")[0] == "training"]
    assert offenders == []
