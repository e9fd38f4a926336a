"""Figure: statistics (neuroconv.figures.figure_statistics; see its module docstring for what it shows).

    python figures/statistics.py --out statistics.png [--full]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile

from neuroconv.figures import figure_statistics


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="statistics.png")
    parser.add_argument("--full", action="store_true", help="all 540 test digits instead of 100")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.move(figure_statistics(tmp, full=args.full), args.out)
    print(args.out)


if __name__ == "__main__":
    main()
