"""Experiment sweeps on Dask: config validation before any task, a killed worker's cell recorded while every
other cell finishes, re-runs that complete only what is missing, and the CLI around it."""

import csv
import os
import sys
import textwrap

import numpy as np
import pytest

import neuroconv as nc
from neuroconv import cli
from neuroconv.experiments.sweep import COLUMNS, load_config, read_table, run_sweep

distributed = pytest.importorskip("distributed")

GOOD = """
[sweep]
output = "out/table.csv"
images = 60
calibration_images = 300
retries = 0

[grid]
model = ["builtin:digits_mlp"]
dataset = ["digits"]
neuron = ["if", "tpp", "fast_one_spike"]
timesteps = [4, 16]
seed = [0]

[neurons.fast_one_spike]
family = "one_spike"
base = 1.5
"""


def write(tmp_path, text, name="config.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_config_cells_and_stable_ids(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert len(cfg.cells) == 6 and cfg.output == str(tmp_path / "out" / "table.csv")
    assert {c["neuron"] for c in cfg.cells} == {"if", "tpp", "fast_one_spike"}
    assert cfg.neurons["fast_one_spike"] == {"family": "one_spike", "base": 1.5}
    # without a [neurons] table: every registered family that its name alone builds (not "brian2": strings)
    from neuroconv.equations import registered

    assert {"if", "tpp", "one_spike"} <= set(cfg.neurons) and "brian2" in registered() and "brian2" not in cfg.neurons
    assert all(cfg.neurons[name] == {"family": name} for name in registered() if name in cfg.neurons)
    assert os.path.exists(cfg.models["builtin:digits_mlp"])
    again = load_config(write(tmp_path, GOOD))  # the model is prepared again: same ids
    assert [c["cell_id"] for c in cfg.cells] == [c["cell_id"] for c in again.cells]
    assert len({c["cell_id"] for c in cfg.cells}) == 6
    # a named neuron's parameters are part of its cells' ids (a changed base runs again), not of the others'
    other = load_config(write(tmp_path, GOOD.replace("base = 1.5", "base = 1.3")), prepare_models=False)
    changed = {a["neuron"] for a, b in zip(cfg.cells, other.cells) if a["cell_id"] != b["cell_id"]}
    assert changed == {"fast_one_spike"}


@pytest.mark.parametrize("change, key, message", [
    (("neuron = [\"if\", \"tpp\", \"fast_one_spike\"]", "neuron = [\"if\", \"lif\"]"), "grid.neuron",
     "unknown neuron 'lif'"),
    (("timesteps = [4, 16]", "timesteps = [4, 0]"), "grid.timesteps", "must be an int >= 1, got 0"),
    (("dataset = [\"digits\"]", "dataset = [\"cifar10\"]"), "grid.dataset", "unknown dataset 'cifar10'"),
    (("dataset = [\"digits\"]", "dataset = []"), "grid.dataset", "is empty"),
    (("dataset = [\"digits\"]\n", ""), "grid.dataset", "missing"),
    (("seed = [0]", "seed = [0]\ncolour = [\"red\"]"), "grid.colour", "unknown key"),
    (("retries = 0", "retries = -1"), "sweep.retries", "must be an int >= 0"),
    (("images = 60", "images = \"all\""), "sweep.images", "must be an int >= 1"),
    (("seed = [0]", "seed = [0]\ndevice = [\"gpu\"]"), "grid.device", "unknown device 'gpu'"),
    (("seed = [0]", "seed = [0]\ncalibration = [\"median\"]"), "grid.calibration", "unknown calibration 'median'"),
    (("seed = [0]", "seed = [0]\ncalibration = [\"trained\"]"), "grid.calibration", "'trained' needs trained ReLU"),
    (("model = [\"builtin:digits_mlp\"]", "model = [\"missing.npz\"]"), "grid.model", "does not exist"),
    (("model = [\"builtin:digits_mlp\"]", "model = [\"builtin:resnet\"]"), "grid.model", "unknown builtin model"),
    (("base = 1.5", "base = 0.5"), "neurons.fast_one_spike", "base must be > 1"),
    (("base = 1.5", "base = 1.5\nwindow = 8"), "neurons.fast_one_spike", "T comes from grid.timesteps.*'window'"),
    (("family = \"one_spike\"\nbase = 1.5", "family = \"tpp\"\ntimesteps = 8"), "neurons.fast_one_spike",
     "leave 'timesteps' out"),
    (("family = \"one_spike\"\nbase = 1.5", "family = \"tpp\"\nphase = 8"), "neurons.fast_one_spike",
     r"tpp has no parameter\(s\) \['phase'\]"),
    (("family = \"one_spike\"\nbase = 1.5", "family = \"brian2\""), "neurons.fast_one_spike", "missing"),
    (("neuron = [\"if\", \"tpp\", \"fast_one_spike\"]", "neuron = [\"brian2\"]"), "grid.neuron",
     "unknown neuron 'brian2'"),
    (("family = \"one_spike\"", "family = \"hodgkin_huxley\""), "neurons.fast_one_spike",
     "unknown neuron family 'hodgkin_huxley'"),
    (("family = \"one_spike\"", "family = \"lif\""), "neurons.fast_one_spike", "lif has no parameter"),
    (("output = \"out/table.csv\"", "output = \"out/table.parquet\""), "sweep.output", "is a .csv file"),
])
def test_bad_configs_are_rejected_with_the_key_named(tmp_path, change, key, message):
    old, new = change
    assert old in GOOD
    with pytest.raises(nc.NeuroconvError, match=message) as info:
        load_config(write(tmp_path, GOOD.replace(old, new)))
    assert repr(key) in str(info.value)


def test_model_and_dataset_shapes_must_match(tmp_path):
    from neuroconv import ann

    net = ann.Sequential([ann.Dense(np.ones((3, 5))), ann.ReLU(), ann.Dense(np.ones((2, 3)))], input_shape=(5,))
    ann.save_npz(net, tmp_path / "small.npz")
    with pytest.raises(nc.NeuroconvError, match=r"'grid.model'.*takes inputs of shape \(5,\) but dataset 'digits'"):
        load_config(write(tmp_path, GOOD.replace('"builtin:digits_mlp"', '"small.npz"')))


def test_bad_config_on_the_command_line_exits_2_without_traceback(tmp_path, capsys):
    path = write(tmp_path, GOOD.replace("timesteps = [4, 16]", "timesteps = [0]"))
    assert cli.main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuroconv: error: config key 'grid.timesteps'") and "Traceback" not in err
    assert cli.main(["sweep", str(tmp_path / "absent.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing ran, no table


class KillWorkerOnCell(distributed.WorkerPlugin):
    """Kills the worker process 0.3 s after it starts executing one chosen cell (mid-run: a Brian2
    runtime cell takes longer; the worker has reported its previous cells by then)."""

    def __init__(self, cell_id):
        self.cell_id = cell_id

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and self.cell_id in str(key):
            import threading

            threading.Timer(0.3, os._exit, (1,)).start()


def test_killed_worker_fails_one_cell_others_finish_rerun_completes_only_it(tmp_path):
    import dask
    from distributed import Client, LocalCluster

    path = write(tmp_path, GOOD.replace("seed = [0]", "seed = [0]\ndevice = [\"runtime\"]").replace("images = 60",
                                                                                                   "images = 300"))
    cfg = load_config(path)
    victim = cfg.cells[3]["cell_id"]
    # as run_sweep's own cluster: one cell per worker at a time; a cell whose worker dies is not retried
    with dask.config.set({"distributed.scheduler.allowed-failures": 0, "distributed.scheduler.worker-saturation": 1.0}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            import cloudpickle

            cloudpickle.register_pickle_by_value(sys.modules[__name__])
            client.register_plugin(KillWorkerOnCell(victim), name="kill")
            report = run_sweep(cfg, client=client, progress=False, figure=False)
    assert report.cells == 6 and report.ok == 5 and report.skipped == 0
    assert [r["cell_id"] for r in report.failed] == [victim]
    assert "KilledWorker" in report.failed[0]["error"]
    rows = read_table(cfg.output)
    assert list(rows[0]) == COLUMNS
    by_id = {r["cell_id"]: r for r in rows}
    assert by_id[victim]["status"] == "failed"
    assert all(r["status"] == "ok" and float(r["accuracy"]) > 0 for i, r in by_id.items() if i != victim)
    assert {r["worker"] for i, r in by_id.items() if i != victim} <= {w for w in {r["worker"] for r in rows}}

    # the re-run (its own LocalCluster, 2 workers, no fault) runs only the failed cell
    again = run_sweep(path, workers=2, progress=False)
    assert (again.skipped, again.ok, again.failed) == (5, 1, [])
    rows = read_table(cfg.output)
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows)
    assert again.figure and os.path.getsize(again.figure) > 0
    # the cells agree with a direct run: IF at T=16 on the first 300 test digits
    row = next(r for r in rows if r["neuron"] == "if" and r["timesteps"] == "16")
    data = nc.datasets.load("digits")
    from neuroconv.experiments.demo import shipped_digits_mlp

    snn = nc.convert(shipped_digits_mlp(), timesteps=16, calibration_data=data.x_train[:300])
    direct = snn.run(data.x_test[:300], device="reference", progress=False).accuracy(data.y_test[:300])
    assert float(row["accuracy"]) == pytest.approx(direct)
    # nothing left: a third run does nothing
    assert run_sweep(path, progress=False, figure=False).skipped == 6


def test_saved_network_round_trip_and_cli(tmp_path, capsys):
    out = tmp_path / "net.npz"
    assert cli.main(["convert", "builtin:digits_mlp", "--out", str(out), "--neuron", "tpp", "-T", "8"]) == 0
    snn = nc.load_network(out)
    # T is the phase; the run (two spiking layers) takes two phases
    assert type(snn.neuron).__name__ == "TPP" and snn.neuron.timesteps == 8 and snn.timesteps == 8
    assert snn.run_steps == 16
    assert cli.main(["run", str(out), "--dataset", "digits", "--device", "reference", "--images", "50",
                     "--seed", "1", "--out", str(tmp_path / "run.json"), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and (tmp_path / "run.json").exists()
    # a file that is not a network, and one holding a pickle, are refused
    assert cli.main(["run", str(tmp_path / "run.json")]) == 2
    np.save(tmp_path / "evil.npy", np.array([object()], dtype=object))
    np.savez(tmp_path / "evil.npz", x=np.array([object()], dtype=object))
    with pytest.raises(nc.NeuroconvError, match="never loads pickles"):
        nc.load_network(tmp_path / "evil.npz")
    nc.ann.save_npz(nc.ann.Sequential([nc.ann.Dense(np.ones((2, 3)))], input_shape=(3,)), tmp_path / "ann.npz")
    with pytest.raises(nc.NeuroconvError, match="holds an ANN: convert it first"):
        nc.load_network(tmp_path / "ann.npz")
    assert cli.main(["convert", "builtin:digits_mlp", "--out", str(out), "-T", "0"]) == 2
    assert cli.main(["convert", "nothing.onnx", "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["if", "tpp", "one_spike", "spikes_readout"])
def test_save_then_load_runs_identically(demo_net, digits, tmp_path, kind):
    from neuroconv.equations import TPP, OneSpike

    x_train, x_test = digits[0], digits[1][:80]
    kwargs = {"if": dict(timesteps=12, per_channel=True), "tpp": dict(neuron=TPP(unbiased=True), timesteps=6),
              "one_spike": dict(neuron=OneSpike(base=1.3, window=10)),
              "spikes_readout": dict(timesteps=16, readout="spikes", method=99.0)}[kind]
    with pytest.warns() if kind == "one_spike" else _nothing():
        snn = nc.convert(demo_net, calibration_data=x_train, **kwargs)
    back = nc.load_network(snn.save(tmp_path / "net"))
    assert back.timesteps == snn.timesteps and back.readout == snn.readout and back.neuron == snn.neuron
    for a, b in zip(snn.thresholds, back.thresholds):
        np.testing.assert_array_equal(a, b)
    ra = snn.run(x_test, device="reference", seed=2, progress=False)
    rb = back.run(x_test, device="reference", seed=2, progress=False)
    np.testing.assert_array_equal(ra.output, rb.output)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_table_is_plain_csv_with_versions(tmp_path):
    cfg = load_config(write(tmp_path, GOOD.replace('neuron = ["if", "tpp", "fast_one_spike"]', 'neuron = ["if"]')))
    from neuroconv.experiments.sweep import run_cell

    row = run_cell(cfg.cells[0], cfg.models["builtin:digits_mlp"], cfg.neurons["if"])
    assert row["status"] == "ok" and row["worker"] == "local" and row["brian2"] and row["neuroconv"]
    assert row["cell_s"] >= row["run_s"] > 0
    from neuroconv.experiments.sweep import _write_rows

    _write_rows(cfg.output, [row], "a")
    with open(cfg.output, newline="") as fh:
        (back,) = list(csv.DictReader(fh))
    assert back["cell_id"] == row["cell_id"] and float(back["accuracy"]) == pytest.approx(row["accuracy"])


def test_one_spike_cell_takes_T_as_its_window(tmp_path, digits):
    """grid.timesteps reaches convert as T for every family: One-Spike's window, no special case."""
    import warnings

    from neuroconv.equations import OneSpike
    from neuroconv.experiments.demo import shipped_digits_mlp
    from neuroconv.experiments.sweep import run_cell

    cfg = load_config(write(tmp_path, GOOD))
    cell = next(c for c in cfg.cells if c["neuron"] == "fast_one_spike" and c["timesteps"] == 4)
    row = run_cell(cell, cfg.models["builtin:digits_mlp"], cfg.neurons["fast_one_spike"])
    data = nc.datasets.load("digits")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeuroconvWarning)
        snn = nc.convert(shipped_digits_mlp(), neuron=OneSpike(base=1.5), timesteps=4,
                         calibration_data=data.x_train[:300])
    assert snn.neuron.window == 4 and row["latency_steps"] == snn.run_steps == 8  # two windows of T
    direct = snn.run(data.x_test[:60], device="reference", progress=False)
    assert row["accuracy"] == pytest.approx(direct.accuracy(data.y_test[:60]))


BRIAN2_IF = """
[neurons.strings_if]
family = "brian2"
name = "strings_if"
equations = '''
dv/dt = (I + b) / dt : 1
I : 1
b : 1 (constant)
theta : 1 (constant)
'''
threshold = "v >= theta"
reset = "v -= theta"
method = "euler"
initial_v = 0.5
"""


def test_config_takes_a_model_from_brian2_strings(tmp_path):
    """A [neurons] table of the "brian2" family (its strings): checked like any neuron, then run on Brian2
    (the reference simulator has no step function for it), where it is the IF neuron it spells out."""
    text = GOOD.replace('neuron = ["if", "tpp", "fast_one_spike"]', 'neuron = ["if", "strings_if"]').replace(
        "timesteps = [4, 16]", "timesteps = [8]").replace("images = 60", "images = 20") + BRIAN2_IF
    cfg = load_config(write(tmp_path, text))
    assert cfg.neurons["strings_if"]["family"] == "brian2" and len(cfg.cells) == 2
    from neuroconv.experiments.sweep import run_cell

    rows = [run_cell(dict(c, device="runtime"), cfg.models["builtin:digits_mlp"], cfg.neurons[c["neuron"]])
            for c in cfg.cells]
    assert rows[0]["device"] == rows[1]["device"] == "runtime" and rows[0]["accuracy"] > 0.8
    assert rows[0]["accuracy"] == rows[1]["accuracy"] and rows[0]["spikes_per_image"] == rows[1]["spikes_per_image"]
    with pytest.raises(nc.NeuroconvError, match="'neurons.strings_if'"):
        load_config(write(tmp_path, text.replace('threshold = "v >= theta"', 'threshold = "v >= nothing"')),
                    prepare_models=False)


def test_check_writes_nothing(tmp_path, capsys):
    """``--check`` validates and counts, and leaves no file behind, also with --output elsewhere."""
    path = write(tmp_path, GOOD)
    elsewhere = tmp_path / "elsewhere" / "t.csv"
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert cli.main(["sweep", str(path), "--check"]) == 0
    assert cli.main(["sweep", str(path), "--check", "--output", str(elsewhere)]) == 0
    assert "valid; 6 cells" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_near_silent_cell_is_marked_and_keeps_its_warning(tmp_path):
    """One-Spike with a 2-step window: the network barely fires; the row says so (status 'silent', the range
    warning in the warning column) instead of an ok with an empty error column."""
    from neuroconv.experiments.sweep import run_cell
    from neuroconv.experiments.sweep.runner import SweepReport

    text = GOOD.replace("timesteps = [4, 16]", "timesteps = [2, 16]").replace("base = 1.5", "base = 1.1")
    cfg = load_config(write(tmp_path, text))
    short = next(c for c in cfg.cells if c["neuron"] == "fast_one_spike" and c["timesteps"] == 2)
    row = run_cell(short, cfg.models["builtin:digits_mlp"], cfg.neurons["fast_one_spike"])
    assert row["spikes_per_image"] < 1 and row["status"] == "silent"
    assert row["warning"].startswith("near-silent:") and "window >= " in row["warning"]
    fine = next(c for c in cfg.cells if c["neuron"] == "if" and c["timesteps"] == 16)
    ok = run_cell(fine, cfg.models["builtin:digits_mlp"], cfg.neurons["if"])
    assert ok["status"] == "ok" and ok["warning"] == ""
    text = SweepReport(table="t.csv", cells=2, skipped=0, ok=2, failed=[], wall_s=1.0, silent=[row]).summary()
    assert "1 of them near-silent" in text and f"silent {row['cell_id']}" in text
