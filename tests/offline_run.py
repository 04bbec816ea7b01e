"""Run ``python -m pipeline`` with the network cut off: any socket use is logged and refused.

Usage: python tests/offline_run.py LOGFILE COMMAND [ARGS...]
"""

from __future__ import annotations

import socket
import sys


def main() -> int:
    log_path, argv = sys.argv[1], sys.argv[2:]

    def refuse(*args, **kwargs):
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"network use: {args!r}\n")
        raise OSError("network disabled for this test")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]
    socket.getaddrinfo = refuse  # type: ignore[assignment]

    from pipeline.__main__ import main as pipeline_main

    return pipeline_main(argv)


if __name__ == "__main__":
    sys.exit(main())
