"""The command line of the per-figure scripts in ``figures/*.py``: :func:`script_main`."""

from __future__ import annotations

from neuroconv.experiments.figures import style
from neuroconv.experiments.figures.registry import ALIASES, FIGURES

__all__ = ["script_main"]


def script_main(name: str, description: str, argv=None, plot_report=None) -> str:
    """The command line of a ``figures/`` script: ``[REPORT.json] --out PNG [--full] [--format png pdf svg]``.

    With a report (JSON from the matching benchmark) and ``plot_report`` it only draws;
    otherwise it runs ``FIGURES[name]``. ``--out``'s format is always written, ``--format`` adds
    others beside it (same name). Prints and returns the path of ``--out``.
    """
    import argparse
    import json
    import os
    import shutil
    import tempfile

    name = ALIASES.get(name, name)
    parser = argparse.ArgumentParser(description=description)
    if plot_report is not None:
        # figures whose benchmark needs optional data (torch, datasets) only draw a given report
        optional = "?" if name in FIGURES else None
        parser.add_argument("report", nargs=optional, help="JSON from the matching benchmark"
                            + (" (default: run it)" if optional else ""))
    parser.add_argument("--out", default=f"{name}.png", help="the figure (its extension is its format)")
    parser.add_argument("--format", nargs="+", default=[], choices=list(style.FORMATS), metavar="FMT",
                        help="also write these formats beside --out (png, pdf, svg)")
    parser.add_argument("--full", action="store_true", help="the benchmark-sized version")
    args = parser.parse_args(argv)
    stem, ext = os.path.splitext(args.out)
    ext = ext.lstrip(".").lower() or "png"
    formats = [ext] + [f for f in args.format if f != ext]
    if getattr(args, "report", None):
        with open(args.report) as fh:
            drawn = plot_report(json.load(fh))
        fig = drawn if hasattr(drawn, "savefig") else drawn[0].figure
        style.save(fig, args.out, formats=formats)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for path in FIGURES[name](tmp, full=args.full, formats=tuple(formats)):
                shutil.move(path, stem + os.path.splitext(path)[1])
    print(args.out)
    return args.out
