"""Figure: statistics (neuroconv.figures.figure_statistics; the module docstring says what it shows).

    python figures/statistics.py --out statistics.png [--full]
"""

from neuroconv.experiments.figures import script_main

if __name__ == "__main__":
    script_main("statistics", __doc__.split("\n")[0])
