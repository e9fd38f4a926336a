"""The package's own error type."""

__all__ = ["NeuroconvError"]


class NeuroconvError(ValueError):
    """Invalid input to neuroconv: the message names the layer or parameter and says what to do.

    A subclass of :class:`ValueError`, so ``except ValueError`` keeps working.
    """
