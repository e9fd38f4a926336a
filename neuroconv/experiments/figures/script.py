"""The command line of the per-figure scripts in ``figures/*.py``: :func:`script_main`."""

from __future__ import annotations

from neuroconv.experiments.figures.plots import _plt
from neuroconv.experiments.figures.registry import FIGURES

__all__ = ["script_main"]


def script_main(name: str, description: str, argv=None, plot_report=None) -> str:
    """The command line of a ``figures/`` script: ``[REPORT.json] --out PNG [--full]``.

    With a report (JSON from the matching benchmark) and ``plot_report`` it only draws;
    otherwise it runs ``FIGURES[name]`` (figures not in FIGURES need the report).
    Prints and returns the path written.
    """
    import argparse
    import json
    import shutil
    import tempfile

    parser = argparse.ArgumentParser(description=description)
    if plot_report is not None:
        # figures whose benchmark needs optional data (torch, datasets) only draw a given report
        optional = "?" if name in FIGURES else None
        parser.add_argument("report", nargs=optional, help="JSON from the matching benchmark"
                            + (" (default: run it)" if optional else ""))
    parser.add_argument("--out", default=f"{name}.png")
    parser.add_argument("--full", action="store_true", help="the benchmark-sized version")
    args = parser.parse_args(argv)
    if getattr(args, "report", None):
        with open(args.report) as fh:
            drawn = plot_report(json.load(fh))
        fig = drawn if hasattr(drawn, "savefig") else drawn[0].figure
        fig.savefig(args.out, dpi=120)
        _plt().close(fig)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.move(FIGURES[name](tmp, full=args.full), args.out)
    print(args.out)
    return args.out
