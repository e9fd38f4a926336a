"""What every benchmark script shares: the command that ran it, and printing/writing its JSON."""

from __future__ import annotations

import json
import platform
import shlex
import sys


def command(argv=None) -> str:
    """The command line as typed (``argv`` when main() was called with arguments)."""
    return shlex.join(["python", sys.argv[0]] + list(sys.argv[1:] if argv is None else argv))


def machine() -> dict:
    return {"python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine()}


def emit(report: dict, out=None) -> None:
    """Print the report as JSON and, with ``out``, write the same text there."""
    text = json.dumps(report, indent=1)
    print(text)
    if out:
        with open(out, "w") as fh:
            fh.write(text + "\n")
