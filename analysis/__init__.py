"""Analysis of converted networks' runs: spike-train statistics (also across repeated trials), energy,
temporal misalignment, plots."""

from neuroconv.analysis.conversion_error import conversion_error, effective_activations
from neuroconv.analysis.energy import E_AC, E_MAC, EnergyEstimate, ann_macs, estimate_energy
from neuroconv.analysis.misalignment import (layerwise_run, misalignment_measures, permutation_experiment, permute_trains,
                           plot_cumulative_counts)
from neuroconv.analysis.neo_export import to_neo
from neuroconv.analysis.plotting import (plot_accuracy_vs_timesteps, plot_conversion_error, plot_cv_histogram, plot_misalignment,
                       plot_rate_histogram, plot_raster)
from neuroconv.analysis.stats import (ACROSS, AcrossArray, Trials, count_cv, cv, cv_per_neuron, fanofactor,
                                      first_spike_latency, firing_rates, isi, layer_windows, psth, run_trials,
                                      spike_trains, sttc)

__all__ = ["plot_raster", "plot_accuracy_vs_timesteps", "estimate_energy", "EnergyEstimate", "ann_macs",
           "E_AC", "E_MAC", "permutation_experiment", "layerwise_run", "permute_trains", "misalignment_measures",
           "plot_cumulative_counts", "spike_trains", "isi", "cv", "cv_per_neuron", "firing_rates", "fanofactor",
           "count_cv", "run_trials", "Trials", "AcrossArray", "ACROSS",
           "first_spike_latency", "sttc", "psth", "layer_windows", "conversion_error", "effective_activations",
           "plot_rate_histogram", "plot_cv_histogram", "plot_conversion_error", "plot_misalignment", "to_neo"]
