"""Input checks shared by the public API: real numeric arrays and a memory budget.

The memory budget is ``$NEUROCONV_MAX_MEMORY`` (bytes, or with a suffix: ``"8G"``,
``"512M"``) or half of this machine's physical memory. Work whose inputs, connectivity or
results would not fit is refused before it starts, with the numbers and what to change.
"""

from __future__ import annotations

import os

import numpy as np

from neuroconv.errors import NeuroconvError

__all__ = ["real_array", "memory_budget", "require_memory", "MAX_TIMESTEPS", "check_input_range", "check_seed"]

#: Longest run accepted (timesteps per inference); longer ones are almost certainly a mistake
#: (1e6 steps of 1 ms are 17 minutes of simulated time per image).
MAX_TIMESTEPS = 1_000_000

_SUFFIXES = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def real_array(value, what: str) -> np.ndarray:
    """``value`` as a float64 array; refuses text, objects and complex numbers (whose imaginary
    part numpy would silently drop) with a message naming ``what``."""
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise NeuroconvError(f"{what} must be a numeric array ({exc}).") from None
    if raw.dtype.kind not in "biuf":
        kind = {"c": "complex numbers", "U": "text", "S": "bytes", "O": "Python objects"}.get(raw.dtype.kind,
                                                                                              str(raw.dtype))
        raise NeuroconvError(f"{what} must be a real numeric array, got {kind} (dtype {raw.dtype}).")
    return raw.astype(np.float64, copy=False)


def memory_budget() -> int:
    """Bytes the package may use for one piece of work (see the module docstring)."""
    text = os.environ.get("NEUROCONV_MAX_MEMORY", "").strip()
    if text:
        scale = _SUFFIXES.get(text[-1].upper(), 1)
        number = text[:-1] if text[-1].upper() in _SUFFIXES else text
        try:
            value = float(number) * scale
        except ValueError:
            value = -1.0
        if not value > 0:
            raise NeuroconvError(f"NEUROCONV_MAX_MEMORY={text!r}: use a number of bytes, e.g. 8G or 512M.")
        return int(value)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) // 2
    except (AttributeError, ValueError, OSError):  # pragma: no cover - non-POSIX
        return 8 * 2**30


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the system has one)."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def require_memory(nbytes: float, what: str, advice: str) -> None:
    """Refuse ``what`` when it needs more than the memory budget; ``advice`` says what to change."""
    budget = memory_budget()
    if nbytes > budget:
        raise NeuroconvError(f"{what} needs about {_size(nbytes)}, over the memory budget of {_size(budget)} "
                             f"(NEUROCONV_MAX_MEMORY); {advice}")


def _size(nbytes: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{int(nbytes)} bytes"


#: How far outside the calibration range an input may reach, in units of that range's width.
RANGE_MARGIN = 2.0


def check_input_range(input_range, x, where="x"):
    """Refuse inputs far outside the calibration inputs' range (a different scale: 0-255 against [0, 1]),
    before anything runs. ``input_range`` is ``(low, high)`` or None (no check)."""
    if input_range is None or x.size == 0:
        return
    low, high = (float(v) for v in input_range)
    width = max(high - low, abs(high), abs(low), 1e-12)
    x_low, x_high = float(np.min(x)), float(np.max(x))
    if x_high <= high + RANGE_MARGIN * width and x_low >= low - RANGE_MARGIN * width:
        return
    hint = ""
    if x_high > 20 * max(high, 1e-12) and high <= 1.0 and x_high <= 255.0 and x_low >= 0:
        hint = " (8-bit images? divide them by 255 as the calibration data was)"
    raise NeuroconvError(
        f"{where} spans [{x_low:g}, {x_high:g}], far outside the range of the calibration data "
        f"[{low:g}, {high:g}] the thresholds were set on: scale the inputs the same way{hint}, or pass "
        "check_range=False to run them anyway.")


def check_seed(seed) -> None:
    """A seed is None or an int in [0, 2**64) (numpy ints too, bools not)."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or not 0 <= seed < 2**64):
        raise NeuroconvError(f"seed must be an int in [0, 2**64) or None, got {seed!r}.")
