"""The command line: every command has help with examples, user errors exit 2 without a traceback, bench runs."""

import json

import pytest

from neuroconv import cli

COMMANDS = ["demo", "figures", "convert", "run", "sweep", "bench"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_examples(command, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"neuroconv {command}" in out


def test_top_level_help_lists_every_command(capsys):
    assert cli.main([]) == 2
    out = capsys.readouterr().out
    assert all(command in out for command in COMMANDS)


@pytest.mark.parametrize("argv, message", [
    (["run", "missing.npz"], "does not exist"),
    (["run", "x.npz", "--images", "0"], "--images must be >= 1"),
    (["convert", "builtin:digits_mlp", "--out", "o.npz", "--calibration", "mean"], "unknown calibration 'mean'"),
    (["convert", "builtin:digits_mlp", "--out", "o.npz", "--base", "1.2"], "--base applies to --neuron one_spike"),
    (["convert", "model.pt", "--out", "o.npz"], "does not exist"),
    (["sweep", "grid.toml", "--workers", "0"], "--workers must be >= 1"),
    (["bench", "--images", "0"], "--images must be >= 1"),
])
def test_user_errors_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuroconv: error:") and message in err and "Traceback" not in err


@pytest.mark.parametrize("argv, choice", [
    (["run", "net.npz", "--device", "gpu"], "gpu"),
    (["convert", "builtin:digits_mlp", "--out", "o.npz", "--neuron", "lif"], "lif"),
    # registered, but a model from Brian2 strings needs its strings: not a --neuron choice
    (["convert", "builtin:digits_mlp", "--out", "o.npz", "--neuron", "brian2"], "brian2"),
])
def test_unknown_option_is_an_argparse_error(argv, choice, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert f"invalid choice: '{choice}'" in capsys.readouterr().err


def test_convert_one_spike_T_is_the_window(capsys, tmp_path):
    import neuroconv as nc

    out = tmp_path / "os.npz"
    with pytest.warns(nc.NeuroconvWarning, match="window >= "):  # a short window, said with the numbers
        assert cli.main(["convert", "builtin:digits_mlp", "--out", str(out), "--neuron", "one_spike", "-T", "6",
                         "--base", "1.5", "--calibration-images", "200"]) == 0
    assert "T = 6 (12 timesteps per run)" in capsys.readouterr().out  # two spiking layers, one window each
    snn = nc.load_network(out)
    assert snn.neuron == nc.equations.OneSpike(base=1.5, window=6) and snn.timesteps == 6 and snn.run_steps == 12


def test_neuron_choices_come_from_the_registry(capsys, tmp_path):
    """A model registered by a plug-in is a --neuron choice, converts and saves under its name."""
    import dataclasses

    import neuroconv as nc
    from neuroconv.equations import IF, MODELS, register

    @dataclasses.dataclass(frozen=True)
    class HardResetIF(IF):
        reset: str = "zero"

    register("hard_if", HardResetIF)
    try:
        with pytest.raises(SystemExit):
            cli.main(["convert", "--help"])
        help_text = capsys.readouterr().out
        assert "--neuron {if,one_spike,tpp,hard_if}" in help_text  # registration order, "brian2" left out
        out = tmp_path / "hard.npz"
        assert cli.main(["convert", "builtin:digits_mlp", "--out", str(out), "--neuron", "hard_if", "-T", "8",
                         "--calibration-images", "200"]) == 0
        assert "HardResetIF network" in capsys.readouterr().out
        snn = nc.load_network(out)
        assert type(snn.neuron) is HardResetIF and snn.neuron.reset == "zero" and snn.timesteps == 8
    finally:
        MODELS.pop("hard_if", None)


def test_bench_prints_json_with_agreement(capsys, tmp_path):
    out = tmp_path / "bench.json"
    assert cli.main(["bench", "--devices", "reference", "runtime", "--images", "64", "-T", "8", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["devices"]) == {"reference", "runtime"}
    assert report["devices"]["runtime"]["agree"] is True and report["devices"]["runtime"]["images"] == 64
    assert json.loads(capsys.readouterr().out) == report
