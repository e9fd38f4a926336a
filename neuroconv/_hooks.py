"""How neuroconv's errors and warnings reach the user of a script or of the command line.

Brian2 replaces ``sys.excepthook`` when it is imported: every uncaught exception prints its banner
"Brian 2 encountered an unexpected error. If you think this is a bug in Brian 2, please report ...".
A :class:`~neuroconv.errors.NeuroconvError` is a clear message about the user's input, not a bug in
Brian2, so :func:`install_excepthook` shows it the way Python shows any error (the traceback ending in
the one-line message) and hands every other exception to Brian2's hook unchanged.
"""

from __future__ import annotations

import contextlib
import sys
import warnings

from neuroconv.errors import NeuroconvError, NeuroconvWarning

__all__ = ["install_excepthook", "plain_warnings"]


def _neuroconv_excepthook(exc_type, exc, tb, _next=None):
    if isinstance(exc_type, type) and issubclass(exc_type, NeuroconvError):
        return sys.__excepthook__(exc_type, exc, tb)
    return (_next or sys.__excepthook__)(exc_type, exc, tb)


def install_excepthook() -> None:
    """Put neuroconv's hook in front of the current ``sys.excepthook`` (Brian2's, once Brian2 is imported)."""
    current = sys.excepthook
    if getattr(current, "_neuroconv", False):
        return

    def hook(exc_type, exc, tb):
        return _neuroconv_excepthook(exc_type, exc, tb, _next=current)

    hook._neuroconv = True
    sys.excepthook = hook


@contextlib.contextmanager
def plain_warnings(prog: str = "neuroconv"):
    """On the command line: print a :class:`NeuroconvWarning` as ``neuroconv: warning: <message>`` where
    Brian2 routes warnings through its logger (``logging.captureWarnings``), which would print a log record
    quoting our source line; other warnings, and warnings someone else records, keep their handler."""
    import logging

    previous = warnings.showwarning
    if previous is not getattr(logging, "_showwarning", None):  # not Brian2's routing (e.g. a test recording them)
        yield
        return

    def show(message, category, filename, lineno, file=None, line=None):
        if isinstance(category, type) and issubclass(category, NeuroconvWarning):
            print(f"{prog}: warning: {message}", file=sys.stderr if file is None else file)
        else:
            previous(message, category, filename, lineno, file=file, line=line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous
