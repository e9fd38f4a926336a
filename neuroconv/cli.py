"""The ``neuroconv`` command line."""

from __future__ import annotations

import argparse
import sys

from .errors import NeuroconvError

EPILOG_DEMO = """examples:
  neuroconv demo                          # table for T = 4..64 on Brian2 runtime (numpy)
  neuroconv demo --out demo.json          # also write the numbers as JSON and demo.png
  neuroconv demo --device reference -T 8 32
"""


def _parser():
    from . import __version__

    parser = argparse.ArgumentParser(prog="neuroconv", description="Convert trained ANNs into Brian2 spiking networks.")
    parser.add_argument("--version", action="version", version=f"brian2-neuroconv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="convert the shipped digits MLP and run it in Brian2 for several T",
                          description="Convert a small MLP trained on scikit-learn's digits into IF neurons, run "
                                      "it in Brian2 for each T and print accuracy, loss and wall time.",
                          epilog=EPILOG_DEMO, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("-T", "--timesteps", type=int, nargs="+", default=None, metavar="T",
                      help="numbers of timesteps (default: 4 8 16 32 64)")
    demo.add_argument("--device", default="runtime", choices=["runtime", "cpp_standalone", "reference"],
                      help="where to simulate (default: runtime)")
    demo.add_argument("--out", default=None, metavar="JSON", help="write the results as JSON here")
    demo.add_argument("--figure", default=None, metavar="PNG",
                      help="write the figure here (default: next to --out, with .png)")
    demo.add_argument("--retrain", action="store_true", help="train the MLP again instead of loading the shipped one")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    from .figures import FIGURES

    figures = sub.add_parser("figures", help="regenerate the figures from real runs into a folder",
                             description="Run what each figure shows (digits data shipped with scikit-learn) and "
                                         "write one PNG per figure: " + ", ".join(FIGURES) + ".",
                             epilog="examples:\n  neuroconv figures --out figs\n"
                                    "  neuroconv figures --out figs --only one_spike misalignment --full\n",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    figures.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG files (created if missing)")
    figures.add_argument("--only", nargs="+", choices=list(FIGURES), metavar="NAME",
                         help=f"only these figures ({', '.join(FIGURES)})")
    figures.add_argument("--full", action="store_true", help="the benchmark-sized versions (minutes instead of ~1)")
    figures.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def _figures(args) -> int:
    from .figures import make_figures

    for path in make_figures(args.out, full=args.full, only=args.only, progress=not args.no_progress):
        print(f"wrote {path}")
    return 0


def _demo(args) -> int:
    from .demo import DEMO_TIMESTEPS, format_table, run_demo, save_figure, write_json

    timesteps = tuple(args.timesteps) if args.timesteps else DEMO_TIMESTEPS
    report, raster = run_demo(timesteps=timesteps, device=args.device, retrain=args.retrain,
                              progress=not args.no_progress)
    print(format_table(report))
    if args.out:
        write_json(report, args.out)
        print(f"wrote {args.out}")
    figure = args.figure or (args.out.rsplit(".", 1)[0] + ".png" if args.out else None)
    if figure:
        save_figure(report, raster, figure)
        print(f"wrote {figure}")
    return 0


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "figures":
            return _figures(args)
    except NeuroconvError as exc:
        print(f"neuroconv: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"neuroconv: error: {exc}", file=sys.stderr)
        return 2
    return 0  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
