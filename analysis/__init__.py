"""Analysis of converted networks' spikes: plots now; statistics, misalignment and energy to come."""

from .plotting import plot_accuracy_vs_timesteps, plot_raster

__all__ = ["plot_raster", "plot_accuracy_vs_timesteps"]
