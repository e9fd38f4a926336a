"""Analysis of converted networks' runs: plots and energy; statistics and misalignment to come."""

from .energy import E_AC, E_MAC, EnergyEstimate, ann_macs, estimate_energy
from .plotting import plot_accuracy_vs_timesteps, plot_raster

__all__ = ["plot_raster", "plot_accuracy_vs_timesteps", "estimate_energy", "EnergyEstimate", "ann_macs",
           "E_AC", "E_MAC"]
