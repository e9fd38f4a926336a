import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import neuroconv as nc  # noqa: E402
from neuroconv.analysis import plot_accuracy_vs_timesteps, plot_raster  # noqa: E402


def test_plots_return_axes(demo_net, digits):
    x_train, x_test, _, _ = digits
    res = nc.convert(demo_net, timesteps=8, calibration_data=x_train).run(x_test[:2], device="reference",
                                                                          progress=False)
    ax = plot_raster(res, image=1)
    n_spikes = sum(len(line.get_xdata()) for line in ax.get_lines() if line.get_label() in res.layer_names)
    assert n_spikes == sum(c[1].sum() for c in res.spike_counts)
    fig, ax2 = plt.subplots()
    assert plot_accuracy_vs_timesteps([4, 8], [0.5, 0.9], 0.95, ax=ax2) is ax2
    plt.close("all")
