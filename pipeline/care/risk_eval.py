"""``python -m pipeline.care.risk_eval``: the risk evaluation under the name issue 13 gave it.

The command itself lives in :mod:`pipeline.risk_eval`: measuring whole conversations builds a
``Pipeline``, so it belongs above ``turn``. This two-line entry keeps the documented name working
for scripts that already call it (the reviewers' among them). It is the one import from ``care``
up to the commands layer, listed by name in ``[tool.importlinter]`` so no other can slip in.
"""

from pipeline.risk_eval import main

if __name__ == "__main__":
    raise SystemExit(main())
