"""The package's own error type."""

__all__ = ["NeuroconvError", "NeuroconvWarning"]


class NeuroconvError(ValueError):
    """Invalid input to neuroconv: the message names the layer or parameter and says what to do.

    A subclass of :class:`ValueError`, so ``except ValueError`` keeps working.
    """


class NeuroconvWarning(UserWarning):
    """A setting that works but loses something (e.g. a window too short for the data's range); the message has the numbers."""
