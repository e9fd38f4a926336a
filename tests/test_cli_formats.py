"""Model files from other frameworks on the command line and in sweep configs: a real PyTorch model exported
to .onnx and a real .nir file (written with the nir package), read by ``neuroconv convert`` and named in a
sweep config whose cells run. Both paths once failed at import (ModuleNotFoundError) before reading a byte."""

import json
import shutil
import textwrap
import warnings

import numpy as np
import pytest

import neuroconv as nc
from neuroconv import cli

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
nir = pytest.importorskip("nir")


@pytest.fixture(scope="module")
def mlp():
    """The shipped digits MLP (64-64-32-10, trained) and the digits data."""
    from neuroconv.experiments.demo import shipped_digits_mlp

    return shipped_digits_mlp(), nc.datasets.load("digits")


def _dense(net):
    return [layer for layer in net.layers if type(layer).__name__ == "Dense"]


@pytest.fixture(scope="module")
def onnx_file(mlp, tmp_path_factory):
    """The MLP as a PyTorch model (its trained weights), exported by torch.onnx.export."""
    net, _ = mlp
    layers = []
    for k, dense in enumerate(_dense(net)):
        linear = torch.nn.Linear(dense.weight.shape[1], dense.weight.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(dense.weight))
            linear.bias.copy_(torch.tensor(dense.bias))
        layers += [linear] if k == len(_dense(net)) - 1 else [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers).eval()
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice (no onnxscript here)
        torch.onnx.export(model, torch.zeros(1, 64), str(path), dynamo=False, input_names=["image"],
                          output_names=["logits"])
    return path


@pytest.fixture(scope="module")
def nir_file(mlp, tmp_path_factory):
    """The MLP as a NIR graph of IF neurons (thresholds: the max activations on 300 training images),
    built with the nir package and written with nir.write; returns the path and the thresholds."""
    net, data = mlp
    thetas = [float(t) for t in nc.calibrate(net, data.x_train[:300], method="max")]
    dense = _dense(net)
    nodes = {"input": nir.Input(input_type={"input": np.array([64])})}
    edges, previous, scale = [], "input", 1.0
    for k, layer in enumerate(dense):
        # NIR spikes are unit events: the weights out of a spiking layer carry its threshold
        nodes[f"fc{k}"] = nir.Affine(weight=layer.weight * scale, bias=layer.bias.copy())
        edges.append((previous, f"fc{k}"))
        n = layer.weight.shape[0]
        if k < len(dense) - 1:
            nodes[f"if{k}"] = nir.IF(r=np.ones(n), v_threshold=np.full(n, thetas[k]), v_reset=np.zeros(n))
            edges.append((f"fc{k}", f"if{k}"))
            previous, scale = f"if{k}", thetas[k]
        else:
            nodes["readout"] = nir.I(r=np.ones(n))
            edges.append((f"fc{k}", "readout"))
    nodes["output"] = nir.Output(output_type={"output": np.array([10])})
    edges.append(("readout", "output"))
    path = tmp_path_factory.mktemp("nir") / "model.nir"
    nir.write(str(path), nir.NIRGraph(nodes=nodes, edges=edges))
    return path, thetas


def test_files_import_as_the_model_they_hold(mlp, onnx_file, nir_file):
    net, data = mlp
    from_onnx, from_nir = nc.ann.from_onnx(onnx_file), nc.ann.from_nir(nir_file[0])
    for imported in (from_onnx, from_nir):
        for a, b in zip(_dense(imported), _dense(net)):
            np.testing.assert_allclose(a.weight, b.weight, rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(a.bias, b.bias, rtol=1e-6, atol=1e-6)
    assert [layer.threshold for layer in from_nir.layers if type(layer).__name__ == "ReLU"] == \
        pytest.approx(nir_file[1])
    assert np.mean(from_onnx.predict(data.x_test) == net.predict(data.x_test)) == 1.0
    assert np.mean(from_nir.predict(data.x_test) == net.predict(data.x_test)) > 0.99  # NIR's clip at theta


def test_convert_onnx_file_as_in_the_help_then_run(mlp, onnx_file, tmp_path, capsys):
    net, data = mlp
    out = tmp_path / "net.npz"
    # the --help example: neuroconv convert model.onnx --dataset ... --neuron tpp -T 8 --out net.npz
    assert cli.main(["convert", str(onnx_file), "--dataset", "digits", "--neuron", "tpp", "-T", "8",
                     "--calibration-images", "300", "--out", str(out)]) == 0
    assert "TPP network, 2 spiking layer(s)" in capsys.readouterr().out
    snn = nc.load_network(out)
    assert type(snn.neuron).__name__ == "TPP" and snn.timesteps == 8 and snn.run_steps == 16
    direct = nc.convert(net, neuron=nc.equations.TPP(), timesteps=8, calibration_data=data.x_train[:300])
    for a, b in zip(snn.thresholds, direct.thresholds):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    report = tmp_path / "run.json"
    assert cli.main(["run", str(out), "--dataset", "digits", "--device", "reference", "--images", "100",
                     "--seed", "0", "--out", str(report), "--no-progress"]) == 0
    numbers = json.loads(report.read_text())
    assert numbers["timesteps"] == 8 and numbers["run_steps"] == 16 and numbers["accuracy"] > 0.8


def test_convert_nir_file_with_its_thresholds(nir_file, tmp_path, capsys):
    path, thetas = nir_file
    out = tmp_path / "net.npz"
    assert cli.main(["convert", str(path), "--calibration", "trained", "-T", "16", "--out", str(out)]) == 0
    assert "IF network" in capsys.readouterr().out
    snn = nc.load_network(out)
    assert snn.timesteps == 16 and [float(np.max(t)) for t in snn.thresholds] == pytest.approx(thetas)
    data = nc.datasets.load("digits")
    res = snn.run(data.x_test[:100], device="reference", progress=False)
    assert res.accuracy(data.y_test[:100]) > 0.85


def test_missing_or_unknown_model_files_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("absent.onnx", "absent.nir"):
        assert cli.main(["convert", name, "--out", "o.npz"]) == 2
        assert "does not exist" in capsys.readouterr().err
    (tmp_path / "broken.onnx").write_bytes(b"not a protobuf")
    assert cli.main(["convert", "broken.onnx", "--out", "o.npz"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuroconv: error:") and "Traceback" not in err and "ModuleNotFound" not in err


CONFIG = """
[sweep]
output = "results/table.csv"
images = 40
calibration_images = 300
retries = 0
figure = false

[grid]
model = ["model.onnx", "model.nir"]
dataset = ["digits"]
neuron = ["if", "one_spike"]
timesteps = [8]
device = ["reference"]
"""


def test_sweep_config_naming_onnx_and_nir_files(mlp, onnx_file, nir_file, tmp_path):
    distributed = pytest.importorskip("distributed")
    from neuroconv.experiments.sweep import load_config, read_table, run_sweep

    net, data = mlp
    shutil.copy(onnx_file, tmp_path / "model.onnx")
    shutil.copy(nir_file[0], tmp_path / "model.nir")
    config = tmp_path / "sweep.toml"
    config.write_text(textwrap.dedent(CONFIG))
    cfg = load_config(config, prepare_models=True)
    assert len(cfg.cells) == 4 and set(cfg.models) == {"model.onnx", "model.nir"}
    for ref, prepared in cfg.models.items():  # prepared once by the driver, as .npz
        assert prepared.endswith(".npz") and len(_dense(nc.ann.from_npz(prepared))) == 3
    # an in-process cluster: the cells run in a worker thread, no worker process to start
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        report = run_sweep(cfg, client=client, progress=False)
    assert (report.ok, report.failed) == (4, [])
    rows = {(r["model"], r["neuron"]): r for r in read_table(cfg.output)}
    assert all(r["status"] == "ok" and float(r["ann_accuracy"]) > 0.9 for r in rows.values())
    # the ONNX IF cell is the direct conversion of the same weights
    direct = nc.convert(nc.ann.from_onnx(onnx_file), timesteps=8, calibration_data=data.x_train[:300])
    acc = direct.run(data.x_test[:40], device="reference", progress=False).accuracy(data.y_test[:40])
    assert float(rows["model.onnx", "if"]["accuracy"]) == pytest.approx(acc)
    # T is One-Spike's window (2 spiking layers: 2 windows of 8 steps), IF's run length
    assert [rows[m, "one_spike"]["latency_steps"] for m in ("model.onnx", "model.nir")] == ["16", "16"]
    assert [rows[m, "if"]["latency_steps"] for m in ("model.onnx", "model.nir")] == ["8", "8"]

    # the NIR file's thresholds serve 'trained' calibration; the ONNX model has none
    trained = CONFIG.replace('device = ["reference"]', 'device = ["reference"]\ncalibration = ["trained"]')
    config.write_text(textwrap.dedent(trained.replace('"model.onnx", "model.nir"', '"model.nir"')))
    assert len(load_config(config, prepare_models=False).cells) == 2
    config.write_text(textwrap.dedent(trained))
    with pytest.raises(nc.NeuroconvError, match="'grid.calibration'.*'model.onnx'"):
        load_config(config, prepare_models=False)
