import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import neuroconv as nc  # noqa: E402
from neuroconv.analysis import plot_accuracy_vs_timesteps, plot_raster  # noqa: E402


def test_plots_return_axes(demo_net, digits):
    x_train, x_test, _, _ = digits
    res = nc.convert(demo_net, timesteps=8, calibration_data=x_train).run(x_test[:2], device="reference",
                                                                          progress=False)
    ax = plot_raster(res, image=1)
    n_spikes = sum(len(line.get_xdata()) for line in ax.get_lines() if line.get_label() in res.layer_names)
    assert n_spikes == sum(c[1].sum() for c in res.spike_counts)
    assert ax.get_ylabel() == "neuron index (layers stacked)" and ax.get_xlabel() == "time (ms)"
    sizes = [c.shape[1] for c in res.spike_counts]  # ticks: 0 and each layer's last neuron
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0"] + [str(n - 1) for n in sizes]
    assert [t.get_text() for t in ax.texts] == res.layer_names  # layer names at the right
    assert ax.figure.get_size_inches()[0] == pytest.approx(3.5)  # one column
    fig, ax2 = plt.subplots()
    assert plot_accuracy_vs_timesteps([4, 8, 64], [0.5, 0.9, 0.95], 0.95, ax=ax2) is ax2
    fig.canvas.draw()
    assert [t.get_text() for t in ax2.get_xticklabels()] == ["4", "8", "64"]  # plain numbers, not 2^k
    plt.close("all")


def test_analysis_plots_return_axes(demo_net, digits):
    from neuroconv.analysis import (misalignment_measures, plot_conversion_error, plot_cv_histogram,
                                    plot_misalignment, plot_rate_histogram)

    x_train, x_test = digits[0], digits[1][:20]
    snn = nc.convert(demo_net, timesteps=16, calibration_data=x_train)
    res = snn.run(x_test, device="reference", progress=False)
    ax = plot_rate_histogram(res)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == res.layer_names
    ax = plot_cv_histogram(res, layer=1)
    assert ax.get_title() == ""  # no titles: panels combine into paper figures; the count is a corner note
    assert any("trains with >= 3 spikes" in t.get_text() for t in ax.texts)
    ax = plot_conversion_error(snn, res, x_test, layer=0)
    assert ax.get_title() == "" and ax.texts[0].get_text().startswith("layer0: MAE")
    n_points = len(ax.get_lines()[0].get_xdata())
    assert n_points == 20 * 64
    ax = plot_misalignment(misalignment_measures(snn, res))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["layer0", "layer1"]
    plt.close("all")
