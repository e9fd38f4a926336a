"""Figure: conversion error (neuroconv.figures.figure_conversion_error; see its module docstring for what it shows).

    python figures/conversion_error.py --out conversion_error.png [--full]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile

from neuroconv.figures import figure_conversion_error


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="conversion_error.png")
    parser.add_argument("--full", action="store_true", help="all 540 test digits instead of 100")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.move(figure_conversion_error(tmp, full=args.full), args.out)
    print(args.out)


if __name__ == "__main__":
    main()
