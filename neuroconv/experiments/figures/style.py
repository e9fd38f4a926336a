"""One figure style for every figure of the package: palette, sizes, fonts, panel letters, saving.

- :data:`PALETTE`: the Okabe-Ito colours without its yellow, plus Tol's wine (colour-blind safe;
  every colour has a contrast ratio of at least 2 against white, see :func:`contrast_ratio`).
- :data:`FAMILY`: one fixed colour and marker per neuron family, the same in every figure.
- :data:`ONE_COLUMN` / :data:`TWO_COLUMN`: figure widths in inches (3.5 and 7.2, journal columns).
- :func:`apply` sets matplotlib's rcParams (fonts, lines, no top/right spines, 300 dpi PNG,
  embedded TrueType fonts in PDF); :func:`context` does it inside a ``with`` block only.
- :func:`panel_letters` writes bold a, b, c... at the top-left of each panel.
- :func:`log2_axis` makes a log-2 axis with plain numbers as ticks (4, 8, 16, not 2^2, 2^3, 2^4).
- :func:`save` writes a figure in every requested format (PNG at 300 dpi; PDF and SVG vector).

matplotlib is imported on first use, with the non-interactive Agg backend.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["PALETTE", "FAMILY", "ANN", "ONE_COLUMN", "TWO_COLUMN", "FONT_SIZE", "SMALL_FONT_SIZE", "PANEL_FONT_SIZE",
           "DPI", "FORMATS", "RC", "apply", "context", "figure", "panel_letters", "log2_axis", "save", "color",
           "contrast_ratio", "relative_luminance", "plt"]

# Okabe & Ito (2008), "Color universal design"; the yellow (#F0E442, contrast 1.3 on white) is left out.
PALETTE = ("#0072B2",  # blue
           "#D55E00",  # vermillion
           "#009E73",  # bluish green
           "#CC79A7",  # reddish purple
           "#E69F00",  # orange
           "#56B4E9",  # sky blue
           "#882255",  # wine (Paul Tol's palette: a seventh line colour that is not black)
           "#000000")  # black

# neuron families: the same colour and marker in every figure (markers keep them apart in grey print)
FAMILY = {
    "IF": {"color": "#0072B2", "marker": "o"},
    "IF permuted": {"color": "#E69F00", "marker": "s"},
    "TPP": {"color": "#D55E00", "marker": "^"},
    "TPP unbiased": {"color": "#CC79A7", "marker": "v"},
    "One-Spike": {"color": "#009E73", "marker": "D"},
    "LIF": {"color": "#56B4E9", "marker": "P"},
}
ANN = {"color": "0.35", "ls": ":", "lw": 1.0}  # the ANN's accuracy: a dotted grey reference line

ONE_COLUMN = 3.5  # inches
TWO_COLUMN = 7.2
FONT_SIZE = 8.0  # points: labels
SMALL_FONT_SIZE = 7.0  # ticks, legends, annotations
PANEL_FONT_SIZE = 10.0  # panel letters
DPI = 300  # PNG
FORMATS = ("png", "pdf", "svg")

RC = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": FONT_SIZE,
    "axes.labelsize": FONT_SIZE,
    "axes.titlesize": FONT_SIZE,
    "xtick.labelsize": SMALL_FONT_SIZE,
    "ytick.labelsize": SMALL_FONT_SIZE,
    "legend.fontsize": SMALL_FONT_SIZE,
    "legend.frameon": False,
    "legend.handlelength": 1.8,
    "axes.linewidth": 0.7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.4,
    "lines.linewidth": 1.3,
    "lines.markersize": 3.5,
    "errorbar.capsize": 2.0,
    "xtick.major.width": 0.7,
    "ytick.major.width": 0.7,
    "xtick.major.size": 3.0,
    "ytick.major.size": 3.0,
    "savefig.dpi": DPI,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "figure.dpi": 100,
    "pdf.fonttype": 42,  # TrueType in PDF (editable text, accepted by journals)
    "ps.fonttype": 42,
    "svg.fonttype": "none",  # text stays text
}


def plt():
    """``matplotlib.pyplot`` with the Agg backend (the figures are written to files, never shown)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    return pyplot


def apply() -> None:
    """Set the style's rcParams globally (and the palette as the colour cycle)."""
    import matplotlib
    from cycler import cycler

    plt()
    matplotlib.rcParams.update(RC)
    matplotlib.rcParams["axes.prop_cycle"] = cycler(color=list(PALETTE))


@contextlib.contextmanager
def context():
    """``with context(): ...``: the style inside the block only (rcParams restored afterwards)."""
    import matplotlib
    from cycler import cycler

    plt()
    with matplotlib.rc_context({**RC, "axes.prop_cycle": cycler(color=list(PALETTE))}):
        yield


def color(k: int) -> str:
    """The k-th colour of :data:`PALETTE` (cycling)."""
    return PALETTE[k % len(PALETTE)]


def figure(nrows: int = 1, ncols: int = 1, width: float = TWO_COLUMN, height: float | None = None, **kwargs):
    """``plt.subplots`` at a column width (inches) with constrained layout; ``height`` defaults to 0.62 * width
    per row for one column and 2.6 in per row for two."""
    if height is None:
        height = (0.62 * width if width <= ONE_COLUMN else 2.6) * nrows
    kwargs.setdefault("constrained_layout", True)
    kwargs.setdefault("squeeze", False)
    return plt().subplots(nrows, ncols, figsize=(width, height), **kwargs)


def panel_letters(axes, letters: str = "abcdefghijklmnopqrstuvwxyz", x: float = -0.02, y: float = 1.02,
                  size: float = PANEL_FONT_SIZE) -> list:
    """Bold panel letters a, b, c... at the top-left corner (outside) of each Axes, in the order given
    (an array of Axes is read row by row; hidden Axes get none). Returns the Text objects."""
    import numpy as np

    flat = [ax for ax in np.ravel(np.asarray(axes, dtype=object)) if ax is not None and ax.get_visible()]
    texts = []
    for letter, ax in zip(letters, flat):
        texts.append(ax.text(x, y, letter, transform=ax.transAxes, fontsize=size, fontweight="bold",
                             ha="right", va="bottom", gid="panel_letter"))
    return texts


def log2_axis(ax, ticks, axis: str = "x") -> None:
    """A log-2 axis whose ticks are the given values written as plain numbers (no 2^k, no minor ticks)."""
    from matplotlib.ticker import NullLocator

    ticks = sorted({float(t) for t in ticks})
    if axis == "x":
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_locator(NullLocator())
    else:
        ax.set_yscale("log", base=2)
        ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
        ax.yaxis.set_minor_locator(NullLocator())


def save(fig, stem_path, formats=("png", "pdf"), close: bool = True) -> list:
    """Write ``fig`` as ``stem_path.<format>`` for every format (png at 300 dpi; pdf, svg vector).

    A known extension on ``stem_path`` is dropped (``x.png`` and ``x`` write the same files).
    Returns the paths written, in the order of ``formats``; closes the figure unless ``close=False``.
    """
    from neuroconv.errors import NeuroconvError

    formats = [formats] if isinstance(formats, str) else list(formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise NeuroconvError(f"formats: {bad or formats} not supported; choose from {list(FORMATS)}.")
    stem = os.fspath(stem_path)
    root, ext = os.path.splitext(stem)
    if ext.lstrip(".").lower() in FORMATS:
        stem = root
    folder = os.path.dirname(stem)
    if folder:
        os.makedirs(folder, exist_ok=True)
    paths = []
    for fmt in dict.fromkeys(formats):
        path = f"{stem}.{fmt}"
        metadata = {"Software": None} if fmt == "png" else ({"Creator": None, "Producer": None, "CreationDate": None}
                                                            if fmt == "pdf" else {"Date": None})
        fig.savefig(path, format=fmt, dpi=DPI, metadata=metadata)
        paths.append(path)
    if close:
        plt().close(fig)
    return paths


def relative_luminance(colour) -> float:
    """WCAG relative luminance of a matplotlib colour (0 black, 1 white)."""
    from matplotlib.colors import to_rgb

    def lin(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in to_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(colour, background="white") -> float:
    """WCAG contrast ratio of two colours (1 = none, 21 = black on white)."""
    a, b = sorted((relative_luminance(colour), relative_luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)
