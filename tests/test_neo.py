"""neo export: elephant's statistics on the exported trains equal ours (skipped without the neo extra)."""

import numpy as np
import pytest
from brian2 import ms

import neuroconv as nc
from neuroconv.analysis import cv, isi, spike_trains, to_neo

neo = pytest.importorskip("neo", reason="the neo extra is not installed")
elephant_stats = pytest.importorskip("elephant.statistics", reason="elephant is not installed")


def test_export_and_elephant_agree(demo_net, digits):
    snn = nc.convert(demo_net, timesteps=32, calibration_data=digits[0])
    res = snn.run(digits[1][:3], device="reference", progress=False)
    trains = to_neo(res, "layer1", image=2)
    ours = spike_trains(res, "layer1", image=2)
    assert len(trains) == 32 and trains[5].name == "layer1[5]" and trains[5].annotations["image"] == 2
    assert float(trains[0].t_stop.rescale("ms")) == 32.0
    checked = 0
    for exported, own in zip(trains, ours):
        np.testing.assert_allclose(exported.rescale("ms").magnitude, np.asarray(own / ms))
        if len(own) >= 3:
            np.testing.assert_allclose(elephant_stats.isi(exported).rescale("ms").magnitude, np.asarray(isi(own) / ms))
            assert elephant_stats.cv(elephant_stats.isi(exported)) == pytest.approx(cv(own))
            checked += 1
    assert checked > 5
    rate = elephant_stats.mean_firing_rate(trains[1]).rescale("Hz").magnitude
    assert rate == pytest.approx(res.spike_counts[1][2, 1] / 0.032)
