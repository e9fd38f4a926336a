"""The figures, each from real runs: ``neuroconv figures --out DIR`` writes them all.

One module per job (``neuroconv.figures`` is the old name of this package and still imports):

- :mod:`~neuroconv.experiments.figures.runners`: the experiments, each returning a JSON-able
  report dict (:func:`one_spike_sweep`, :func:`misalignment_report`, :func:`measure_run`,
  :func:`deep_digits_mlp`); the benchmarks in ``benchmarks/`` run them at full size.
- :mod:`~neuroconv.experiments.figures.style`: the one figure style (palette, sizes, fonts, panel
  letters, :func:`~neuroconv.experiments.figures.style.save` in PNG/PDF/SVG) every figure uses.
- :mod:`~neuroconv.experiments.figures.plots`: the plotters, each taking a report and returning
  the Axes or Figure it drew (``plot_*``).
- :mod:`~neuroconv.experiments.figures.registry`: the figure set, :data:`FIGURES` (name to
  ``figure_*`` function, one per README figure, each writing it in the requested formats) and :func:`make_figures`.
- :mod:`~neuroconv.experiments.figures.script`: :func:`script_main`, the command line of the
  per-figure scripts in ``figures/*.py``.

Runners and plotters do not import the registry; the registry imports both, the script the registry.
"""

from neuroconv.experiments.figures import style
from neuroconv.experiments.figures.plots import (plot_accuracy_report, plot_dynamics_report, plot_lowlatency_report, plot_misalignment_report,
                                                 plot_one_spike_tradeoff, plot_reliability_report, plot_timesteps_report)
from neuroconv.experiments.figures.registry import (ALIASES, BENCHMARK_FIGURES, FIGURES, figure_conversion_error,
                                                    figure_demo, figure_misalignment, figure_one_spike,
                                                    figure_statistics, make_figures)
from neuroconv.experiments.figures.runners import deep_digits_mlp, measure_run, misalignment_report, one_spike_sweep
from neuroconv.experiments.figures.script import script_main

__all__ = ["FIGURES", "ALIASES", "BENCHMARK_FIGURES", "make_figures", "figure_demo", "figure_one_spike",
           "figure_misalignment", "figure_statistics", "figure_conversion_error", "deep_digits_mlp", "measure_run",
           "one_spike_sweep", "misalignment_report", "plot_one_spike_tradeoff", "plot_timesteps_report",
           "plot_lowlatency_report", "plot_misalignment_report", "plot_reliability_report", "plot_dynamics_report",
           "plot_accuracy_report",
           "script_main", "style"]
