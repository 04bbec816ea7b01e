"""Neural network architectures, one file each (``deepspeech2.py``, ``tacotron.py``, …).

Each file opens with its config dataclass; checkpoints store ``state_dict`` + config and are
rebuilt from them. The default pipeline needs none of these: its models come from packages.
"""
