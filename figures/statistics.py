"""Figure: statistics (neuroconv.experiments.figures.registry.figure_statistics, described in its module).

    python figures/statistics.py --out statistics.png [--full]
"""

from neuroconv.experiments.figures import script_main

if __name__ == "__main__":
    script_main("statistics", __doc__.split("\n")[0])
